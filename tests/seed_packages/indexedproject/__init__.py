"""A service using the seed's ``IndexedResource`` as its resources' base class."""

from pyramid.config import Configurator

import cliquet


def main(global_config, **settings):
    config = Configurator(settings=settings)

    cliquet.initialize(config, "0.0.1")
    config.include("cliquet_indexing")
    config.scan("indexedproject.views")

    return config.make_wsgi_app()
