"""Serve the resource test service in a process of its own: ``python -m tests.serve_testapp PORT``.

Settings come from the environment (``CLIQUET_STORAGE_URL``...), as in production. It is
served as a generated project serves itself (``cliquet.server``): waitress's own answers to
malformed HTTP are JSON errors too.
"""

import logging
import sys

from pyramid.config import Configurator

import cliquet
from cliquet.server import create_server


def make_app():
    config = Configurator(settings={"cliquet.userid_hmac_secret": "test-secret"})
    cliquet.initialize(config, "0.0.1")
    config.scan("tests.resource.testapp")
    return config.make_wsgi_app()


if __name__ == "__main__":
    # "Task queue depth is N": every load test has requests waiting for a thread.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    create_server(make_app(), host="127.0.0.1", port=int(sys.argv[1]), threads=4).run()
