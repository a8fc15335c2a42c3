"""{{ cookiecutter.description }}

Enable it in a service's ``.ini``::

    cliquet.cache_backend = {{ cookiecutter.package_name }}.cache
    cliquet.cache_url = {{ cookiecutter.__slug }}://localhost:6379

:class:`Cache` implements the seven methods of :class:`cliquet.cache.CacheBase`, with the
same signatures and no docstrings of their own: each inherits the contract's
(``help(Cache.ttl)`` shows it), so that the documentation cannot drift from the runtime.
``tests/test_cache.py`` checks both and runs cliquet's conformance suite.

It starts over :class:`FakeClient`, an in-process stand-in with the calls a real client has.
Swap in the real library where the ``REAL CLIENT`` comments say, and keep the suite green.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from cliquet.cache import CacheBase, CacheError
from pyramid.config import Configurator

__all__ = ["Cache", "FakeClient", "load_from_config"]

# Where the server is when ``cliquet.cache_url`` is not set.
DEFAULT_URL = "{{ cookiecutter.__slug }}://localhost"

# REAL CLIENT: the exceptions of the real library (connection lost, timeout, server error).
CLIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)


class FakeClient:
    """In-process stand-in for a key/value server client: strings with expiry deadlines.

    REAL CLIENT: delete this class and build the library's client in
    :func:`load_from_config`. Its calls are those most clients have: ``get``, ``set`` (with
    an expiry in milliseconds), ``delete``, ``pexpire``, ``pttl`` and ``scan``.
    """

    def __init__(self, host: str = "localhost", port: int | None = None) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._data: dict[str, tuple[str, float | None]] = {}

    def __repr__(self) -> str:
        return f"<FakeClient {self.host}:{self.port}>"

    def _entry(self, key: str) -> tuple[str, float | None] | None:
        """The live entry of ``key``, dropping it when expired. Hold the lock."""
        entry = self._data.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= time.monotonic():
            del self._data[key]
            return None
        return entry

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entry(key)
            return None if entry is None else entry[0]

    def set(self, key: str, value: str, px: int | None = None) -> None:
        """Store ``value``; ``px`` is its time to live in milliseconds (None: forever)."""
        deadline = None if px is None else time.monotonic() + px / 1000
        with self._lock:
            self._data[key] = (value, deadline)

    def delete(self, *keys: str) -> int:
        with self._lock:
            return sum(self._data.pop(key, None) is not None for key in keys)

    def pexpire(self, key: str, px: int) -> bool:
        """Give an existing ``key`` a time to live in milliseconds; False when it is absent."""
        with self._lock:
            entry = self._entry(key)
            if entry is None:
                return False
            self._data[key] = (entry[0], time.monotonic() + px / 1000)
            return True

    def pttl(self, key: str) -> int:
        """Milliseconds left: -2 when ``key`` is absent, -1 when it never expires."""
        with self._lock:
            entry = self._entry(key)
            if entry is None:
                return -2
            if entry[1] is None:
                return -1
            return max(0, math.ceil((entry[1] - time.monotonic()) * 1000))

    def scan(self, prefix: str = "") -> list[str]:
        """The live keys starting with ``prefix``."""
        with self._lock:
            return [key for key in list(self._data) if key.startswith(prefix) and self._entry(key)]


def _milliseconds(ttl: float) -> int:
    """A positive ttl in seconds as whole milliseconds, at least one (``0.5`` is 500)."""
    return max(1, round(ttl * 1000))


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """Turn the client's failures into :class:`CacheError`, the one type callers catch."""
    try:
        yield
    except CLIENT_ERRORS as e:
        raise CacheError(original=e) from e


class Cache(CacheBase):
    """Values are stored as JSON text, which both copies them and rejects non-JSON values."""

    def __init__(self, client: FakeClient, *, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self._client = client

    def initialize_schema(self) -> str | None:
        # REAL CLIENT: create what the server needs (a bucket, a table), if anything.
        return None

    def flush(self) -> None:
        with _client_errors():
            keys = self._client.scan(self.prefix)
            if keys:
                self._client.delete(*keys)

    def ttl(self, key: str) -> int:
        with _client_errors():
            milliseconds = self._client.pttl(self.prefix + key)
        if milliseconds < 0:
            return -1
        return max(1, math.ceil(milliseconds / 1000))

    def expire(self, key: str, ttl: float) -> None:
        with _client_errors():
            if ttl <= 0:
                self._client.delete(self.prefix + key)
            else:
                self._client.pexpire(self.prefix + key, _milliseconds(ttl))

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        text = json.dumps(value)  # raises TypeError before anything is written
        with _client_errors():
            if ttl is not None and ttl <= 0:
                self._client.delete(self.prefix + key)
            else:
                px = None if ttl is None else _milliseconds(ttl)
                self._client.set(self.prefix + key, text, px=px)

    def get(self, key: str) -> Any:
        with _client_errors():
            text = self._client.get(self.prefix + key)
        return None if text is None else json.loads(text)

    def delete(self, key: str) -> None:
        with _client_errors():
            self._client.delete(self.prefix + key)


def load_from_config(config: Configurator) -> Cache:
    """Build the cache from ``cliquet.cache_url`` and ``cliquet.cache_prefix``."""
    settings = config.get_settings()
    url = urlparse(settings.get("cliquet.cache_url") or DEFAULT_URL)
    # REAL CLIENT: build the library's client from the URL instead.
    client = FakeClient(host=url.hostname or "localhost", port=url.port)
    return Cache(client, cache_prefix=settings.get("cliquet.cache_prefix") or "")
