"""Nothing waits on a stuck backend without bound: statements, locks, connections, heartbeats.

A real network blackhole (packets dropped, not refused) needs iptables or a network namespace
with a server of its own inside, which this suite does not set up: the TCP settings that bound
it (keepalives, ``tcp_user_timeout``) are checked where they reach libpq instead. Backends cut,
stalled, frozen or locked under a served service are the fault suite's
(tests/reliability/test_faults.py).
"""

import socket
import threading
import time

import pytest
import redis
import sqlalchemy

from cliquet.redis_client import client_settings, create_client
from cliquet.sql import create_engine_from_url, engine_settings
from cliquet.testing.web import build_app


def _libpq_parameters(engine):
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        parameters = dbapi.info.get_parameters()
        shown = {
            name: dbapi.execute(f"SHOW {name}").fetchone()[0]
            for name in ("statement_timeout", "lock_timeout")
        }
    return parameters, shown


@pytest.mark.postgresql
def test_postgresql_statements_and_connections_are_bounded_by_default(postgresql_url):
    engine = create_engine_from_url(**engine_settings({"cliquet.x_url": postgresql_url}, "x"))
    try:
        parameters, shown = _libpq_parameters(engine)
    finally:
        engine.dispose()
    assert shown == {"statement_timeout": "10s", "lock_timeout": "10s"}
    assert parameters["connect_timeout"] == "30"
    # A dead peer is found by keepalives when idle, by tcp_user_timeout with data in flight.
    assert parameters["keepalives"] == "1"
    assert int(parameters["keepalives_idle"]) <= 10
    assert int(parameters["keepalives_interval"]) <= 5
    assert int(parameters["keepalives_count"]) <= 5
    assert parameters["tcp_user_timeout"] == "30000"


@pytest.mark.postgresql
def test_postgresql_timeouts_follow_the_settings_and_the_url(postgresql_url):
    settings = {
        "cliquet.x_url": f"{postgresql_url}?keepalives_idle=42&connect_timeout=7",
        "cliquet.x_pool_timeout_seconds": "4",
        "cliquet.x_statement_timeout_ms": "1500",
    }
    engine = create_engine_from_url(**engine_settings(settings, "x"))
    try:
        parameters, shown = _libpq_parameters(engine)
    finally:
        engine.dispose()
    assert shown == {"statement_timeout": "1500ms", "lock_timeout": "1500ms"}
    assert parameters["keepalives_idle"] == "42"
    assert parameters["connect_timeout"] == "7"
    assert parameters["tcp_user_timeout"] == "4000"


@pytest.mark.postgresql
def test_a_zero_statement_timeout_still_means_none(postgresql_url):
    settings = {"cliquet.x_url": postgresql_url, "cliquet.x_statement_timeout_ms": "0"}
    engine = create_engine_from_url(**engine_settings(settings, "x"))
    try:
        _, shown = _libpq_parameters(engine)
    finally:
        engine.dispose()
    assert shown == {"statement_timeout": "0", "lock_timeout": "0"}


def _frozen_at(where, engine, proxy):
    """Run one unit of work on ``engine``; the server stops answering at ``where``."""
    select = sqlalchemy.text("SELECT 1")
    if where == "checkout":  # the pool's ping of an idle connection
        with engine.connect() as conn:
            conn.execute(select)
        proxy.freeze()
        with engine.connect() as conn:
            conn.execute(select)
        return
    with engine.connect() as conn:
        conn.execute(select)
        if where == "statement":
            proxy.freeze()
            conn.execute(select)
        else:
            conn.execute(sqlalchemy.text("CREATE TEMPORARY TABLE t (x int)"))
            proxy.freeze()
            conn.commit()


@pytest.mark.postgresql
@pytest.mark.parametrize("where", ["statement", "commit", "checkout"])
def test_a_postgresql_server_that_stops_answering_costs_the_statement_timeout_plus_a_margin(
    postgresql_url, where
):
    # Its host still acknowledges the bytes (the proxy's kernel does): statement_timeout is the
    # server's, and tcp_user_timeout cannot fire. The pool timeout is kept long, so that waiting
    # for it (or reconnecting after the ping) would show.
    from tests.reliability.test_faults import proxied

    with proxied(postgresql_url) as proxy:
        engine = create_engine_from_url(
            proxy.url(postgresql_url), pool_timeout_seconds=5, statement_timeout_ms=500
        )
        try:
            start = time.monotonic()
            with pytest.raises(sqlalchemy.exc.OperationalError, match="no reply"):
                _frozen_at(where, engine, proxy)
            elapsed = time.monotonic() - start
            proxy.restore()
            # The broken connection was dropped: the next unit of work gets a new one.
            with engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
        finally:
            proxy.restore()
            engine.dispose()
    assert 1.4 < elapsed < 2.5, elapsed


@pytest.mark.postgresql
def test_the_server_cancels_a_slow_statement_before_the_client_gives_up(postgresql_url):
    engine = create_engine_from_url(postgresql_url, statement_timeout_ms=300)
    try:
        with engine.connect() as conn:
            start = time.monotonic()
            with pytest.raises(sqlalchemy.exc.OperationalError, match="statement timeout"):
                conn.execute(sqlalchemy.text("SELECT pg_sleep(3)"))
            elapsed = time.monotonic() - start
            # A cancelled statement leaves a good connection: it is kept.
            assert not conn.invalidated
            conn.rollback()
            assert conn.execute(sqlalchemy.text("SELECT pg_sleep(0.2), 1")).one()[1] == 1
    finally:
        engine.dispose()
    assert elapsed < 1.0


def test_sqlite_lock_waits_are_bounded_by_the_statement_timeout(tmp_path):
    settings = {
        "cliquet.x_url": f"sqlite:///{tmp_path / 'x.db'}",
        "cliquet.x_statement_timeout_ms": "700",
    }
    engine = create_engine_from_url(**engine_settings(settings, "x"))
    try:
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    finally:
        engine.dispose()
    assert busy == 700


@pytest.mark.redis
def test_redis_replies_and_connections_are_bounded(redis_url):
    client = create_client(**client_settings({"cliquet.x_url": redis_url}, "x"))
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 30
    assert kwargs["socket_connect_timeout"] == 30
    assert kwargs["socket_keepalive"] is True
    client.close()


def test_a_redis_server_that_stops_answering_costs_the_pool_timeout_once():
    # Accepts connections (the kernel even acknowledges the commands), never replies.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    client = create_client(f"redis://127.0.0.1:{port}/0", pool_timeout_seconds=1)
    try:
        start = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("key")
        elapsed = time.monotonic() - start
    finally:
        client.close()
        silent.close()
    assert 0.9 < elapsed < 1.8


@pytest.mark.redis
@pytest.mark.parametrize("after", ["watch", "multi"])
def test_a_redis_server_that_stops_answering_mid_transaction_costs_the_pool_timeout_once(
    redis_url, redis_prefix, monkeypatch, after
):
    # redis-py ends a WATCH transaction by sending UNWATCH, on a new connection if the old one
    # timed out: a second wait of the timeout for nothing (found by the fault suite).
    from pyramid.config import Configurator

    from cliquet.permission import PermissionBackendError
    from cliquet.permission import redis as redis_permission
    from tests.reliability.test_faults import proxied

    with proxied(redis_url) as proxy:
        config = Configurator(
            settings={
                "cliquet.permission_url": proxy.url(redis_url),
                "cliquet.permission_prefix": redis_prefix,
                "cliquet.permission_pool_timeout_seconds": "1",
            }
        )
        backend = redis_permission.load_from_config(config)
        backend.replace_object_permissions("/articles/a", {"write": {"alice"}})
        step = getattr(redis.client.Pipeline, after)

        def step_then_freeze(pipe, *names):
            step(pipe, *names)
            proxy.freeze()  # the server stops answering after WATCH, or before EXEC

        monkeypatch.setattr(redis.client.Pipeline, after, step_then_freeze)
        start = time.monotonic()
        with pytest.raises(PermissionBackendError):
            backend.delete_object_permissions("/articles/a")
        elapsed = time.monotonic() - start
        monkeypatch.undo()
        proxy.restore()
        backend.client.close()
    assert 0.9 < elapsed < 1.8


def test_heartbeats_polled_during_a_hang_do_not_pile_up_threads():
    release = threading.Event()
    calls = []

    def hanging(request):
        calls.append(1)
        release.wait(30)
        return True

    def setup(config):
        config.registry.heartbeats["x"] = hanging

    app = build_app({"cliquet.heartbeat_timeout_seconds": "1"}, setup=setup)
    before = threading.active_count()
    try:
        start = time.monotonic()
        for _ in range(20):
            response = app.get("/v1/__heartbeat__", status=503)
            assert response.json["x"] is False
            assert response.json["storage"] is True
            # The checks' threads are built once, one per check at most.
            assert threading.active_count() <= before + 4
        elapsed = time.monotonic() - start
    finally:
        release.set()
    # The hung check is not started again while it runs, and no poll waits for it again.
    assert len(calls) == 1
    assert elapsed < 5
    # Once it returns, the next poll runs it afresh.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = app.get("/v1/__heartbeat__", expect_errors=True)
        if response.status_code == 200:
            break
        time.sleep(0.05)
    assert response.status_code == 200
    assert len(calls) == 2
