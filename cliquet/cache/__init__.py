"""The cache contract: a small key/value store with per-key expiry.

Services use the cache for data that may vanish at any time (sessions, rate
limits, memoized lookups). A backend is a module exposing
``load_from_config(config) -> CacheBase``, named by ``cliquet.cache_backend``.

The seven abstract methods of :class:`CacheBase` are the whole contract a
third-party backend implements; everything else on the class has a default
built only on those seven, so new conveniences never break an existing
backend. :class:`cliquet.testing.cache.CacheTest` is the conformance suite.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable
from typing import Any

__all__ = ["CacheBase", "CacheError"]

# Long enough for one heartbeat round trip, short enough that a probe left
# behind by a failed delete does not linger.
_HEARTBEAT_TTL_SECONDS = 60


class CacheError(Exception):
    """A cache backend failed (connection lost, server error...).

    Backends wrap their driver's exceptions in this one so that callers catch
    a single type whatever the backend.

    :param message: what went wrong.
    :param original: the driver exception, kept for logs.
    """

    def __init__(self, message: str = "", *, original: BaseException | None = None) -> None:
        if not message and original is not None:
            message = f"{type(original).__name__}: {original}"
        super().__init__(message)
        self.original = original


class CacheBase(abc.ABC):
    """Base class of every cache backend.

    Values are any JSON-serializable value; a backend stores a copy, so
    mutating a value after :meth:`set` or after :meth:`get` never changes what
    the cache holds. Keys are strings.
    """

    #: Prepended to keys by backends that share a server between services.
    #: A class attribute too, so that a subclass whose ``__init__`` does not
    #: call ``super().__init__()`` still has one.
    prefix: str = ""

    def __init__(self, *, cache_prefix: str = "") -> None:
        """
        :param cache_prefix: prefix of every key (the ``cliquet.cache_prefix``
            setting); backends that cannot share a server may ignore it.
        """
        self.prefix = cache_prefix

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} prefix={self.prefix!r}>"

    @abc.abstractmethod
    def initialize_schema(self) -> str | None:
        """Create whatever the backend needs before first use (tables, buckets).

        Called by ``cliquet migrate`` (or at start-up with ``cliquet.migrate_on_startup``),
        never per request; must be safe to call more than once.

        :returns: one line telling what was done (shown by ``cliquet migrate``), or None.
        :raises CacheError: the backend could not be reached.
        """

    @abc.abstractmethod
    def flush(self) -> None:
        """Remove every key of this cache (only those under its prefix, if any).

        Used by tests and by operators resetting a service.

        :raises CacheError: the backend failed.
        """

    @abc.abstractmethod
    def ttl(self, key: str) -> int:
        """Seconds left before ``key`` expires.

        :param key: the key.
        :returns: a positive number of seconds (rounded up), or ``-1`` when the
            key has no expiry or does not exist.
        :raises CacheError: the backend failed.
        """

    @abc.abstractmethod
    def expire(self, key: str, ttl: float) -> None:
        """Make an existing ``key`` expire ``ttl`` seconds from now.

        Does nothing when the key does not exist. A ``ttl`` of zero or less
        expires the key at once.

        :param key: the key.
        :param ttl: seconds from now; fractions of a second are kept (to the
            millisecond at least), so ``0.5`` is half a second, never zero.
        :raises CacheError: the backend failed.
        """

    @abc.abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value and expiry.

        :param key: the key.
        :param value: any JSON-serializable value.
        :param ttl: seconds before the key expires, fractions kept as in
            :meth:`expire`; zero or less: expired at once; ``None`` means never
            (and clears an expiry the key had before).
        :raises TypeError: ``value`` is not JSON-serializable.
        :raises CacheError: the backend failed.
        """

    @abc.abstractmethod
    def get(self, key: str) -> Any:
        """The value stored under ``key``.

        :param key: the key.
        :returns: a copy of the value, or ``None`` when the key is absent or
            expired.
        :raises CacheError: the backend failed.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error.

        :param key: the key.
        :raises CacheError: the backend failed.
        """

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of several keys at once.

        The default calls :meth:`get` per key; backends with a bulk read may
        override it.

        :param keys: the keys.
        :returns: every requested key mapped to what :meth:`get` returns for
            it (``None`` when absent or expired).
        :raises CacheError: the backend failed.
        """
        return {key: self.get(key) for key in keys}

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove several keys at once; missing keys are skipped.

        The default calls :meth:`delete` per key.

        :param keys: the keys.
        :raises CacheError: the backend failed.
        """
        for key in keys:
            self.delete(key)

    def heartbeat(self) -> bool:
        """Whether the backend works, for the ``__heartbeat__`` view.

        Writes, reads back and deletes a probe key with a unique name, so that
        concurrent heartbeats do not disturb each other. Never raises: any
        failure, whatever its type, is reported as ``False``.

        :returns: ``True`` when the probe value round-tripped.
        """
        key = f"cliquet.heartbeat.{uuid.uuid4().hex}"
        value = {"alive": True}
        try:
            self.set(key, value, ttl=_HEARTBEAT_TTL_SECONDS)
            ok = bool(self.get(key) == value)
            self.delete(key)
        except Exception:
            return False
        return ok
