"""Small helpers shared across the runtime."""

from __future__ import annotations

import time
from typing import Any

from cliquet.errors import ERRORS
from cliquet.json_body import InvalidJSON, loads

__all__ = ["msec_time", "json_value"]


def msec_time() -> int:
    """Current time in integer epoch milliseconds (the unit of ``last_modified``)."""
    return time.time_ns() // 1_000_000


def json_value(value: str) -> Any:
    """Read a querystring value as JSON where it is JSON (``1``, ``true``), else as text.

    ``NaN`` and ``Infinity`` are not JSON: they stay text.

    :raises cliquet.json_body.InvalidJSON: JSON holding a value bodies may not hold either
        (an integer past 64 bits, ``1e400``, an escaped lone surrogate...).
    """
    try:
        return loads(value)
    except InvalidJSON as e:
        if e.errno == ERRORS.BADJSON:
            return value
        raise
