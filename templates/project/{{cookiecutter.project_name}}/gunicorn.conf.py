"""gunicorn's settings for production.ini, read by `gunicorn --paste production.ini`.

gunicorn takes this file from the current directory; `pserve production.ini` names it in its
[server:main]. PORT and WEB_CONCURRENCY are the usual knobs of hosting platforms.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Workers share nothing but the databases: add more, or more machines, to scale out.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
