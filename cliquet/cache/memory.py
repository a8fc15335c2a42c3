"""In-process cache: the default backend, for development and tests.

Data lives in the process, so it is lost on restart and not shared between
workers. Values are kept JSON-serialized, which both hands out copies and
rejects the values a networked backend would reject.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from pyramid.config import Configurator

from cliquet.cache import CacheBase

__all__ = ["Cache", "load_from_config"]

# Expired keys are dropped when read; a sweep every so many writes bounds the
# memory held by keys that are written once and never read again.
_SWEEP_EVERY_WRITES = 1024


class Cache(CacheBase):
    """Thread-safe in-memory cache with lazy expiry on a monotonic clock."""

    def __init__(self, *, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self._lock = threading.RLock()
        self._values: dict[str, str] = {}
        self._deadlines: dict[str, float] = {}
        self._writes = 0

    def __repr__(self) -> str:
        return f"<cliquet.cache.memory.Cache prefix={self.prefix!r} keys={len(self._values)}>"

    def _alive(self, full_key: str, now: float) -> bool:
        """Whether ``full_key`` exists, dropping it if its deadline passed. Hold the lock."""
        if full_key not in self._values:
            return False
        deadline = self._deadlines.get(full_key)
        if deadline is not None and deadline <= now:
            del self._values[full_key]
            del self._deadlines[full_key]
            return False
        return True

    def _sweep(self, now: float) -> None:
        for full_key in [k for k, deadline in self._deadlines.items() if deadline <= now]:
            self._values.pop(full_key, None)
            del self._deadlines[full_key]

    def initialize_schema(self) -> None:
        """Nothing to create in memory."""

    def flush(self) -> None:
        with self._lock:
            for full_key in [k for k in self._values if k.startswith(self.prefix)]:
                del self._values[full_key]
                self._deadlines.pop(full_key, None)

    def ttl(self, key: str) -> int:
        full_key = self.prefix + key
        with self._lock:
            now = time.monotonic()
            if not self._alive(full_key, now) or full_key not in self._deadlines:
                return -1
            return math.ceil(self._deadlines[full_key] - now)

    def expire(self, key: str, ttl: float) -> None:
        full_key = self.prefix + key
        with self._lock:
            now = time.monotonic()
            if self._alive(full_key, now):
                self._deadlines[full_key] = now + ttl

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        # Serialize outside the lock: it is the slow part and raises TypeError
        # for non-JSON values before anything is changed.
        serialized = json.dumps(value)
        full_key = self.prefix + key
        with self._lock:
            now = time.monotonic()
            self._values[full_key] = serialized
            if ttl is None:
                self._deadlines.pop(full_key, None)
            else:
                self._deadlines[full_key] = now + ttl
            self._writes += 1
            if self._writes % _SWEEP_EVERY_WRITES == 0:
                self._sweep(now)

    def get(self, key: str) -> Any:
        full_key = self.prefix + key
        with self._lock:
            if not self._alive(full_key, time.monotonic()):
                return None
            serialized = self._values[full_key]
        return json.loads(serialized)

    def delete(self, key: str) -> None:
        full_key = self.prefix + key
        with self._lock:
            self._values.pop(full_key, None)
            self._deadlines.pop(full_key, None)


def load_from_config(config: Configurator) -> Cache:
    """Build the cache from ``cliquet.cache_prefix`` (default ``""``)."""
    settings = config.get_settings()
    return Cache(cache_prefix=settings.get("cliquet.cache_prefix", "") or "")
