"""The suite's servers (``tests/servers.py``): given by the environment, touched only where
the suite wrote, and a one-line report when they are missing.

Each test runs a small suite of its own with ``pytester``, with the plugin loaded as
``tests/conftest.py`` loads it.
"""

import uuid

import psycopg
import pytest
import redis

from tests.servers import postgresql_server_url, server_hint

CONFTEST = 'pytest_plugins = ["tests.servers"]\n'

NEEDS_SERVERS = """
import pytest

def test_postgresql(postgresql_url):
    pass

def test_also_postgresql(postgresql_url):
    pass

def test_redis(redis_url):
    pass

def test_something_else():
    pytest.skip("not on this platform")

def test_without_servers():
    pass
"""

DEAD = {
    "CLIQUET_TEST_POSTGRESQL_URL": "postgresql://postgres@127.0.0.1:1/postgres",
    "CLIQUET_TEST_REDIS_URL": "redis://127.0.0.1:1/0",
}


@pytest.fixture
def suite(pytester, monkeypatch, tmp_path):
    """Run ``source`` as a test module of its own, the environment as ``env`` says and the
    report options of ``addopts``; its tests may write to the file ``CLIQUET_TEST_OUT``."""
    monkeypatch.setenv("CLIQUET_TEST_OUT", str(tmp_path / "out"))

    def run(source, **env):
        monkeypatch.delenv("CI", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        pytester.makeconftest(CONFTEST)
        pytester.makepyfile(test_it=source)
        return pytester.runpytest(
            "-rfE", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:benchmark"
        )

    return run


def test_missing_servers_are_one_line_saying_how_to_start_them(suite):
    result = suite(NEEDS_SERVERS, **DEAD)
    result.assert_outcomes(passed=1, skipped=4)
    summary = [line for line in result.outlines if "tests skipped, no " in line]
    assert summary == [
        "3 tests skipped, no PostgreSQL on 127.0.0.1:1 and Redis on 127.0.0.1:1. "
        "PostgreSQL: check "
        "CLIQUET_TEST_POSTGRESQL_URL=postgresql://postgres@127.0.0.1:1/postgres; "
        "Redis: check CLIQUET_TEST_REDIS_URL=redis://127.0.0.1:1/0."
    ]
    # The other skip is still listed, once; none of the servers' are.
    skipped = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert len(skipped) == 1
    assert "not on this platform" in skipped[0]


def test_at_the_default_addresses_the_hint_is_the_command_that_starts_the_server(
    monkeypatch,
):
    monkeypatch.delenv("CLIQUET_TEST_POSTGRESQL_URL", raising=False)
    monkeypatch.setenv("CLIQUET_TEST_REDIS_URL", "")  # empty: the default too
    assert server_hint("PostgreSQL") == (
        "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
        "start`, or point CLIQUET_TEST_POSTGRESQL_URL at yours"
    )
    assert server_hint("Redis").startswith("start it with `redis-server --daemonize yes ")
    assert server_hint("Redis").endswith("`, or point CLIQUET_TEST_REDIS_URL at yours")


def test_a_password_in_the_url_is_not_printed(suite):
    url = "postgresql://postgres:hunter2@127.0.0.1:1/postgres"
    result = suite(NEEDS_SERVERS, CLIQUET_TEST_POSTGRESQL_URL=url)
    assert "hunter2" not in result.stdout.str()
    assert "postgresql://postgres:***@127.0.0.1:1/postgres" in result.stdout.str()


def test_under_ci_a_missing_server_fails_the_tests_needing_it(suite):
    result = suite(NEEDS_SERVERS, CI="true", **DEAD)
    result.assert_outcomes(passed=1, skipped=1, errors=3)
    result.stdout.fnmatch_lines(["*test server down: PostgreSQL on 127.0.0.1:1*"])
    assert not [line for line in result.outlines if "tests skipped, no " in line]


@pytest.mark.postgresql
def test_postgresql_databases_are_the_suites_own_and_dropped_afterwards(
    suite, postgresql_url, tmp_path
):
    # postgresql_url: the server answers (or, under CI, this fails).
    source = """
import os

import psycopg

def test_write(postgresql_url):
    with psycopg.connect(postgresql_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (x int)")
        name = connection.execute("SELECT current_database()").fetchone()[0]
    with open(os.environ["CLIQUET_TEST_OUT"], "w") as out:
        out.write(name)
"""
    result = suite(source, CLIQUET_TEST_POSTGRESQL_URL=postgresql_server_url())
    result.assert_outcomes(passed=1)
    name = (tmp_path / "out").read_text()
    assert name.startswith("cliquet_test_")
    with psycopg.connect(postgresql_server_url(), autocommit=True) as admin:
        left = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert left == []


@pytest.mark.redis
def test_redis_keys_are_under_a_prefix_deleted_afterwards(suite, redis_url, tmp_path):
    others = f"someone-else-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    client.set(others, "theirs")
    source = """
import os

import redis

def test_write(redis_url, redis_prefix):
    client = redis.Redis.from_url(redis_url)
    client.set(f"{redis_prefix}a", "1")
    client.set(f"{redis_prefix}b", "2")
    with open(os.environ["CLIQUET_TEST_OUT"], "w") as out:
        out.write(redis_prefix)
"""
    try:
        result = suite(source, CLIQUET_TEST_REDIS_URL=redis_url)
        result.assert_outcomes(passed=1)
        prefix = (tmp_path / "out").read_text()
        assert prefix.startswith("cliquet-test-")
        assert list(client.scan_iter(match=f"{prefix}*")) == []
        assert client.get(others) == b"theirs"
    finally:
        client.delete(others)
        client.close()
