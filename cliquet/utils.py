"""Small helpers shared across the runtime."""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["msec_time", "json_value"]


def msec_time() -> int:
    """Current time in integer epoch milliseconds (the unit of ``last_modified``)."""
    return time.time_ns() // 1_000_000


def json_value(value: str) -> Any:
    """Read a querystring value as JSON where it parses (``1``, ``true``), else as text."""
    try:
        return json.loads(value)
    except ValueError:
        return value
