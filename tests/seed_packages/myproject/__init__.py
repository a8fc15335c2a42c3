"""The seed's service ``main()``, as written."""

from pyramid.config import Configurator

import cliquet


def main(global_config, **settings):
    config = Configurator(settings=settings)

    cliquet.initialize(config, "0.0.1")
    config.scan("myproject.views")

    config.include("cliquet_elasticsearch")

    return config.make_wsgi_app()
