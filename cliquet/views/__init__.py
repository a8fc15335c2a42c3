"""The service views every cliquet service has, and the JSON error views."""

from __future__ import annotations

from typing import Any

# Public as cliquet.make_service; the views of cliquet import it from here.
from cliquet import make_service

__all__ = ["make_service", "includeme"]


def includeme(config: Any) -> None:
    from cliquet.views import batch, client, errors, service

    service.includeme(config)
    batch.includeme(config)
    client.includeme(config)
    errors.includeme(config)
