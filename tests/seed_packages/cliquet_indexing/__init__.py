"""The seed's indexing extension (ecosystem.rst, "Adding features"), as written."""

DEFAULT_BACKEND = "cliquet_indexing.elasticsearch"


def includeme(config):
    settings = config.get_settings()
    backend = settings.get("cliquet.indexing_backend", DEFAULT_BACKEND)
    indexer = config.maybe_dotted(backend)

    # Store indexer instance in registry.
    config.registry.indexer = indexer.load_from_config(config)

    # Activate end-points.
    config.scan("cliquet_indexing.views")
