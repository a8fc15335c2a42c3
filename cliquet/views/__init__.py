"""The service views every cliquet service has, and the JSON error views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyramid.security import NO_PERMISSION_REQUIRED

# Public as cliquet.make_service; the views of cliquet import it from here.
from cliquet import make_service

__all__ = ["add_open_services", "make_service", "includeme"]


def add_open_services(
    config: Any, method: str, services: Iterable[tuple[Any, ...]]
) -> None:
    """Register endpoints that answer ``method`` to anyone (no permission required), each
    ``(name, path, view, description)`` a service of :func:`make_service` (a fifth item: the
    ``media_type`` of its answers, JSON otherwise)."""
    for name, path, view, description, *media_type in services:
        kwargs = {"media_type": media_type[0]} if media_type else {}
        service = make_service(config, name, path, description=description, **kwargs)
        service.add_view(method, view, permission=NO_PERMISSION_REQUIRED)
        config.add_cornice_service(service)


def includeme(config: Any) -> None:
    from cliquet.views import batch, client, errors, service

    service.includeme(config)
    batch.includeme(config)
    client.includeme(config)
    errors.includeme(config)
