"""gunicorn's settings for production.ini, read by `gunicorn --paste production.ini`.

gunicorn takes this file from the current directory; `pserve production.ini` names it in its
[server:main]. PORT and WEB_CONCURRENCY are the usual knobs of hosting platforms.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# The application is built once, in the master, before the workers are forked: a missing or
# wrong setting stops gunicorn with one line (cliquet.startup) instead of a traceback from
# every worker, and the workers share the loaded code. The backends connect lazily, and
# connections opened while building (cliquet.migrate_on_startup) are not shared with workers.
preload_app = True
# Workers share nothing but the databases: add more, or more machines, to scale out.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# What one client may hold. A sync worker serves one connection at a time, start to end: a
# slow client holds a worker, which is why a buffering reverse proxy stands in front (README).
timeout = 30  # seconds a worker may spend on one request before it is restarted
graceful_timeout = 30
keepalive = 2  # seconds an idle keep-alive connection is kept (behind the proxy)
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
