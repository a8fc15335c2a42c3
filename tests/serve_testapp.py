"""Serve the resource test service in a process of its own: ``python -m tests.serve_testapp PORT``.

Settings come from the environment (``CLIQUET_STORAGE_URL``...), as in production.
"""

import sys

import waitress
from pyramid.config import Configurator

import cliquet


def make_app():
    config = Configurator(settings={"cliquet.userid_hmac_secret": "test-secret"})
    cliquet.initialize(config, "0.0.1")
    config.scan("tests.resource.testapp")
    return config.make_wsgi_app()


if __name__ == "__main__":
    waitress.serve(make_app(), host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
