"""Pytest plugin giving tests the real servers: a throw-away PostgreSQL database, Redis.

Loaded by ``pytest_plugins`` in ``tests/conftest.py``. A test needing a server asks for its
fixture (and carries the ``postgresql`` / ``redis`` marker). When the server does not answer, the
test is skipped, with the command that starts it; under CI (``CI=true``) it fails instead, so that
a broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import psycopg
import pytest
import redis

POSTGRESQL_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
POSTGRESQL_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _server_down(name: str, where: str, start: str, error: BaseException) -> NoReturn:
    message = (
        f"{name} is down or refusing connections on {where} ({error}); start it with: {start}"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


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


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """URL of a new, empty database on 127.0.0.1:5432, dropped after the session."""
    try:
        admin = psycopg.connect(POSTGRESQL_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        _server_down("PostgreSQL", "127.0.0.1:5432", POSTGRESQL_START, e)
    name = f"cliquet_test_{uuid.uuid4().hex}"
    with admin:
        _drop_abandoned_databases(admin)
        # Locked before the database exists, so that no other session ever sees it unlocked.
        admin.execute("SELECT pg_advisory_lock(%s)", (_lock_key(name),))
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis on 127.0.0.1:6379, once it answered PING."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError as e:
        _server_down("Redis", "127.0.0.1:6379", REDIS_START, e)
    finally:
        client.close()
    return REDIS_URL


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
