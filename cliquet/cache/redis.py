"""Redis cache: values JSON-encoded under ``{cache_prefix}{key}``, expiry kept by Redis.

Several services may share one Redis: each gives itself a ``cliquet.cache_prefix``, and
:meth:`Cache.flush` deletes only the keys under it (never ``FLUSHDB``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, cast

import redis
from pyramid.config import Configurator

from cliquet.cache import CacheBase, CacheError
from cliquet.redis_client import client_settings, create_client, glob_escape, translate_errors

__all__ = ["Cache", "load_from_config"]

# Keys deleted per DEL while flushing, and asked of each SCAN step.
_BATCH = 500


def _milliseconds(ttl: float) -> int:
    """A ttl in seconds as Redis's milliseconds (PX, PEXPIRE): 0 when not positive.

    Not ``EX``/``EXPIRE``: they take whole seconds, and refuse a ttl of 0.5 or drop it to
    0. A positive ttl below a millisecond becomes one, not 0, which would expire the key at
    once or be refused.
    """
    if ttl <= 0:
        return 0
    return max(1, round(ttl * 1000))


class Cache(CacheBase):
    """Cache on a Redis client (see :func:`cliquet.redis_client.create_client`)."""

    def __init__(self, client: redis.Redis, *, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self.client = client

    def __repr__(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"<cliquet.cache.redis.Cache server={where!r} prefix={self.prefix!r}>"

    def initialize_schema(self) -> None:
        """Redis needs no schema."""

    def flush(self) -> None:
        pattern = glob_escape(self.prefix) + "*"
        with translate_errors(CacheError):
            batch: list[str] = []
            for full_key in self.client.scan_iter(match=pattern, count=_BATCH):
                batch.append(full_key)
                if len(batch) == _BATCH:
                    self.client.delete(*batch)
                    batch = []
            if batch:
                self.client.delete(*batch)

    def ttl(self, key: str) -> int:
        with translate_errors(CacheError):
            # PTTL rather than TTL: Redis rounds TTL to the nearest second, the contract up.
            milliseconds = int(self.client.pttl(self.prefix + key))
        # -2: no such key, -1: no expiry; 0: expiring right now.
        if milliseconds <= 0:
            return -1
        return math.ceil(milliseconds / 1000)

    def expire(self, key: str, ttl: float) -> None:
        with translate_errors(CacheError):
            # Redis deletes the key at once when the ttl is zero.
            self.client.pexpire(self.prefix + key, _milliseconds(ttl))

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        # Serialize first: TypeError for non-JSON values, before anything is written.
        serialized = json.dumps(value)
        full_key = self.prefix + key
        with translate_errors(CacheError):
            if ttl is None:
                self.client.set(full_key, serialized)
            elif ttl > 0:
                self.client.set(full_key, serialized, px=_milliseconds(ttl))
            else:
                # SET refuses PX 0; a value expiring at once is no value.
                self.client.delete(full_key)

    def get(self, key: str) -> Any:
        with translate_errors(CacheError):
            serialized = cast("str | None", self.client.get(self.prefix + key))
        return None if serialized is None else json.loads(serialized)

    def delete(self, key: str) -> None:
        with translate_errors(CacheError):
            self.client.delete(self.prefix + key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        if not keys:
            return {}
        with translate_errors(CacheError):
            values = cast("list[str | None]", self.client.mget([self.prefix + k for k in keys]))
        return {
            key: None if serialized is None else json.loads(serialized)
            for key, serialized in zip(keys, values, strict=True)
        }

    def delete_many(self, keys: Iterable[str]) -> None:
        full_keys = [self.prefix + key for key in keys]
        with translate_errors(CacheError):
            for start in range(0, len(full_keys), _BATCH):
                self.client.delete(*full_keys[start : start + _BATCH])


def load_from_config(config: Configurator) -> Cache:
    """Build the cache from ``cliquet.cache_url`` and ``cliquet.cache_prefix``.

    Pool settings: ``cliquet.cache_pool_size``, ``cliquet.cache_pool_timeout_seconds`` (see
    :func:`cliquet.redis_client.client_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a Redis URL.
    """
    settings = config.get_settings()
    client = create_client(**client_settings(settings, "cache"))
    return Cache(client, cache_prefix=settings.get("cliquet.cache_prefix", "") or "")
