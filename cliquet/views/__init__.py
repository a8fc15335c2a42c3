"""The service views every cliquet service has, and the JSON error views."""

from __future__ import annotations

from typing import Any

from cornice import Service

__all__ = ["make_service", "includeme"]


def make_service(config: Any, name: str, path: str, **kwargs: Any) -> Service:
    """A Cornice ``Service`` with the CORS policy of the settings.

    Built at start-up (never at import time) so that ``cliquet.cors_origins`` applies.
    """
    settings = config.get_settings()
    kwargs.setdefault("cors_origins", tuple(settings["cliquet.cors_origins"]))
    kwargs.setdefault("cors_max_age", settings["cliquet.cors_max_age_seconds"])
    return Service(name=name, path=path, **kwargs)


def includeme(config: Any) -> None:
    from cliquet.views import batch, errors, service

    service.includeme(config)
    batch.includeme(config)
    errors.includeme(config)
