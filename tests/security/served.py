"""The resource test service as a PasteDeploy application (``use = call:...``), memory backends.

Served by the ``[server:main]`` of the generated project's ``development.ini`` in
``test_raw_http.py``.
"""

from pyramid.config import Configurator

import cliquet
from cliquet.testing.web import TEST_SETTINGS


def make_app(global_config, **settings):
    config = Configurator(settings={**TEST_SETTINGS, **settings})
    cliquet.initialize(config, "0.0.1")
    config.scan("tests.resource.testapp")
    return config.make_wsgi_app()
