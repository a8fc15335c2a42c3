"""The Redis storage: the conformance suite, plus what only Redis shows (keys, processes)."""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest
import redis
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.migration import migrate_backends
from cliquet.redis_client import glob_escape
from cliquet.storage import (
    COMPARISON,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageError,
    UnicityError,
)
from cliquet.storage import redis as redis_storage
from cliquet.testing.storage import StorageTest
from cliquet.testing.web import TEST_SETTINGS, build_app

CID, PID = "articles", "alice"
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def _build(url: str, **settings: Any) -> redis_storage.Storage:
    config = Configurator(settings={"cliquet.storage_url": url, **settings})
    return redis_storage.load_from_config(config)


def _ready(url: str, prefix: str) -> Iterator[redis_storage.Storage]:
    backend = _build(url, **{"cliquet.storage_prefix": prefix})
    backend.initialize_schema()
    backend.flush()
    yield backend
    backend.flush()
    backend.client.close()


@pytest.fixture
def backend(redis_url: str, redis_prefix: str) -> Iterator[redis_storage.Storage]:
    yield from _ready(redis_url, redis_prefix)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look behind the backend's back."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.mark.redis
class TestRedisStorage(StorageTest):
    @pytest.fixture
    def storage(self, backend: redis_storage.Storage) -> redis_storage.Storage:
        return backend


@pytest.mark.redis
def test_keys_layout(backend: redis_storage.Storage, raw: redis.Redis, redis_prefix: str) -> None:
    kept = backend.create(CID, PID, {"id": "kept", "title": "é"})
    backend.create(CID, PID, {"id": "gone"})
    tombstone = backend.delete(CID, PID, "gone")
    base = f"{redis_prefix}{PID}/{CID}"
    assert sorted(raw.scan_iter(match=f"{glob_escape(redis_prefix)}*")) == [
        f"{base}:deleted",
        f"{base}:records",
        f"{base}:timestamp",
    ]
    assert json.loads(raw.hget(f"{base}:records", "kept") or "") == kept
    assert json.loads(raw.hget(f"{base}:deleted", "gone") or "") == tombstone
    assert raw.get(f"{base}:timestamp") == str(tombstone["last_modified"])


@pytest.mark.redis
def test_stored_json_keeps_values_exact(backend: redis_storage.Storage) -> None:
    values = {
        "big": 2**62,
        "float": 0.1,
        "empty_list": [],
        "empty_obj": {},
        "text": "a\u00e9\U0001f600",
    }
    created = backend.create(CID, PID, values)
    assert {k: created[k] for k in values} == values
    assert backend.get(CID, PID, created["id"]) == created


@pytest.mark.redis
def test_timestamps_come_from_the_redis_clock(
    backend: redis_storage.Storage, raw: redis.Redis
) -> None:
    seconds, microseconds = raw.time()
    server_now = seconds * 1000 + microseconds // 1000
    stamp = backend.create(CID, PID, {})["last_modified"]
    assert server_now <= stamp < server_now + 5_000


@pytest.mark.redis
def test_prefixes_isolate_two_instances(redis_url: str, redis_prefix: str) -> None:
    first = _build(redis_url, **{"cliquet.storage_prefix": f"{redis_prefix}one:"})
    second = _build(redis_url, **{"cliquet.storage_prefix": f"{redis_prefix}two:"})
    first.create(CID, PID, {"id": "a", "owner": "one"})
    second.create(CID, PID, {"id": "a", "owner": "two"})
    second.create(CID, PID, {"id": "b"})
    assert first.get(CID, PID, "a")["owner"] == "one"
    assert first.get_all(CID, PID)[1] == 1
    first.flush()
    with pytest.raises(RecordNotFoundError):
        first.get(CID, PID, "a")
    assert second.get(CID, PID, "a")["owner"] == "two"
    assert second.get_all(CID, PID)[1] == 2
    first.client.close()
    second.client.close()


@pytest.mark.redis
def test_flush_deletes_only_storage_keys_under_the_prefix(
    redis_url: str, redis_prefix: str, raw: redis.Redis
) -> None:
    # Glob characters in a prefix are literal: "[ab]*" must not match "a" or "b...".
    storage = _build(redis_url, **{"cliquet.storage_prefix": f"{redis_prefix}[ab]*:"})
    for n in range(600):  # more than one DEL batch
        storage.create(CID, f"user-{n}", {})
    raw.set(f"{redis_prefix}a:{PID}/{CID}:records", "foreign")
    raw.set(f"{redis_prefix}[ab]*:cache-key", "another component's")
    storage.flush()
    assert storage.get_all(CID, "user-1") == ([], 0)
    assert sorted(raw.scan_iter(match=f"{glob_escape(redis_prefix)}*")) == [
        f"{redis_prefix}[ab]*:cache-key",
        f"{redis_prefix}a:{PID}/{CID}:records",
    ]
    storage.client.close()


@pytest.mark.redis
def test_unicity_check_retries_when_the_collection_moves(
    backend: redis_storage.Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write landing between the snapshot and the script makes the check start over."""
    snapshot = backend._snapshot
    calls: list[int] = []

    def snapshot_then_write(keys: list[str]) -> Any:
        seen = snapshot(keys)
        if not calls:
            backend.create(CID, PID, {"email": "a@example.com"})
        calls.append(1)
        return seen

    monkeypatch.setattr(backend, "_snapshot", snapshot_then_write)
    with pytest.raises(UnicityError):
        backend.create(CID, PID, {"email": "a@example.com"}, unique_fields=["email"])
    assert len(calls) == 2
    assert backend.get_all(CID, PID)[1] == 1


@pytest.mark.redis
def test_concurrent_creates_of_a_unique_value_let_one_win(
    backend: redis_storage.Storage,
) -> None:
    barrier = threading.Barrier(8)

    def write(worker: int) -> int:
        barrier.wait(timeout=30)
        won = 0
        for n in range(20):
            try:
                backend.create(CID, PID, {"email": f"{n}@example.com"}, unique_fields=["email"])
                won += 1
            except UnicityError:
                pass
        return won

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(write, range(8))) == 20
    emails = [r["email"] for r in backend.get_all(CID, PID)[0]]
    assert sorted(emails) == sorted(f"{n}@example.com" for n in range(20))


@pytest.mark.redis
def test_delete_all_retries_when_the_collection_moves(
    backend: redis_storage.Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        backend.create(CID, PID, {"id": str(n), "n": n})
    snapshot = backend._snapshot
    calls: list[int] = []

    def snapshot_then_write(keys: list[str]) -> Any:
        seen = snapshot(keys)
        if not calls:
            backend.update(CID, PID, "0", {"n": 10})
        calls.append(1)
        return seen

    monkeypatch.setattr(backend, "_snapshot", snapshot_then_write)
    tombstones = backend.delete_all(CID, PID, filters=[Filter("n", 1, COMPARISON.MAX)])
    assert len(calls) == 2
    assert [t["id"] for t in tombstones] == ["1"]
    assert {r["id"] for r in backend.get_all(CID, PID)[0]} == {"0", "2"}


@pytest.mark.redis
def test_initialize_schema_tells_there_is_nothing_to_do(backend: redis_storage.Storage) -> None:
    assert backend.initialize_schema() == "storage: nothing to migrate (redis)"


@pytest.mark.redis
def test_storage_recovers_when_its_connection_is_killed(
    backend: redis_storage.Storage, raw: redis.Redis
) -> None:
    created = backend.create(CID, PID, {})
    raw.client_kill_filter(_id=str(backend.client.client_id()))
    assert backend.get(CID, PID, created["id"]) == created


def _write_in_another_process(
    url: str, prefix: str, count: int, barrier: Any, results: Any
) -> None:
    storage = _build(url, **{"cliquet.storage_prefix": prefix})
    try:
        barrier.wait(timeout=60)
        results.put([storage.create(CID, PID, {"n": n})["last_modified"] for n in range(count)])
    except Exception as e:  # reported, so that the test fails with the cause
        results.put(repr(e))
    finally:
        storage.client.close()


@pytest.mark.redis
def test_several_processes_get_unique_increasing_timestamps(
    backend: redis_storage.Storage, redis_url: str, redis_prefix: str
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_write_in_another_process,
            args=(redis_url, redis_prefix, 100, barrier, results),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        written = [results.get(timeout=60) for _ in workers]
    except queue.Empty:
        pytest.fail("a writer process did not finish")
    finally:
        for worker in workers:
            worker.join(timeout=10)
    assert all(isinstance(w, list) for w in written), written
    assert all(a < b for stamps in written for a, b in pairwise(stamps))
    everything = [stamp for stamps in written for stamp in stamps]
    assert len(set(everything)) == 200
    listed = backend.get_all(CID, PID, sorting=[Sort("last_modified", 1)])[0]
    assert [r["last_modified"] for r in listed] == sorted(everything)
    assert backend.collection_timestamp(CID, PID) == max(everything)


def test_dead_server_raises_storage_error_quickly() -> None:
    storage = _build(DEAD_REDIS_URL, **{"cliquet.storage_pool_timeout_seconds": 2})
    start = time.monotonic()
    for call in (
        lambda: storage.create(CID, PID, {}),
        lambda: storage.create(CID, PID, {"a": 1}, unique_fields=["a"]),
        lambda: storage.get(CID, PID, "id"),
        lambda: storage.update(CID, PID, "id", {}),
        lambda: storage.delete(CID, PID, "id"),
        lambda: storage.delete_all(CID, PID),
        lambda: storage.purge_deleted(CID, PID),
        lambda: storage.get_all(CID, PID),
        lambda: storage.collection_timestamp(CID, PID),
        storage.flush,
    ):
        with pytest.raises(StorageError) as raised:
            call()
        assert isinstance(raised.value.original, redis.exceptions.ConnectionError)
    assert storage.heartbeat() is False
    assert time.monotonic() - start < 10


def test_load_from_config_refuses_an_empty_or_foreign_url() -> None:
    for settings in ({}, {"cliquet.storage_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.storage_url"):
            redis_storage.load_from_config(Configurator(settings=settings))
    with pytest.raises(ConfigurationError, match="cliquet.storage_url"):
        _build("postgresql://localhost/db")


def test_load_from_config_reads_the_prefix_and_connects_lazily() -> None:
    storage = _build(DEAD_REDIS_URL, **{"cliquet.storage_prefix": "svc:"})
    assert storage.prefix == "svc:"
    assert repr(storage) == "<cliquet.storage.redis.Storage server='127.0.0.1:1' prefix='svc:'>"
    assert _build(DEAD_REDIS_URL).prefix == ""


def test_dead_server_is_a_503_with_errno_201() -> None:
    def setup(config: Configurator) -> None:
        def view(request: Any) -> Any:
            return {"count": request.registry.storage.get_all(CID, PID)[1]}

        config.add_route("listed", "/listed")
        config.add_view(view, route_name="listed", renderer="json")

    settings = {
        "cliquet.storage_backend": "cliquet.storage.redis",
        "cliquet.storage_url": DEAD_REDIS_URL,
        "cliquet.storage_pool_timeout_seconds": "2",
    }
    app = build_app(settings, setup=setup)
    assert app.get("/v1/listed", status=503).json["errno"] == 201
    assert app.get("/v1/__heartbeat__", status=503).json["storage"] is False


@pytest.mark.redis
def test_migrate_says_there_is_nothing_to_do(redis_url: str, redis_prefix: str) -> None:
    config = Configurator(
        settings={
            **TEST_SETTINGS,
            "cliquet.storage_backend": "cliquet.storage.redis",
            "cliquet.storage_url": redis_url,
            "cliquet.storage_prefix": redis_prefix,
        }
    )
    assert migrate_backends(config)[0] == "storage: nothing to migrate (redis)"
