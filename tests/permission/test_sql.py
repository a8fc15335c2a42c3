"""The SQL permission backend on SQLite (a file, in memory) and PostgreSQL."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.permission import PermissionBackendError
from cliquet.permission import postgresql as postgresql_permission
from cliquet.permission import sql as sql_permission
from cliquet.testing.permission import PermissionTest, TransactionalPermissionTest

DEAD_POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:1/x"
POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgresql)


def _build(url: str, **settings: Any) -> sql_permission.Permission:
    config = Configurator(settings={"cliquet.permission_url": url, **settings})
    return sql_permission.load_from_config(config)


def _url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgresql_url")
        return url
    if request.param == "sqlite-memory":
        return "sqlite://"
    return f"sqlite:///{tmp_path / 'cliquet.db'}"


@pytest.fixture(params=["sqlite", POSTGRESQL])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that several instances share: a SQLite file, a throw-away PostgreSQL one."""
    return _url(request, tmp_path)


@pytest.fixture(params=["sqlite", "sqlite-memory", POSTGRESQL])
def any_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every kind of database URL, SQLite in memory too."""
    return _url(request, tmp_path)


def _ready(url: str) -> Iterator[sql_permission.Permission]:
    permission = _build(url)
    permission.initialize_schema()
    permission.flush()
    yield permission
    permission.flush()
    permission.engine.dispose()


@pytest.fixture
def backend(sql_url: str) -> Iterator[sql_permission.Permission]:
    yield from _ready(sql_url)


class TestSQLPermission(PermissionTest, TransactionalPermissionTest):
    @pytest.fixture
    def permission(self, any_sql_url: str) -> Iterator[sql_permission.Permission]:
        yield from _ready(any_sql_url)


def test_initialize_schema_twice_is_harmless(backend: sql_permission.Permission) -> None:
    backend.add_user_principal("alice", "group:editors")
    backend.initialize_schema()
    backend.initialize_schema()
    assert backend.get_user_principals("alice") == {"group:editors"}


def test_schema_has_keys_and_the_prefix_lookup_index(backend: sql_permission.Permission) -> None:
    inspector = sa.inspect(backend.engine)
    assert inspector.get_pk_constraint("user_principals")["constrained_columns"] == [
        "user_id",
        "principal",
    ]
    assert inspector.get_pk_constraint("access_control_entries")["constrained_columns"] == [
        "object_id",
        "permission",
        "principal",
    ]
    indexes = {
        i["name"]: i["column_names"] for i in inspector.get_indexes("access_control_entries")
    }
    assert indexes["idx_access_control_entries_principal_object_id"] == ["principal", "object_id"]


def test_two_instances_share_the_database(
    sql_url: str, backend: sql_permission.Permission
) -> None:
    other = _build(sql_url)
    backend.add_principal_to_ace("/buckets/b1", "read", "alice")
    other.add_user_principal("alice", "group:editors")
    assert other.get_object_permissions("/buckets/b1") == {"read": {"alice"}}
    assert backend.get_user_principals("alice") == {"group:editors"}
    other.engine.dispose()


def test_prefix_lookups_are_exact(backend: sql_permission.Permission) -> None:
    for object_id in ("/buckets/b_1/r", "/buckets/bx1/r", "/Buckets/b_1/r", "/buckets/b_10/r"):
        backend.add_principal_to_ace(object_id, "read", "alice")
    accessible = backend.get_accessible_objects(["alice"], object_id_prefix="/buckets/b_1/")
    assert accessible == {"/buckets/b_1/r": {"read"}}
    accessible = backend.get_accessible_objects(["alice"], object_id_prefix="/buckets/b%")
    assert accessible == {}


def test_many_objects_and_principals_at_once(backend: sql_permission.Permission) -> None:
    object_ids = [f"/buckets/b1/records/{i}" for i in range(1200)]
    rows = [{"object_id": o, "permission": "read", "principal": "alice"} for o in object_ids]
    with backend.engine.begin() as conn:
        conn.execute(sql_permission._aces.insert(), rows)
    principals = [f"user-{i}" for i in range(1200)] + ["alice"]
    assert len(backend.get_accessible_objects(principals, permissions=["read"])) == 1200
    backend.delete_object_permissions(*object_ids)
    assert backend.get_accessible_objects(["alice"]) == {}


def test_a_missing_table_is_an_error_not_created_at_request_time(tmp_path: Path) -> None:
    permission = _build(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(PermissionBackendError) as raised:
        permission.get_user_principals("alice")
    assert isinstance(raised.value.original, sa.exc.DBAPIError)
    assert not sa.inspect(permission.engine).has_table("user_principals")


def test_repr_names_the_database_without_its_password() -> None:
    permission = _build("postgresql://user:secret@db.example/cliquet")
    assert repr(permission) == (
        "<cliquet.permission.sql.Permission url='postgresql+psycopg://user:***@db.example/cliquet'>"
    )


@pytest.mark.postgresql
def test_postgresql_alias_module(postgresql_url: str) -> None:
    assert postgresql_permission.Permission is sql_permission.Permission
    config = Configurator(settings={"cliquet.permission_url": postgresql_url})
    permission = postgresql_permission.load_from_config(config)
    permission.initialize_schema()
    permission.add_user_principal("alias-user", "group:x")
    assert permission.get_user_principals("alias-user") == {"group:x"}
    permission.remove_user_principal("alias-user", "group:x")
    permission.engine.dispose()


def test_postgresql_alias_refuses_other_databases() -> None:
    config = Configurator(settings={"cliquet.permission_url": "sqlite://"})
    with pytest.raises(ConfigurationError, match="cliquet.permission_url"):
        postgresql_permission.load_from_config(config)


def test_dead_server_raises_permission_backend_error_quickly() -> None:
    permission = _build(DEAD_POSTGRESQL_URL, **{"cliquet.permission_pool_timeout_seconds": 2})
    start = time.monotonic()
    for call in (
        lambda: permission.add_user_principal("alice", "group:editors"),
        lambda: permission.get_user_principals("alice"),
        lambda: permission.get_object_permissions("/buckets/b1"),
        lambda: permission.replace_object_permissions("/buckets/b1", {"read": ["alice"]}),
        lambda: permission.get_accessible_objects(["alice"]),
        lambda: permission.check_permission("/buckets/b1", "read", ["alice"]),
        permission.flush,
        permission.initialize_schema,
    ):
        with pytest.raises(PermissionBackendError) as raised:
            call()
        assert isinstance(raised.value.original, sa.exc.OperationalError)
    assert permission.heartbeat() is False
    assert time.monotonic() - start < 10


def test_load_from_config_refuses_an_empty_url() -> None:
    for settings in ({}, {"cliquet.permission_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.permission_url"):
            sql_permission.load_from_config(Configurator(settings=settings))


def test_load_from_config_reads_the_pool_settings() -> None:
    permission = _build(
        DEAD_POSTGRESQL_URL,
        **{"cliquet.permission_pool_size": "4", "cliquet.permission_pool_timeout_seconds": "3"},
    )
    pool: Any = permission.engine.pool
    assert (pool.size(), pool.timeout()) == (4, 3)
    with pytest.raises(ConfigurationError, match="cliquet.permission_pool_size"):
        _build("sqlite://", **{"cliquet.permission_pool_size": "lots"})
