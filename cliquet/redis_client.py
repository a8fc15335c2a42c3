"""Redis clients shared by the Redis backends (cache, permission, storage).

Each backend builds one client with a bounded connection pool from its ``cliquet.<prefix>_*``
settings at start-up, and turns Redis failures into its own error class, which the web layer
answers with a 503.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypedDict

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from cliquet.settings import SettingError, read_int

__all__ = [
    "ClientSettings",
    "client_settings",
    "create_client",
    "glob_escape",
    "transaction",
    "translate_errors",
]

_DEFAULT_POOL_SIZE = 10
_DEFAULT_POOL_TIMEOUT_SECONDS = 30

_SCHEMES = ("redis://", "rediss://", "unix://")


class ClientSettings(TypedDict):
    """The arguments of :func:`create_client`, as read by :func:`client_settings`."""

    url: str
    pool_size: int
    pool_timeout_seconds: float


def create_client(
    url: str,
    *,
    pool_size: int = _DEFAULT_POOL_SIZE,
    pool_timeout_seconds: float = _DEFAULT_POOL_TIMEOUT_SECONDS,
) -> redis.Redis:
    """A lazily connecting client whose responses are decoded to ``str``.

    At most ``pool_size`` connections are open; a caller finding them all busy waits up to
    ``pool_timeout_seconds``, which also bounds connecting and each reply (a server that stops
    answering costs that long, never more); TCP keepalives watch idle connections. A command
    failing on a broken connection is retried once at once, on a new connection: enough to get
    past a restarted server, without making callers wait when it is down.

    :param url: ``redis://[:password@]host[:port][/db]``, ``rediss://`` or ``unix://``.
    :param pool_size: most connections open at once.
    :param pool_timeout_seconds: longest wait for a free connection, to connect, for a reply.
    :returns: the client; nothing is connected yet.
    :raises ValueError: the URL is not a Redis URL.
    """
    if not url.startswith(_SCHEMES):
        raise ValueError(f"{url!r} is not a Redis URL; expected redis://host:port/db")
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=pool_timeout_seconds,
        socket_timeout=pool_timeout_seconds,
        socket_connect_timeout=pool_timeout_seconds,
        # An idle pooled connection whose server vanished is found dead, not reused blindly.
        socket_keepalive=True,
        decode_responses=True,
        # A dropped connection is retried; a timeout is not: it would double the wait.
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    )
    return redis.Redis(connection_pool=pool)


def client_settings(settings: Mapping[str, Any], prefix: str) -> ClientSettings:
    """Read the Redis settings of one component, rejecting bad values at start-up.

    Reads ``cliquet.<prefix>_url`` (required), ``cliquet.<prefix>_pool_size`` (10) and
    ``cliquet.<prefix>_pool_timeout_seconds`` (30); values may be typed or strings.

    :param settings: the application settings.
    :param prefix: the component, e.g. ``"cache"``.
    :returns: keyword arguments for :func:`create_client`.
    :raises pyramid.exceptions.ConfigurationError: naming the setting that is missing or wrong.
    """
    url_key = f"cliquet.{prefix}_url"
    url = str(settings.get(url_key) or "").strip()
    if not url:
        raise SettingError(url_key, "is empty", expected="redis://host:port/db")
    if not url.startswith(_SCHEMES):
        raise SettingError(url_key, f"is {url!r}", expected="redis://host:port/db")
    return ClientSettings(
        url=url,
        pool_size=read_int(settings, f"cliquet.{prefix}_pool_size", _DEFAULT_POOL_SIZE, minimum=1),
        pool_timeout_seconds=read_int(
            settings,
            f"cliquet.{prefix}_pool_timeout_seconds",
            _DEFAULT_POOL_TIMEOUT_SECONDS,
            minimum=1,
        ),
    )


@contextmanager
def translate_errors(error_class: Callable[..., Exception]) -> Iterator[None]:
    """Re-raise Redis errors as ``error_class(original=...)``.

    Callers catch one backend-neutral type (``CacheError``, ``PermissionBackendError``); the
    driver's exception stays on ``original``.
    """
    try:
        yield
    except redis.exceptions.RedisError as e:
        raise error_class(original=e) from e


class _Pipeline(Pipeline):
    """A pipeline that does not reconnect only to say ``UNWATCH``.

    redis-py ends a transaction by sending ``UNWATCH`` on its connection, reconnecting when a
    failure dropped it: against a server that stopped answering, that goodbye waits out the
    timeout again. A dropped connection took its ``WATCH`` with it; nothing is sent then.
    """

    def reset(self) -> None:  # type: ignore[override]
        connection = self.connection
        if self.watching and connection is not None and not _is_connected(connection):
            self.watching = False
        super().reset()


def _is_connected(connection: Any) -> bool:
    return getattr(connection, "_sock", None) is not None


def transaction(client: redis.Redis, func: Callable[[Pipeline], None], *watches: str) -> Any:
    """``client.transaction(func, *watches)``, whose failure costs one timeout, not two.

    Runs ``func`` on a pipeline watching ``watches`` and executes it, again while a watched
    key changed before ``EXEC`` (see :class:`_Pipeline` for what it does not do).

    :returns: what ``EXEC`` answered.
    :raises redis.exceptions.RedisError: as the commands raised it.
    """
    pipe = _Pipeline(client.connection_pool, client.response_callbacks, True, None)
    try:
        while True:
            try:
                pipe.watch(*watches)
                func(pipe)
                return pipe.execute()
            except redis.exceptions.WatchError:
                continue
    finally:
        pipe.reset()


def glob_escape(text: str) -> str:
    """``text`` matched literally by a ``SCAN ... MATCH`` pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
