"""The seed's configuration example: an extension with its own defaults."""

from pyramid.settings import asbool

import cliquet

DEFAULT_SETTINGS = {"cliquet_elasticsearch.refresh_enabled": False}


def includeme(config):
    cliquet.load_default_settings(config, DEFAULT_SETTINGS)
    settings = config.get_settings()

    refresh_enabled = settings["cliquet_elasticsearch.refresh_enabled"]
    config.registry.refresh_enabled = asbool(refresh_enabled)

    config.add_route("es_status", "/es-status")
    config.add_view(
        lambda request: {"refresh_enabled": request.registry.refresh_enabled},
        route_name="es_status",
        renderer="json",
    )
    config.add_api_capability(
        "elasticsearch", description="Index records", url="https://example.org/es"
    )
