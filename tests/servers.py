"""Pytest plugin giving tests the real servers: throw-away PostgreSQL databases, Redis keys.

Loaded by ``pytest_plugins`` in ``tests/conftest.py``. The servers are those of the
environment variables below, today's local addresses by default::

    CLIQUET_TEST_POSTGRESQL_URL=postgresql://postgres@127.0.0.1:5432/postgres
    CLIQUET_TEST_REDIS_URL=redis://127.0.0.1:6379/0

The suite touches only what it creates there: on PostgreSQL, databases of its own
(``cliquet_test_<hex>``, created by the URL's user, who needs ``CREATEDB``), dropped at the
end; on Redis, keys under a prefix of each test's own, deleted after the test (never a flush
of the database, which others may use).

A test needing a server asks for its fixture (and carries the ``postgresql`` / ``redis``
marker). When the server does not answer, the test is skipped and the run ends with one line
saying what was skipped and how to start the server; under CI (``CI=true``) it fails instead,
so that a broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

POSTGRESQL_URL_VARIABLE = "CLIQUET_TEST_POSTGRESQL_URL"
REDIS_URL_VARIABLE = "CLIQUET_TEST_REDIS_URL"
DEFAULT_POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRESQL_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
# The start of every skip reason of a missing server: the terminal summary counts them.
SERVER_DOWN = "test server down:"

_SERVERS = {
    "PostgreSQL": (POSTGRESQL_URL_VARIABLE, DEFAULT_POSTGRESQL_URL, POSTGRESQL_START),
    "Redis": (REDIS_URL_VARIABLE, DEFAULT_REDIS_URL, REDIS_START),
}


def postgresql_server_url() -> str:
    """The PostgreSQL the suite creates its databases on (a database there to connect to)."""
    return _url("PostgreSQL")


def redis_server_url() -> str:
    """The Redis database the suite keeps its keys in."""
    return _url("Redis")


def postgresql_database_url(name: str) -> str:
    """The URL of database ``name`` on the suite's PostgreSQL server."""
    url = make_url(postgresql_server_url()).set(database=name)
    return url.render_as_string(hide_password=False)


def _url(name: str) -> str:
    variable, default, _ = _SERVERS[name]
    return os.environ.get(variable) or default


def server_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a server URL, ports defaulting as libpq's and Redis's do."""
    parts = urlsplit(url)
    default = 6379 if parts.scheme.startswith("redis") else 5432
    return parts.hostname or "127.0.0.1", parts.port or default


def _shown(url: str) -> str:
    """``url`` without its password, to be printed."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _where(url: str) -> str:
    host, port = server_address(url)
    return f"{host}:{port}"


def server_hint(name: str) -> str:
    """How to get the server ``name`` the suite looks for."""
    variable, default, start = _SERVERS[name]
    url = _url(name)
    if url == default:
        return f"start it with `{start}`, or point {variable} at yours"
    return f"check {variable}={_shown(url)}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _server_down(name: str, url: str, error: BaseException) -> NoReturn:
    message = f"{SERVER_DOWN} {name} on {_where(url)} ({_first_line(error)})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; {server_hint(name)}", pytrace=False)
    pytest.skip(message)


def admin_connection() -> psycopg.Connection[Any]:
    """An autocommit connection to the suite's PostgreSQL server (a skip when it is down)."""
    url = postgresql_server_url()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        _server_down("PostgreSQL", url, e)


def _lock_key(database: str) -> int:
    """The advisory lock a session holds while it owns ``database``."""
    return int(database.removeprefix("cliquet_test_")[:15], 16)


def _drop_abandoned_databases(admin: psycopg.Connection[Any]) -> None:
    """Drop the databases of sessions that were killed before they could drop their own.

    A session holds its database's advisory lock on its admin connection, which the server
    releases when the session dies: a lock free and no one connected means abandoned.
    """
    rows = admin.execute(
        "SELECT datname FROM pg_database d WHERE datname ~ '^cliquet_test_[0-9a-f]{32}$' "
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)"
    ).fetchall()
    for (name,) in rows:
        key = _lock_key(name)
        locked = admin.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if locked and locked[0]:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextlib.contextmanager
def postgresql_database() -> Iterator[str]:
    """A new, empty database on the suite's server, dropped on leaving; yields its URL.

    Its name is ``cliquet_test_<hex>``: a database of the suite's own, never one it did not
    create. While it exists the admin connection holds its advisory lock, so that a later
    session can tell it from an abandoned one.
    """
    admin = admin_connection()
    name = f"cliquet_test_{uuid.uuid4().hex}"
    with admin:
        _drop_abandoned_databases(admin)
        # Locked before the database exists, so that no other session ever sees it unlocked.
        admin.execute("SELECT pg_advisory_lock(%s)", (_lock_key(name),))
        admin.execute(f'CREATE DATABASE "{name}"')
        # A commit need not wait for the disk: what the tests check is what other sessions
        # see, which is the same (only a crash of the server itself could lose commits).
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        try:
            yield postgresql_database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """URL of a new, empty database of the session's own, dropped after the session."""
    with postgresql_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the suite's Redis, once it answered PING (keys go under ``redis_prefix``)."""
    url = redis_server_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        client.ping()
    except (redis.exceptions.RedisError, ValueError) as e:
        _server_down("Redis", url, e)
    client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted after the test.

    Other services (and other test runs) share the Redis: a test touches its own keys only.
    """
    prefix = f"cliquet-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def _reason(report: Any) -> tuple[str, str]:
    """Where a test was skipped and why, as pytest's ``-rs`` folds them."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, reason = longrepr
        return f"{os.path.relpath(path)}:{line}", str(reason)
    return report.nodeid, str(longrepr)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The skips, folded: one line for all that missing servers caused, with the way to get
    the servers, then one line per other reason (``-r`` in ``addopts`` lists no skips)."""
    servers: dict[str, int] = {}
    others: dict[tuple[str, str], int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        where, reason = _reason(report)
        if reason.startswith("Skipped: "):
            reason = reason.removeprefix("Skipped: ")
        if reason.startswith(SERVER_DOWN):
            name = reason.removeprefix(SERVER_DOWN).split()[0]
            servers[name] = servers.get(name, 0) + 1
        else:
            others[where, reason] = others.get((where, reason), 0) + 1
    if servers:
        missing = " and ".join(f"{name} on {_where(_url(name))}" for name in sorted(servers))
        hints = "; ".join(f"{name}: {server_hint(name)}" for name in sorted(servers))
        terminalreporter.write_line(
            f"{sum(servers.values())} tests skipped, no {missing}. {hints}.", yellow=True
        )
    for (where, reason), count in sorted(others.items()):
        terminalreporter.write_line(f"SKIPPED [{count}] {where}: {reason}", yellow=True)
