"""The SQL cache on SQLite (a file) and PostgreSQL, and the engine helpers of ``cliquet.sql``."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.cache import CacheBase, CacheError
from cliquet.cache import postgresql as postgresql_cache
from cliquet.cache import sql as sql_cache
from cliquet.sql import create_engine_from_url, engine_settings, startswith, translate_errors
from cliquet.testing.cache import CacheTest
from cliquet.testing.web import build_app

DEAD_POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:1/x"
# Short enough for the dead-server tests to be quick.
FAST_FAILURE = {"cliquet.cache_pool_timeout_seconds": "2"}


def _build(url: str, **settings: Any) -> sql_cache.Cache:
    return sql_cache.load_from_config(
        Configurator(settings={"cliquet.cache_url": url, **settings})
    )


def _rows(backend: sql_cache.Cache) -> list[str]:
    with backend.engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT key FROM cache")).scalars())


def _url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgresql_url")
        return url
    if request.param == "sqlite-memory":
        return "sqlite://"
    return f"sqlite:///{tmp_path / 'cliquet.db'}"


POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgresql)


@pytest.fixture(params=["sqlite", POSTGRESQL])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that several instances share: a SQLite file, a throw-away PostgreSQL one."""
    return _url(request, tmp_path)


@pytest.fixture(params=["sqlite", "sqlite-memory", POSTGRESQL])
def any_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every kind of database URL, SQLite in memory too."""
    return _url(request, tmp_path)


def _ready(url: str) -> Iterator[sql_cache.Cache]:
    cache = _build(url)
    cache.initialize_schema()
    cache.flush()
    yield cache
    cache.flush()
    cache.engine.dispose()


@pytest.fixture
def backend(sql_url: str) -> Iterator[sql_cache.Cache]:
    yield from _ready(sql_url)


class TestSQLCache(CacheTest):
    @pytest.fixture
    def cache(self, any_sql_url: str) -> Iterator[sql_cache.Cache]:
        yield from _ready(any_sql_url)


# Backend-specific behaviour, on both dialects.


def test_initialize_schema_twice_is_harmless(backend: sql_cache.Cache) -> None:
    backend.set("key", "value")
    backend.initialize_schema()
    backend.initialize_schema()
    assert backend.get("key") == "value"


def test_prefixes_isolate_caches_sharing_a_table(backend: sql_cache.Cache, sql_url: str) -> None:
    a, b = _build(sql_url, **{"cliquet.cache_prefix": "a:"}), _build(sql_url)
    b.prefix = "b:"
    # A prefix with LIKE wildcards and its upper-case twin must not match.
    c = _build(sql_url, **{"cliquet.cache_prefix": "A%"})
    a.set("key", "from a")
    b.set("key", "from b", ttl=10)
    c.set("key", "from c")
    a.flush()
    assert (a.get("key"), b.get("key"), c.get("key")) == (None, "from b", "from c")
    assert _rows(backend) == ["A%key", "b:key"]
    for cache in (a, b, c):
        cache.engine.dispose()


def test_expired_rows_are_deleted_when_read(backend: sql_cache.Cache) -> None:
    backend.set("gone", "value", ttl=0)
    backend.set("kept", "value", ttl=10)
    assert _rows(backend) == ["gone", "kept"]
    assert backend.get_many(["gone", "kept"]) == {"gone": None, "kept": "value"}
    assert _rows(backend) == ["kept"]


def test_expired_rows_are_swept_without_being_read(
    backend: sql_cache.Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_cache, "_SWEEP_EVERY_WRITES", 3)
    backend.set("gone", "value", ttl=0)
    backend.set("kept", "value")
    assert _rows(backend) == ["gone", "kept"]
    backend.set("third", "value")
    assert _rows(backend) == ["kept", "third"]


def test_expire_does_not_revive_an_expired_key(backend: sql_cache.Cache) -> None:
    backend.set("key", "value", ttl=0)
    backend.expire("key", 10)
    assert backend.get("key") is None


def test_a_missing_table_is_an_error_not_created_at_request_time(sql_url: str) -> None:
    cache = _build(sql_url, **{"cliquet.cache_prefix": "nowhere:"})
    with cache.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS cache"))
        # A database never migrated: later initialize_schema() calls recreate the table.
        conn.execute(sa.text("DROP TABLE IF EXISTS cliquet_cache_version"))
    with pytest.raises(CacheError) as raised:
        cache.get("key")
    assert isinstance(raised.value.original, sa.exc.DBAPIError)
    assert not sa.inspect(cache.engine).has_table("cache")
    cache.engine.dispose()


def test_repr_names_the_database_without_its_password() -> None:
    cache = _build("postgresql://user:secret@db.example/cliquet")
    assert "secret" not in repr(cache)
    assert repr(cache).startswith("<cliquet.cache.sql.Cache url='postgresql+psycopg://user:***@")


# SQLite


def test_two_instances_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer, reader = _build(url), _build(url)
    writer.initialize_schema()
    reader.initialize_schema()
    writer.set("key", {"from": "writer"}, ttl=10)
    assert reader.get("key") == {"from": "writer"}
    assert 0 < reader.ttl("key") <= 10
    reader.delete("key")
    assert writer.get("key") is None


def test_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'wal.db'}", pool_timeout_seconds=7)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_in_memory_sqlite_is_one_database_for_every_connection() -> None:
    cache = _build("sqlite://")
    cache.initialize_schema()
    with cache.engine.connect() as first:
        dbapi_connection = first.connection.dbapi_connection
    cache.set("key", "value")
    assert cache.get("key") == "value"
    with cache.engine.connect() as second:
        assert second.connection.dbapi_connection is dbapi_connection
    cache.engine.dispose()


def test_unicode_prefix_ranges_are_exact(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'range.db'}")
    table = sa.table("t", sa.column("k"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        keys = ["a", "ab", "ac", "b", "é", "éa", "\U0010ffff", "\U0010ffffa", "\ud7ffz", "\ue000"]
        conn.execute(table.insert(), [{"k": k} for k in keys])

        def matching(prefix: str) -> list[str]:
            query = sa.select(table.c.k).where(startswith(table.c.k, prefix)).order_by("k")
            return list(conn.execute(query).scalars())

        assert matching("a") == ["a", "ab", "ac"]
        assert matching("é") == ["é", "éa"]
        assert matching("\U0010ffff") == ["\U0010ffff", "\U0010ffffa"]
        assert matching("\ud7ff") == ["\ud7ffz"]
        assert len(matching("")) == len(keys)
    engine.dispose()


# PostgreSQL


@pytest.mark.postgresql
def test_postgresql_urls_run_on_psycopg_3(postgresql_url: str) -> None:
    for url in (postgresql_url, postgresql_url.replace("postgresql://", "postgres://", 1)):
        engine = create_engine_from_url(url)
        assert engine.url.drivername == "postgresql+psycopg"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "10s"
        engine.dispose()


@pytest.mark.postgresql
def test_postgresql_statement_timeout_cancels_slow_statements(postgresql_url: str) -> None:
    engine = create_engine_from_url(postgresql_url, statement_timeout_ms=200)
    with engine.connect() as conn:
        conn.rollback()  # the setting must survive the pool's reset
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "200ms"
    with pytest.raises(CacheError) as raised:
        with translate_errors(CacheError), engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")
    assert isinstance(raised.value.original, sa.exc.OperationalError)
    engine.dispose()


@pytest.mark.postgresql
def test_postgresql_cache_recovers_when_its_connections_are_killed(postgresql_url: str) -> None:
    cache = _build(postgresql_url, **{"cliquet.cache_prefix": "recovery:"})
    cache.initialize_schema()
    cache.set("key", "value")
    with psycopg.connect(postgresql_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert cache.get("key") == "value"
    cache.flush()
    cache.engine.dispose()


@pytest.mark.postgresql
def test_postgresql_alias_module(postgresql_url: str) -> None:
    assert postgresql_cache.Cache is sql_cache.Cache
    config = Configurator(settings={"cliquet.cache_url": postgresql_url})
    cache = postgresql_cache.load_from_config(config)
    cache.initialize_schema()
    cache.set("alias", 1)
    assert cache.get("alias") == 1
    cache.delete("alias")
    cache.engine.dispose()


def test_postgresql_alias_refuses_other_databases(tmp_path: Path) -> None:
    config = Configurator(settings={"cliquet.cache_url": f"sqlite:///{tmp_path / 'x.db'}"})
    with pytest.raises(ConfigurationError, match="cliquet.cache_url"):
        postgresql_cache.load_from_config(config)


# A dead server


def test_dead_server_raises_cache_error_quickly() -> None:
    cache = _build(DEAD_POSTGRESQL_URL, **FAST_FAILURE)
    start = time.monotonic()
    for call in (
        lambda: cache.get("key"),
        lambda: cache.set("key", "value", ttl=10),
        lambda: cache.ttl("key"),
        lambda: cache.expire("key", 10),
        lambda: cache.delete("key"),
        cache.flush,
        cache.initialize_schema,
    ):
        with pytest.raises(CacheError) as raised:
            call()
        assert isinstance(raised.value.original, sa.exc.OperationalError)
    assert cache.heartbeat() is False
    assert time.monotonic() - start < 10


def test_dead_server_is_a_503_with_errno_201() -> None:
    def setup(config: Configurator) -> None:
        def view(request: Any) -> Any:
            cache: CacheBase = request.registry.cache
            return {"value": cache.get("key")}

        config.add_route("cached", "/cached")
        config.add_view(view, route_name="cached", renderer="json")

    settings = {
        "cliquet.cache_backend": "cliquet.cache.sql",
        "cliquet.cache_url": DEAD_POSTGRESQL_URL,
        **FAST_FAILURE,
    }
    app = build_app(settings, setup=setup)
    response = app.get("/v1/cached", status=503)
    assert response.json["errno"] == 201
    heartbeat = app.get("/v1/__heartbeat__", status=503)
    assert heartbeat.json["cache"] is False


# Settings


def test_load_from_config_refuses_an_empty_url() -> None:
    for settings in ({}, {"cliquet.cache_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.cache_url"):
            sql_cache.load_from_config(Configurator(settings=settings))


def test_load_from_config_refuses_an_unsupported_url() -> None:
    with pytest.raises(ConfigurationError, match="cliquet.cache_url.*'mysql'"):
        _build("mysql://localhost/db")


def test_load_from_config_reads_the_prefix_and_connects_lazily() -> None:
    cache = _build(DEAD_POSTGRESQL_URL, **{"cliquet.cache_prefix": "svc:"})
    assert cache.prefix == "svc:"
    assert cache.engine.pool.checkedout() == 0


def test_engine_settings_defaults() -> None:
    assert engine_settings({"cliquet.cache_url": "sqlite://"}, "cache") == {
        "url": "sqlite://",
        "pool_size": 10,
        "max_overflow": 10,
        "pool_timeout_seconds": 30,
        "statement_timeout_ms": 10000,
    }


def test_engine_settings_accept_strings_and_typed_values() -> None:
    settings = {
        "cliquet.storage_url": "postgresql://db/x",
        "cliquet.storage_pool_size": "3",
        "cliquet.storage_max_overflow": 0,
        "cliquet.storage_pool_timeout_seconds": 5,
        "cliquet.storage_statement_timeout_ms": " 1500 ",
    }
    assert engine_settings(settings, "storage") == {
        "url": "postgresql://db/x",
        "pool_size": 3,
        "max_overflow": 0,
        "pool_timeout_seconds": 5,
        "statement_timeout_ms": 1500,
    }


@pytest.mark.parametrize(
    "key, value",
    [
        ("cliquet.cache_pool_size", "many"),
        ("cliquet.cache_pool_size", "0"),
        ("cliquet.cache_pool_timeout_seconds", True),
        ("cliquet.cache_statement_timeout_ms", "-1"),
    ],
)
def test_engine_settings_name_the_malformed_setting(key: str, value: Any) -> None:
    settings = {"cliquet.cache_url": "sqlite://", key: value}
    with pytest.raises(ConfigurationError, match=key):
        engine_settings(settings, "cache")


def test_create_engine_from_url_refuses_other_urls() -> None:
    for url in ("mysql://localhost/db", "not a url"):
        with pytest.raises(ValueError):
            create_engine_from_url(url)
