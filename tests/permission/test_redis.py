"""The Redis permission backend."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.permission import PermissionBackendError
from cliquet.permission import redis as redis_permission
from cliquet.redis_client import glob_escape
from cliquet.testing.permission import PermissionTest

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
RECORD = "/buckets/b1/collections/c1/records/r1"


def _build(url: str, **settings: Any) -> redis_permission.Permission:
    config = Configurator(settings={"cliquet.permission_url": url, **settings})
    return redis_permission.load_from_config(config)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look behind the backend's back."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def backend(redis_url: str, redis_prefix: str) -> Iterator[redis_permission.Permission]:
    permission = _build(redis_url, **{"cliquet.permission_prefix": redis_prefix})
    permission.initialize_schema()
    permission.flush()
    yield permission
    permission.flush()
    permission.client.close()


def _keys(raw: redis.Redis, prefix: str) -> list[str]:
    return sorted(key[len(prefix) :] for key in raw.scan_iter(match=f"{glob_escape(prefix)}*"))


@pytest.mark.redis
class TestRedisPermission(PermissionTest):
    @pytest.fixture
    def permission(self, backend: redis_permission.Permission) -> redis_permission.Permission:
        return backend


@pytest.mark.redis
def test_key_layout(
    backend: redis_permission.Permission, raw: redis.Redis, redis_prefix: str
) -> None:
    backend.add_user_principal("alice", "group:editors")
    backend.add_principal_to_ace(RECORD, "read", "alice")
    backend.add_principal_to_ace(RECORD, "record:create", "bob")
    assert _keys(raw, redis_prefix) == [
        f"ace:{RECORD}:read",
        f"ace:{RECORD}:record:create",
        f"permissions:{RECORD}",
        "user:alice",
    ]
    assert raw.smembers(f"{redis_prefix}permissions:{RECORD}") == {"read", "record:create"}


@pytest.mark.redis
def test_emptied_and_deleted_objects_leave_no_keys(
    backend: redis_permission.Permission, raw: redis.Redis, redis_prefix: str
) -> None:
    backend.add_principal_to_ace(RECORD, "read", "alice")
    backend.add_principal_to_ace(RECORD, "write", "bob")
    backend.remove_principal_from_ace(RECORD, "read", "alice")
    assert _keys(raw, redis_prefix) == [f"ace:{RECORD}:write", f"permissions:{RECORD}"]
    backend.replace_object_permissions(RECORD, {"write": []})
    assert _keys(raw, redis_prefix) == []
    backend.add_principal_to_ace(RECORD, "read", "alice")
    backend.add_user_principal("alice", "group:editors")
    backend.remove_user_principal("alice", "group:editors")
    backend.delete_object_permissions(RECORD)
    assert _keys(raw, redis_prefix) == []


@pytest.mark.redis
def test_index_stays_exact_under_concurrent_adds_and_removes(
    backend: redis_permission.Permission, raw: redis.Redis, redis_prefix: str
) -> None:
    def toggle(n: int) -> None:
        for _ in range(30):
            backend.add_principal_to_ace(RECORD, "read", f"user-{n}")
            backend.remove_principal_from_ace(RECORD, "read", f"user-{n}")

    threads = [threading.Thread(target=toggle, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _keys(raw, redis_prefix) == []
    backend.add_principal_to_ace(RECORD, "read", "alice")
    assert backend.get_object_permissions(RECORD) == {"read": {"alice"}}


@pytest.mark.redis
def test_object_ids_with_colons_and_glob_characters(backend: redis_permission.Permission) -> None:
    odd = "/buckets/b:1/records/[r]*"
    backend.add_principal_to_ace(odd, "read", "alice")
    backend.add_principal_to_ace("/buckets/b:10/records/x", "read", "alice")
    backend.add_principal_to_ace("/buckets/b:1/records/rx", "read", "alice")
    assert backend.get_object_permissions(odd) == {"read": {"alice"}}
    assert backend.get_accessible_objects(
        ["alice"], object_id_prefix="/buckets/b:1/records/["
    ) == {odd: {"read"}}


@pytest.mark.redis
def test_many_objects_at_once(backend: redis_permission.Permission) -> None:
    object_ids = [f"/buckets/b1/records/{i}" for i in range(1200)]
    pipe = backend.client.pipeline(transaction=False)
    for object_id in object_ids:
        pipe.sadd(backend._ace_key(object_id, "read"), "alice")
        pipe.sadd(backend._index_key(object_id), "read")
    pipe.execute()
    assert len(backend.get_accessible_objects(["alice", "bob"])) == 1200
    assert len(backend.get_accessible_objects(["alice"], permissions=["read", "write"])) == 1200
    backend.delete_object_permissions(*object_ids)
    assert backend.get_accessible_objects(["alice"]) == {}


@pytest.mark.redis
def test_flush_deletes_only_its_own_keys(
    redis_url: str, redis_prefix: str, raw: redis.Redis
) -> None:
    permission = _build(redis_url, **{"cliquet.permission_prefix": f"{redis_prefix}perm:"})
    permission.add_user_principal("alice", "group:editors")
    permission.add_principal_to_ace(RECORD, "read", "alice")
    raw.set(f"{redis_prefix}perm:cache-key", "foreign")
    raw.sadd(f"{redis_prefix}user:alice", "foreign")
    permission.flush()
    assert permission.get_user_principals("alice") == set()
    assert _keys(raw, redis_prefix) == ["perm:cache-key", "user:alice"]
    permission.client.close()


def test_dead_server_raises_permission_backend_error_quickly() -> None:
    permission = _build(DEAD_REDIS_URL, **{"cliquet.permission_pool_timeout_seconds": 2})
    start = time.monotonic()
    for call in (
        lambda: permission.add_user_principal("alice", "group:editors"),
        lambda: permission.get_user_principals("alice"),
        lambda: permission.add_principal_to_ace(RECORD, "read", "alice"),
        lambda: permission.remove_principal_from_ace(RECORD, "read", "alice"),
        lambda: permission.get_object_permissions(RECORD),
        lambda: permission.replace_object_permissions(RECORD, {"read": ["alice"]}),
        lambda: permission.delete_object_permissions(RECORD),
        lambda: permission.get_accessible_objects(["alice"]),
        permission.flush,
    ):
        with pytest.raises(PermissionBackendError) as raised:
            call()
        assert isinstance(raised.value.original, redis.exceptions.ConnectionError)
    assert permission.heartbeat() is False
    assert time.monotonic() - start < 10


def test_load_from_config_refuses_an_empty_url() -> None:
    for settings in ({}, {"cliquet.permission_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.permission_url"):
            redis_permission.load_from_config(Configurator(settings=settings))


def test_load_from_config_reads_the_prefix() -> None:
    assert _build(DEAD_REDIS_URL).prefix == ""
    permission = _build(DEAD_REDIS_URL, **{"cliquet.permission_prefix": "svc:"})
    assert permission.prefix == "svc:"
    assert repr(permission) == (
        "<cliquet.permission.redis.Permission server='127.0.0.1:1' prefix='svc:'>"
    )
