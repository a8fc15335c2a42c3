"""The service views every cliquet service has, and the JSON error views."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyramid.security import NO_PERMISSION_REQUIRED

# Public as cliquet.make_service; the views of cliquet import it from here.
from cliquet import make_service

__all__ = ["add_open_services", "make_service", "includeme"]


def add_open_services(
    config: Any, method: str, services: Iterable[tuple[str, str, Callable[..., Any], str]]
) -> None:
    """Register endpoints that answer ``method`` to anyone (no permission required), each
    ``(name, path, view, description)`` a service of :func:`make_service`."""
    for name, path, view, description in services:
        service = make_service(config, name, path, description=description)
        service.add_view(method, view, permission=NO_PERMISSION_REQUIRED)
        config.add_cornice_service(service)


def includeme(config: Any) -> None:
    from cliquet.views import batch, client, errors, service

    service.includeme(config)
    batch.includeme(config)
    client.includeme(config)
    errors.includeme(config)
