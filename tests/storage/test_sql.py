"""The SQL storage on SQLite (a file) and PostgreSQL, and its PostgreSQL alias module."""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.sql import create_engine_from_url
from cliquet.storage import (
    COMPARISON,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageError,
    UnicityError,
    memory,
    selection,
    sql_indexes,
    sql_query,
)
from cliquet.storage import postgresql as postgresql_storage
from cliquet.storage import sql as sql_storage
from cliquet.testing.storage import StorageTest, TransactionalStorageTest
from cliquet.testing.web import build_app
from tests.servers import postgresql_database

CID, PID = "articles", "alice"
DEAD_POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:1/x"
# Short enough for the dead-server tests to be quick.
FAST_FAILURE = {"cliquet.storage_pool_timeout_seconds": "2"}


def _build(url: str, **settings: Any) -> sql_storage.Storage:
    config = Configurator(settings={"cliquet.storage_url": url, **settings})
    return sql_storage.load_from_config(config)


@pytest.fixture
def sqlite_url(fast_tmp_path: Path) -> str:
    return f"sqlite:///{fast_tmp_path / 'storage.db'}"


def _ready(url: str) -> Iterator[sql_storage.Storage]:
    backend = _build(url)
    backend.initialize_schema()
    backend.flush()
    yield backend
    backend.rollback()
    backend.flush()
    backend.engine.dispose()


@pytest.fixture(scope="session")
def shared_storages() -> Iterator[dict[str, sql_storage.Storage]]:
    """The default-configured backend of each database, migrated once per session (per
    xdist worker) and emptied around each test by ``_emptied``. Tests of other settings,
    or needing a new file, build their own (``_build``, ``sqlite_url``)."""
    backends: dict[str, sql_storage.Storage] = {}
    yield backends
    for backend in backends.values():
        backend.engine.dispose()


@pytest.fixture(scope="session")
def shared_sqlite_url(fast_session_path: Path) -> str:
    return f"sqlite:///{fast_session_path / 'shared-storage.db'}"


def _emptied(backends: dict[str, sql_storage.Storage], url: str) -> Iterator[sql_storage.Storage]:
    backend = backends.get(url)
    if backend is None:
        backend = backends[url] = _build(url)
        backend.initialize_schema()
    backend.flush()
    yield backend
    backend.rollback()
    backend.flush()


class TestSQLiteStorage(StorageTest, TransactionalStorageTest):
    @pytest.fixture
    def storage(
        self, shared_storages: dict[str, sql_storage.Storage], shared_sqlite_url: str
    ) -> Iterator[sql_storage.Storage]:
        yield from _emptied(shared_storages, shared_sqlite_url)


@pytest.mark.postgresql
class TestPostgreSQLStorage(StorageTest, TransactionalStorageTest):
    @pytest.fixture
    def storage(
        self, shared_storages: dict[str, sql_storage.Storage], postgresql_url: str
    ) -> Iterator[sql_storage.Storage]:
        yield from _emptied(shared_storages, postgresql_url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def sql_url(request: pytest.FixtureRequest) -> str:
    """A database URL per dialect, the session's (emptied by ``storage``): a SQLite file,
    a throw-away PostgreSQL database. ``sqlite_url`` is a new file of the test's own."""
    name = "postgresql_url" if request.param == "postgresql" else "shared_sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def storage(
    shared_storages: dict[str, sql_storage.Storage], sql_url: str
) -> Iterator[sql_storage.Storage]:
    yield from _emptied(shared_storages, sql_url)


class _Statements:
    """The SQL statements an engine runs, with their parameters."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.split(" ", 1)[0] not in ("BEGIN", "COMMIT", "ROLLBACK"):  # not queries
            self.seen.append((statement, parameters))

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


# Same answers as the memory backend, the reference of the semantics.

MIXED_VALUES: list[Any] = [
    None,
    False,
    True,
    0,
    1,
    1.0,
    2.5,
    -3,
    10**15,
    "",
    "a",
    "B",
    "é",
    "abc",
    "a%b",
    "a_b",
    "Z",
    [1, 2],
    {"a": 1, "b": [True]},
]
_MISSING = object()


def _mixed_records(storage: Any) -> None:
    for n, value in enumerate([*MIXED_VALUES, _MISSING]):
        record: dict[str, Any] = {"name": f"r{n}", "nested": {"deep": {}}}
        if value is not _MISSING:
            record["v"] = value
            record["nested"]["deep"]["v"] = value
        storage.create(CID, PID, record)


@pytest.fixture
def both(storage: sql_storage.Storage) -> tuple[sql_storage.Storage, memory.Storage]:
    reference = memory.Storage()
    _mixed_records(storage)
    _mixed_records(reference)
    return storage, reference


def _names(storage: Any, **kwargs: Any) -> list[str]:
    return [r["name"] for r in storage.get_all(CID, PID, **kwargs)[0]]


_SCALARS = [v for v in MIXED_VALUES if not isinstance(v, (list, dict))]
COMPARED_FILTERS = (
    [
        Filter(field, value, operator)
        for field in ("v", "nested.deep.v")
        for operator in (COMPARISON.EQ, COMPARISON.NOT, COMPARISON.LT, COMPARISON.MIN)
        for value in _SCALARS
    ]
    + [
        Filter("v", value, operator)
        for operator in (COMPARISON.GT, COMPARISON.MAX, COMPARISON.EQ, COMPARISON.NOT)
        # Arrays and objects: across types and equality only (see cliquet.storage.sql_query).
        for value in ([1, 2], {"b": [True], "a": 1}, 4.5, "b", None)
    ]
    + [
        Filter("v", [1, "a", None, True], COMPARISON.IN),
        Filter("v", [1.0, "é", [1, 2], {"a": 1, "b": [True]}], COMPARISON.IN),
        Filter("v", [0, False, ""], COMPARISON.EXCLUDE),
        Filter("v", [], COMPARISON.IN),
        Filter("v", [], COMPARISON.EXCLUDE),
        Filter("v", True, COMPARISON.HAS),
        Filter("nested.deep.v", False, COMPARISON.HAS),
        Filter("nested.deep", True, COMPARISON.HAS),
        Filter("v", "A", COMPARISON.LIKE),
        Filter("v", "a*", COMPARISON.LIKE),
        Filter("v", "*B", COMPARISON.LIKE),
        Filter("v", "a%b", COMPARISON.LIKE),
        Filter("v", "a_b", COMPARISON.LIKE),
        Filter("v", "_", COMPARISON.LIKE),
        Filter("v", "%", COMPARISON.LIKE),
        Filter("v", "1", COMPARISON.LIKE),
        Filter("name", "r1*", COMPARISON.LIKE),
        Filter("v.a", 1, COMPARISON.EQ),
        Filter("v.0", 1, COMPARISON.EQ),
        Filter("v.b", [True], COMPARISON.EQ),
    ]
)


def test_filters_match_like_the_memory_backend(both: tuple[Any, Any]) -> None:
    # One test for the few hundred filters: the records are written once.
    storage, reference = both
    wrong = [
        condition
        for condition in COMPARED_FILTERS
        if set(_names(storage, filters=[condition])) != set(_names(reference, filters=[condition]))
    ]
    assert wrong == []


def test_sorts_like_the_memory_backend(both: tuple[Any, Any]) -> None:
    storage, reference = both
    for field in ["v", "nested.deep.v", "name"]:
        for sorting in ([Sort(field, 1)], [Sort(field, -1)], [Sort(field, -1), Sort("name", 1)]):
            expected = _names(reference, sorting=sorting)
            assert _names(storage, sorting=sorting) == expected, sorting
            assert _names(storage, sorting=sorting, limit=5) == expected[:5], sorting


def test_filters_on_id_and_last_modified_of_other_types(both: tuple[Any, Any]) -> None:
    storage, reference = both
    some = storage.get_all(CID, PID, limit=3)[0][-1]
    for condition in [
        Filter("id", 5, COMPARISON.GT),
        Filter("id", 5, COMPARISON.LT),
        Filter("id", None, COMPARISON.MIN),
        Filter("id", [some["id"], 3], COMPARISON.IN),
        Filter("id", some["id"][:8], COMPARISON.LIKE),
        Filter("last_modified", "x", COMPARISON.LT),
        Filter("last_modified", True, COMPARISON.GT),
        Filter("last_modified", some["last_modified"] + 0.5, COMPARISON.LT),
        Filter("last_modified", float(some["last_modified"]), COMPARISON.MIN),
        Filter("last_modified", 2**70, COMPARISON.LT),
        Filter("last_modified", False, COMPARISON.HAS),
        Filter("last_modified", "1*", COMPARISON.LIKE),
    ]:
        expected = {
            r["name"] for r in storage.get_all(CID, PID)[0] if selection.matches(r, condition)
        }
        assert set(_names(storage, filters=[condition])) == expected, condition


def test_sort_on_id(storage: sql_storage.Storage) -> None:
    for object_id in ["b", "a", "é", "B", "aa", "\U0001f600"]:
        storage.create(CID, PID, {"id": object_id})
    listed = [r["id"] for r in storage.get_all(CID, PID, sorting=[Sort("id", 1)])[0]]
    assert listed == sorted(listed)


def test_equal_objects_ignore_key_order(storage: sql_storage.Storage) -> None:
    storage.create(CID, PID, {"id": "x", "v": {"b": 1, "a": {"d": 2, "c": 3}}})
    condition = Filter("v", {"a": {"c": 3, "d": 2}, "b": 1}, COMPARISON.EQ)
    assert [r["id"] for r in storage.get_all(CID, PID, filters=[condition])[0]] == ["x"]


def test_unique_fields_are_top_level_names(storage: sql_storage.Storage) -> None:
    unique: dict[str, Any] = {"unique_fields": ["a.b"]}
    taken = storage.create(CID, PID, {"a.b": 1, "a": {"b": 2}}, **unique)
    storage.create(CID, PID, {"a.b": 2}, **unique)
    with pytest.raises(UnicityError) as raised:
        storage.create(CID, PID, {"a.b": 1.0}, **unique)
    assert raised.value.record == taken


def test_large_numbers_and_text(storage: sql_storage.Storage) -> None:
    big = 2**64 + 1
    storage.create(CID, PID, {"id": "big", "v": big, "t": "x" * 10_000})
    assert storage.get(CID, PID, "big")["v"] == big
    listed = storage.get_all(CID, PID, filters=[Filter("v", 2**63, COMPARISON.GT)])[0]
    assert [r["id"] for r in listed] == ["big"]


def test_sqlite_like_folds_case_on_connections_opened_before_the_storage(
    sqlite_url: str,
) -> None:
    # Backends on one URL share an engine: its connections may predate the storage.
    engine = create_engine_from_url(sqlite_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    storage = sql_storage.Storage(engine)
    storage.initialize_schema()
    storage.create(CID, PID, {"name": "ΩMEGA"})
    found = storage.get_all(CID, PID, filters=[Filter("name", "ωmega", COMPARISON.LIKE)])[0]
    assert [r["name"] for r in found] == ["ΩMEGA"]
    engine.dispose()


@pytest.mark.postgresql
def test_postgresql_holds_big_floats_as_their_exact_value(postgresql_url: str) -> None:
    storage = next(_ready(postgresql_url))
    storage.create(CID, PID, {"id": "f", "v": float(2**64), "small": 0.1, "e": 1e16})
    with storage.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT (data->'v')::numeric, (data->'small')::numeric, (data->'e')::numeric"
            " FROM records WHERE id = 'f'"
        ).one()
    assert row == (Decimal(2**64), Decimal("0.1"), Decimal(10**16))
    record = storage.get(CID, PID, "f")
    assert (repr(record["v"]), repr(record["small"]), repr(record["e"])) == (
        "1.8446744073709552e+19",
        "0.1",
        "1e+16",
    )
    storage.flush()
    storage.engine.dispose()


# Timestamps and units of work


def test_a_rolled_back_write_leaves_the_collection_timestamp(storage: sql_storage.Storage) -> None:
    """The database decides: no process remembers a rolled-back timestamp, and none needs to
    (no client was told it). The next write is above what is committed."""
    record = storage.create(CID, PID, {})
    far = record["last_modified"] + 3_600_000
    storage.begin()
    assert storage.delete(CID, PID, record["id"], last_modified=far)["last_modified"] == far
    storage.create(CID, PID, {"id": "gone"})
    storage.rollback()
    assert storage.collection_timestamp(CID, PID) == record["last_modified"]
    assert storage.get(CID, PID, record["id"]) == record
    with pytest.raises(RecordNotFoundError):
        storage.get(CID, PID, "gone")
    assert storage.create(CID, PID, {})["last_modified"] > record["last_modified"]


def test_a_lock_that_wrote_nothing_leaves_the_collection_timestamp(
    storage: sql_storage.Storage,
) -> None:
    before = storage.create(CID, PID, {})["last_modified"]
    storage.begin()
    storage.lock_collection(CID, PID)
    assert storage.collection_timestamp(CID, PID) == before
    storage.commit()
    assert storage.collection_timestamp(CID, PID) == before
    assert storage.create(CID, PID, {})["last_modified"] > before


def test_a_write_in_a_unit_of_work_is_the_lock_and_one_statement(
    storage: sql_storage.Storage,
) -> None:
    """The lock reserves the timestamp and tells the previous one: reading the collection's
    timestamp (the preconditions) then costs nothing, and the write sends only itself."""
    before = storage.create(CID, PID, {"id": "a"})["last_modified"]
    statements = _Statements(storage.engine)
    try:
        storage.begin()
        storage.lock_collection(CID, PID)
        assert storage.collection_timestamp(CID, PID) == before
        created = storage.create(CID, PID, {"title": "x"})
        assert storage.collection_timestamp(CID, PID) == created["last_modified"]
        storage.commit()
        lock, write = statements.seen
        assert lock[0].startswith("INSERT INTO timestamps") and "RETURNING" in lock[0]
        assert write[0].startswith("INSERT INTO records")
        statements.seen.clear()
        assert storage.get(CID, PID, "a")["id"] == "a"
        [(read, _)] = statements.seen
        assert read.startswith("SELECT")
    finally:
        statements.close()
    assert created["last_modified"] > before
    assert storage.collection_timestamp(CID, PID) == created["last_modified"]


def test_writes_of_one_unit_of_work_take_the_timestamps_after_the_lock(
    storage: sql_storage.Storage,
) -> None:
    """Under the collection's lock each write takes the timestamp after the last one; the
    timestamps row is brought to the last once, before commit."""
    before = storage.create(CID, PID, {"id": "a"})["last_modified"]
    statements = _Statements(storage.engine)
    try:
        storage.begin()
        storage.lock_collection(CID, PID)
        written = [storage.create(CID, PID, {"n": n})["last_modified"] for n in range(3)]
        written.append(storage.update(CID, PID, "a", {"n": 3})["last_modified"])
        written.append(storage.delete(CID, PID, "a")["last_modified"])
        assert storage.collection_timestamp(CID, PID) == written[-1]
        storage.commit()
    finally:
        statements.close()
    kinds = [statement.split(" ", 2)[:2] for statement, _ in statements.seen]
    assert kinds == [
        ["INSERT", "INTO"],  # the lock, reserving the first timestamp
        *[["INSERT", "INTO"]] * 4,
        ["UPDATE", "records"],  # the tombstone
        ["UPDATE", "timestamps"],  # before commit: the row at the last timestamp
    ]
    assert before < written[0] and all(a < b for a, b in pairwise(written))
    assert storage.collection_timestamp(CID, PID) == written[-1]
    tombstone = storage.get_all(CID, PID, include_deleted=True, filters=[])[0]
    assert max(r["last_modified"] for r in tombstone) == written[-1]
    assert storage.create(CID, PID, {})["last_modified"] > written[-1]


def test_a_bulk_delete_after_writes_of_its_unit_of_work_follows_them(
    storage: sql_storage.Storage,
) -> None:
    storage.begin()
    storage.lock_collection(CID, PID)
    written = [storage.create(CID, PID, {"n": n})["last_modified"] for n in range(3)]
    tombstones = storage.delete_all(CID, PID)
    storage.commit()
    stamps = sorted(t["last_modified"] for t in tombstones)
    assert len(stamps) == 3 and stamps[0] > written[-1]
    assert all(a < b for a, b in pairwise(stamps))
    assert storage.collection_timestamp(CID, PID) == stamps[-1]


def test_writes_build_their_common_statements_once(storage: sql_storage.Storage) -> None:
    """The same statement object each call: SQLAlchemy computes its cache key once."""
    seen: set[int] = set()

    def record(conn: Any, clauseelement: Any, *args: Any) -> None:
        seen.add(id(clauseelement))

    sa.event.listen(storage.engine, "before_execute", record)
    try:
        for n in range(5):
            storage.begin()
            storage.lock_collection(CID, PID)
            storage.create(CID, PID, {"n": n})
            storage.create(CID, PID, {"id": f"given-{n}", "n": n})  # the id: no guard
            storage.create(CID, PID, {"id": f"gone-{n}"})
            storage.delete(CID, PID, f"gone-{n}")
            storage.commit()
            with pytest.raises(RecordNotFoundError):
                storage.get(CID, PID, f"missing-{n}")
    finally:
        sa.event.remove(storage.engine, "before_execute", record)
    # The lock, the write, the tombstone, the timestamps row moved at commit, the read.
    assert len(seen) == 5
    with pytest.raises(UnicityError):  # the statement itself refuses a live id
        storage.create(CID, PID, {"id": "given-0"})
    storage.delete(CID, PID, "given-0")
    assert storage.create(CID, PID, {"id": "given-0"})["id"] == "given-0"  # over a tombstone


def test_failed_writes_cost_no_timestamp(storage: sql_storage.Storage) -> None:
    storage.create(CID, PID, {"id": "a", "email": "a@example.com"})
    before = storage.collection_timestamp(CID, PID)
    storage.begin()
    with pytest.raises(UnicityError):
        storage.create(CID, PID, {"id": "a"})
    with pytest.raises(UnicityError):
        storage.create(CID, PID, {"email": "a@example.com"}, unique_fields=["email"])
    with pytest.raises(UnicityError):
        storage.update(CID, PID, "b", {"email": "a@example.com"}, unique_fields=["email"])
    with pytest.raises(RecordNotFoundError):
        storage.delete(CID, PID, "unknown")
    storage.commit()
    assert storage.collection_timestamp(CID, PID) == before


def test_units_of_work_are_per_thread(storage: sql_storage.Storage) -> None:
    storage.begin()
    storage.create(CID, PID, {"id": "mine"})
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Another thread runs outside the unit of work and does not see its writes.
        seen = pool.submit(lambda: storage.get_all(CID, PID)[1]).result()
        assert seen == 0
        pool.submit(storage.rollback).result()  # not that thread's to end
    storage.commit()
    assert storage.get(CID, PID, "mine")["id"] == "mine"


def test_concurrent_unique_writes_admit_one(storage: sql_storage.Storage) -> None:
    barrier = threading.Barrier(6)

    def write(worker: int) -> bool:
        barrier.wait(timeout=30)
        try:
            storage.create(CID, PID, {"email": "same", "w": worker}, unique_fields=["email"])
        except UnicityError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sum(pool.map(write, range(6))) == 1
    assert storage.get_all(CID, PID)[1] == 1


def _write_in_another_process(url: str, count: int, barrier: Any, results: Any) -> None:
    try:
        storage = _build(url)
        barrier.wait(timeout=60)
        stamps = []
        for n in range(count):
            if n % 2:  # as a request does: lock, write, commit; a rolled-back one between
                storage.begin()
                storage.lock_collection(CID, PID)
                storage.create(CID, PID, {"rolled back": n})
                storage.rollback()
                storage.begin()
                storage.lock_collection(CID, PID)
                stamps.append(storage.create(CID, PID, {"n": n})["last_modified"])
                storage.commit()
            else:
                stamps.append(storage.create(CID, PID, {"n": n})["last_modified"])
        storage.engine.dispose()
        results.put(stamps)
    except BaseException as e:
        results.put(f"{type(e).__name__}: {e}")


def test_several_processes_get_unique_increasing_timestamps(
    storage: sql_storage.Storage, sql_url: str
) -> None:
    """Decided by the database alone: no process keeps a timestamp of its own, rolled back
    units of work included."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_write_in_another_process, args=(sql_url, 100, barrier, results))
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
    listed = storage.get_all(CID, PID, sorting=[Sort("last_modified", 1)])[0]
    assert [r["last_modified"] for r in listed] == sorted(everything)
    assert storage.collection_timestamp(CID, PID) == max(everything)


# Queries are done by the database


def test_list_all_and_count_all_are_one_statement_each(storage: sql_storage.Storage) -> None:
    for n in range(20):
        storage.create(CID, PID, {"n": n})
    statements = _Statements(storage.engine)
    at_least_5 = [Filter("n", 5, COMPARISON.MIN)]
    try:
        records = storage.list_all(
            CID,
            PID,
            filters=at_least_5,
            sorting=[Sort("n", 1)],
            pagination_rules=[[Filter("n", 8, COMPARISON.GT)]],
            limit=3,
        )
        [(listing, _)] = statements.seen
        count = storage.count_all(CID, PID, filters=at_least_5)
        empty = storage.list_all(CID, PID, filters=[Filter("n", 99, COMPARISON.EQ)])
        zero = storage.count_all(CID, PID, filters=[Filter("n", 99, COMPARISON.EQ)])
    finally:
        statements.close()
    assert [r["n"] for r in records] == [9, 10, 11] and count == 15
    assert (empty, zero) == ([], 0)
    assert len(statements.seen) == 4
    # The listing counts nothing; the count selects nothing but the count.
    assert "count(" not in listing.lower()
    assert statements.seen[1][0].startswith("SELECT count(*) AS count_1 \nFROM records \nWHERE")


@pytest.mark.postgresql
def test_postgresql_filters_sorts_and_limits_in_one_query(postgresql_url: str) -> None:
    storage = next(_ready(postgresql_url))
    with storage.engine.begin() as conn:
        conn.execute(
            sa.insert(sql_query.records),
            [
                {
                    "parent_id": PID,
                    "collection_id": CID,
                    "id": f"r{n:04}",
                    "data": {"n": n, "tag": "even" if n % 2 == 0 else "odd"},
                    "last_modified": 1_000 + n,
                    "deleted": False,
                }
                for n in range(2_000)
            ],
        )
    statements = _Statements(storage.engine)
    try:
        records = storage.list_all(
            CID,
            PID,
            filters=[Filter("n", 1_000, COMPARISON.GT), Filter("tag", "even", COMPARISON.EQ)],
            sorting=[Sort("n", -1)],
            limit=10,
        )
    finally:
        statements.close()
    assert [r["n"] for r in records] == list(range(1998, 1978, -2))
    [(statement, parameters)] = statements.seen
    with storage.engine.connect() as conn:
        explained = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = json.dumps(explained.scalar())
    # The database sorts, limits and filters on the JSON fields: Python gets ten rows.
    assert '"Node Type": "Limit"' in plan and "jsonb_typeof" in plan
    storage.flush()
    storage.engine.dispose()


# Counts and indexes: what lists cost does not grow with the collection


def _live_counts(storage: sql_storage.Storage) -> dict[tuple[str, str], int]:
    query = sa.text(
        "SELECT collection_id, parent_id, count(*) FROM records WHERE NOT deleted "
        "GROUP BY collection_id, parent_id"
    )
    with storage.engine.connect() as conn:
        return {(c, p): n for c, p, n in conn.execute(query)}


def test_counts_stay_exact_whoever_writes_the_records(storage: sql_storage.Storage) -> None:
    records = sql_query.records
    alice = [storage.create(CID, PID, {"n": n})["id"] for n in range(6)]
    storage.delete(CID, PID, alice[0])
    storage.delete_all(CID, PID, filters=[Filter("n", 4, COMPARISON.MIN)], with_deleted=False)
    storage.update(CID, PID, alice[0], {"n": 0})  # back from its tombstone
    row = {"collection_id": CID, "data": {}, "last_modified": 1}
    with storage.engine.begin() as conn:  # a bulk load, a script: not through the backend
        conn.execute(
            sa.insert(records),
            [{**row, "parent_id": "bob", "id": str(n), "deleted": n % 3 == 0} for n in range(9)],
        )
        conn.execute(sa.update(records).where(records.c.id == "1").values(deleted=True))
        conn.execute(sa.update(records).where(records.c.id == "3").values(deleted=False))
        conn.execute(sa.delete(records).where(records.c.id.in_(["2", "6"])))
    expected = _live_counts(storage)
    assert expected == {(CID, PID): 4, (CID, "bob"): 5}
    for collection_id, parent_id in [*expected, ("comments", PID)]:
        assert storage.count_all(collection_id, parent_id) == expected.get(
            (collection_id, parent_id), 0
        )
    storage.begin()
    storage.create(CID, PID, {})
    assert storage.count_all(CID, PID) == 5  # its own writes, inside a unit of work
    storage.rollback()
    assert storage.count_all(CID, PID) == 4
    storage.flush()
    assert storage.count_all(CID, PID) == 0


def test_an_unfiltered_count_reads_one_row_of_the_counts(storage: sql_storage.Storage) -> None:
    storage.create(CID, PID, {})
    statements = _Statements(storage.engine)
    try:
        assert storage.count_all(CID, PID) == 1
    finally:
        statements.close()
    [(statement, _)] = statements.seen
    assert "FROM record_counts" in statement and "FROM records" not in statement


def test_migrating_a_database_with_records_counts_them(sqlite_url: str) -> None:
    from alembic import command

    from cliquet import migration

    storage = _build(sqlite_url)
    config = migration._config("storage")
    with storage.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "storage_0001")  # a database of the previous revision
        row = {"collection_id": CID, "data": {}, "last_modified": 1}
        conn.execute(
            sa.insert(sql_query.records),
            [{**row, "parent_id": PID, "id": str(n), "deleted": n == 0} for n in range(5)],
        )
    assert storage.initialize_schema() == "storage: upgraded storage_0001 -> storage_0003"
    assert storage.count_all(CID, PID) == 4
    storage.delete(CID, PID, "1")
    assert storage.count_all(CID, PID) == 3
    storage.engine.dispose()


# 20,000 records of one user, 20,000 of another; one in ten of the first is a tombstone.
BULK = 20_000
BULK_LOAD = f"""
INSERT INTO records (parent_id, collection_id, id, data, last_modified, deleted)
SELECT CASE WHEN i <= {BULK} THEN '{PID}' ELSE 'bob' END, '{CID}', 'r' || i,
       CASE WHEN i <= {BULK} AND i %% 10 = 0 THEN '{{"deleted": true}}'::jsonb
            ELSE jsonb_build_object('n', i, 'group', 'g' || (i %% 100),
                                    'body', repeat('lorem ipsum ', 20)) END,
       1000 + i, i <= {BULK} AND i %% 10 = 0
FROM generate_series(1, 2 * {BULK}) AS i
"""


@pytest.fixture(scope="session")
def _bulk_storage() -> Iterator[sql_storage.Storage]:
    """A database of its own holding the bulk collection, loaded once per session."""
    with postgresql_database() as url:
        storage = _build(url)
        storage.initialize_schema()
        with storage.engine.begin() as conn:
            conn.exec_driver_sql(BULK_LOAD)
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE records")
        yield storage
        storage.engine.dispose()


@pytest.fixture
def bulk_postgresql(_bulk_storage: sql_storage.Storage) -> Iterator[sql_storage.Storage]:
    """The bulk collection, which its tests only read (fields they declare, they undeclare)."""
    yield _bulk_storage
    assert _bulk_storage.count_all(CID, PID) == BULK - BULK // 10, "a test wrote to it"
    with _bulk_storage.engine.connect() as conn:
        assert sql_indexes.existing(conn) == set(), "a test left its fields declared"


def _plan(storage: sql_storage.Storage, call: Any) -> tuple[Any, dict[str, Any]]:
    """What ``call(storage)`` returns, and the plan of its (last) statement as it ran."""
    statements = _Statements(storage.engine)
    try:
        result = call(storage)
    finally:
        statements.close()
    statement, parameters = statements.seen[-1]
    with storage.engine.connect() as conn:
        explained = conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
        ).scalar()
    return result, explained[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _scans(plan: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """``(node type, index, rows read)`` of each scan of the records in a plan."""
    return [
        (node["Node Type"], node.get("Index Name"), node["Actual Rows"])
        for node in _nodes(plan)
        if node.get("Relation Name") == "records" or "Index Name" in node
    ]


LIVE_INDEX = "idx_records_live_parent_id_collection_id_last_modified"
DATA_INDEX = "idx_records_data_jsonb_path_ops"


@pytest.mark.postgresql
@pytest.mark.parametrize("depth", [0, BULK // 2, BULK - 500], ids=["first", "middle", "last"])
def test_postgresql_pages_at_any_depth_read_one_page_of_an_index(
    bulk_postgresql: sql_storage.Storage, depth: int
) -> None:
    from cliquet.resource import querystring

    sorting = [Sort("last_modified", -1)]
    rules = None
    if depth:  # what a Next-Page token of the default order asks for
        last = {"last_modified": 1000 + BULK - depth}
        rules = querystring.build_pagination_rules(sorting, last, until=1000 + 2 * BULK)

    def page(storage: sql_storage.Storage) -> list[dict[str, Any]]:
        return storage.list_all(CID, PID, sorting=sorting, pagination_rules=rules, limit=101)

    records, plan = _plan(bulk_postgresql, page)
    below = BULK - depth if depth else BULK + 1  # the cursor's record, as BULK_LOAD numbers it
    expected = [i for i in range(below - 1, 0, -1) if i % 10][:101]
    assert [r["n"] for r in records] == expected
    # One scan of the live records' index, in its order (no sort), reading the page only.
    assert _scans(plan) == [("Index Scan", LIVE_INDEX, 101)]
    assert not any(node["Node Type"] == "Sort" for node in _nodes(plan))


@pytest.mark.postgresql
@pytest.mark.parametrize("value", [BULK // 2 + 1, "g7"], ids=["one record", "one percent"])
def test_postgresql_equality_filters_read_what_the_gin_index_finds(
    bulk_postgresql: sql_storage.Storage, value: Any
) -> None:
    field = "n" if isinstance(value, int) else "group"
    filters = [Filter(field, value, COMPARISON.EQ)]
    expected = 1 if isinstance(value, int) else BULK // 100
    # What the index finds: the matches of every collection (Bob's records have groups too).
    found = 1 if isinstance(value, int) else 2 * BULK // 100

    def listing(storage: sql_storage.Storage) -> list[dict[str, Any]]:
        return storage.list_all(CID, PID, filters=filters, limit=10_001)

    def counting(storage: sql_storage.Storage) -> int:
        return storage.count_all(CID, PID, filters=filters)

    for call, size in ((listing, lambda r: len(r)), (counting, lambda n: n)):
        result, plan = _plan(bulk_postgresql, call)
        assert size(result) == expected
        scans = _scans(plan)
        assert ("Bitmap Index Scan", DATA_INDEX, found) in scans
        assert ("Bitmap Heap Scan", None, expected) in scans  # no other record read
        assert len(scans) == 2


@pytest.mark.postgresql
def test_postgresql_counts_read_no_record(bulk_postgresql: sql_storage.Storage) -> None:
    count, plan = _plan(bulk_postgresql, lambda storage: storage.count_all(CID, PID))
    assert count == BULK - BULK // 10
    assert _scans(plan) == [("Index Scan", "record_counts_pkey", 1)]


@pytest.fixture
def sqlite_storage(
    shared_storages: dict[str, sql_storage.Storage], shared_sqlite_url: str
) -> Iterator[sql_storage.Storage]:
    yield from _emptied(shared_storages, shared_sqlite_url)


def test_sqlite_pages_and_counts_use_the_index_of_live_records(
    sqlite_storage: sql_storage.Storage,
) -> None:
    storage = sqlite_storage
    for n in range(30):
        storage.create(CID, PID, {"n": n})
    sorting = [Sort("last_modified", -1)]
    rules = [[Filter("last_modified", 2**40, COMPARISON.LT)]]
    statements = _Statements(storage.engine)
    try:
        storage.list_all(CID, PID, limit=10)
        storage.list_all(CID, PID, sorting=sorting, pagination_rules=rules, limit=10)
        storage.count_all(CID, PID, filters=[Filter("last_modified", 0, COMPARISON.GT)])
    finally:
        statements.close()
    with storage.engine.connect() as conn:
        for statement, parameters in statements.seen:
            plan = " ".join(
                row[-1]
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert f"USING INDEX {LIVE_INDEX}" in plan or f"COVERING INDEX {LIVE_INDEX}" in plan
            assert "TEMP B-TREE" not in plan  # no sort: the index's order


# Schema and instances


def test_initialize_schema_twice_is_harmless(storage: sql_storage.Storage) -> None:
    record = storage.create(CID, PID, {"title": "kept"})
    storage.initialize_schema()
    storage.initialize_schema()
    storage.initialize_schema(dry_run=True)
    assert storage.get(CID, PID, record["id"]) == record


def test_initialize_schema_tells_what_it_does(sqlite_url: str) -> None:
    storage = _build(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    assert storage.initialize_schema(dry_run=True) == (
        f"storage: would create {path} and upgrade empty -> storage_0003"
    )
    assert not Path(path).exists()  # a dry run creates nothing, not even the file
    assert storage.initialize_schema() == "storage: upgraded empty -> storage_0003"
    assert storage.initialize_schema() == "storage: up to date (revision storage_0003)"
    # The revision's tables are exactly those the backend queries.
    from cliquet.storage.sql_query import metadata

    inspector = sa.inspect(storage.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
    storage.engine.dispose()


def test_a_missing_table_is_an_error_not_created_at_request_time(sqlite_url: str) -> None:
    storage = _build(sqlite_url)
    with pytest.raises(StorageError) as raised:
        storage.create(CID, PID, {})
    assert isinstance(raised.value.original, sa.exc.DBAPIError)
    assert not sa.inspect(storage.engine).has_table("records")
    assert storage.heartbeat() is False
    storage.engine.dispose()


def test_two_instances_share_one_sqlite_file(sqlite_url: str) -> None:
    writer, reader = _build(sqlite_url), _build(sqlite_url)
    writer.initialize_schema()
    created = writer.create(CID, PID, {"title": "shared"})
    assert reader.get(CID, PID, created["id"]) == created
    reader.delete(CID, PID, created["id"])
    assert writer.get_all(CID, PID) == ([], 0)
    assert writer.collection_timestamp(CID, PID) == reader.collection_timestamp(CID, PID)
    writer.engine.dispose()
    reader.engine.dispose()


def test_repr_names_the_database_without_its_password() -> None:
    storage = _build("postgresql://user:secret@db.example/cliquet")
    assert "secret" not in repr(storage)
    assert repr(storage).startswith("<cliquet.storage.sql.Storage url='postgresql+psycopg://")


# A dead server


def test_dead_server_raises_storage_error_quickly() -> None:
    storage = _build(DEAD_POSTGRESQL_URL, **FAST_FAILURE)
    start = time.monotonic()
    for call in (
        lambda: storage.get_all(CID, PID),
        lambda: storage.create(CID, PID, {}),
        lambda: storage.delete(CID, PID, "x"),
        lambda: storage.collection_timestamp(CID, PID),
        storage.flush,
        storage.initialize_schema,
    ):
        with pytest.raises(StorageError) as raised:
            call()
        assert isinstance(raised.value.original, sa.exc.OperationalError)
    storage.begin()
    with pytest.raises(StorageError):
        storage.get(CID, PID, "x")
    storage.rollback()
    assert storage.heartbeat() is False
    assert time.monotonic() - start < 10


def test_dead_server_is_a_503_with_errno_201() -> None:
    def setup(config: Configurator) -> None:
        def view(request: Any) -> Any:
            return {"count": request.registry.storage.get_all(CID, PID)[1]}

        config.add_route("listed", "/listed")
        config.add_view(view, route_name="listed", renderer="json")

    settings = {
        "cliquet.storage_backend": "cliquet.storage.sql",
        "cliquet.storage_url": DEAD_POSTGRESQL_URL,
        **FAST_FAILURE,
    }
    app = build_app(settings, setup=setup)
    assert app.get("/v1/listed", status=503).json["errno"] == 201
    assert app.get("/v1/__heartbeat__", status=503).json["storage"] is False


@pytest.mark.postgresql
def test_postgresql_storage_recovers_when_its_connections_are_killed(
    storage: sql_storage.Storage, postgresql_url: str
) -> None:
    import psycopg

    created = storage.create(CID, PID, {})
    with psycopg.connect(postgresql_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert storage.get(CID, PID, created["id"]) == created


# Settings and the alias module


def test_load_from_config_refuses_an_empty_url() -> None:
    for settings in ({}, {"cliquet.storage_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.storage_url"):
            sql_storage.load_from_config(Configurator(settings=settings))


def test_load_from_config_reads_pool_settings_and_connects_lazily() -> None:
    storage = _build(DEAD_POSTGRESQL_URL, **{"cliquet.storage_pool_size": "3"})
    assert storage.engine.pool.size() == 3  # type: ignore[attr-defined]
    assert storage.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="cliquet.storage_pool_size"):
        _build(DEAD_POSTGRESQL_URL, **{"cliquet.storage_pool_size": "many"})


@pytest.mark.postgresql
def test_postgresql_alias_module(postgresql_url: str) -> None:
    assert postgresql_storage.Storage is sql_storage.Storage
    config = Configurator(settings={"cliquet.storage_url": postgresql_url})
    storage = postgresql_storage.load_from_config(config)
    storage.initialize_schema()
    created = storage.create("alias", PID, {"via": "postgresql"})
    assert storage.get("alias", PID, created["id"]) == created
    storage.delete_all("alias", PID, with_deleted=False)
    storage.engine.dispose()


def test_postgresql_alias_refuses_other_databases(sqlite_url: str) -> None:
    config = Configurator(settings={"cliquet.storage_url": sqlite_url})
    with pytest.raises(ConfigurationError, match="cliquet.storage_url"):
        postgresql_storage.load_from_config(config)
    with pytest.raises(ConfigurationError, match="cliquet.storage_url"):
        postgresql_storage.load_from_config(Configurator(settings={}))


def test_load_from_config_refuses_a_sqlite_without_returning(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_storage.sqlite3, "sqlite_version_info", (3, 34, 1))
    with pytest.raises(ConfigurationError, match="cliquet.storage_url.*3.35"):
        _build(sqlite_url)


# Memory: compiled statements are cached by shape, and values must not make new shapes


def _compiled_statements(storage: sql_storage.Storage) -> int:
    # SQLAlchemy's cache of compiled statements (an LRU of query_cache_size entries, each
    # as large as its statement): one entry per distinct IN-list length once took 10 MB each.
    return len(storage.engine._compiled_cache)


def test_in_filters_of_any_length_share_one_compiled_statement(sql_url: str) -> None:
    storage = _build(sql_url)
    storage.initialize_schema()
    storage.flush()
    ids = [storage.create(CID, PID, {"title": str(n), "n": n})["id"] for n in range(3)]

    def listing(size: int) -> None:
        values = list(range(size))
        filters = [
            Filter("title", [str(v) for v in values], COMPARISON.IN),
            Filter("n", [*values, 0.5], COMPARISON.IN),
            Filter("tags", [[v] for v in values], COMPARISON.EXCLUDE),
            Filter("author", [{"id": v} for v in values], COMPARISON.EXCLUDE),
            Filter("id", [*ids, *map(str, values)], COMPARISON.IN),
            Filter("last_modified", values, COMPARISON.EXCLUDE),
        ]
        storage.get_all(CID, PID, filters=filters, limit=2)

    try:
        listing(2)
        before = _compiled_statements(storage)
        for size in range(3, 60):
            listing(size)
        assert _compiled_statements(storage) == before
    finally:
        storage.flush()
        storage.engine.dispose()


def test_deleting_any_number_of_records_makes_few_compiled_statements(sql_url: str) -> None:
    storage = _build(sql_url)
    storage.initialize_schema()
    storage.flush()
    try:
        storage.create(CID, PID, {})
        storage.delete_all(CID, PID)
        before = _compiled_statements(storage)
        # Every count up to 9, then each side of the powers of two up to 65.
        for count in [*range(1, 10), 15, 16, 17, 31, 32, 33, 63, 64, 65]:
            for _ in range(count):
                storage.create(CID, PID, {})
            assert len(storage.delete_all(CID, PID)) == count
        # One shape per power of two (1, 2, 4... 128), not one per count.
        assert _compiled_statements(storage) - before <= 8
    finally:
        storage.flush()
        storage.engine.dispose()


def test_listings_of_many_shapes_keep_a_bounded_number_of_statements(sql_url: str) -> None:
    storage = _build(sql_url)
    storage.initialize_schema()
    storage.flush()
    try:
        storage.get_all(CID, PID)
        before = _compiled_statements(storage)
        # Each bit picks a number or a string: 100 shapes of 7 filters (cached, more than the
        # LRU holds before it is pruned), and 8 of 20 filters (too large to be cached).
        for count, shapes in ((7, 100), (20, 8)):
            for shape in range(shapes):
                filters = [
                    Filter(f"f{bit}", 1 if shape >> bit & 1 else "a", COMPARISON.EQ)
                    for bit in range(count)
                ]
                storage.get_all(CID, PID, filters=filters)
                storage.delete_all(CID, PID, filters=filters)
        assert _compiled_statements(storage) == before
        assert len(storage._listings) <= 96  # an LRU of 64, pruned past half as many again
    finally:
        storage.flush()
        storage.engine.dispose()


@pytest.mark.postgresql
def test_postgresql_records_are_read_as_json_reads_their_text(
    shared_storages: dict[str, sql_storage.Storage], postgresql_url: str
) -> None:
    """psycopg's JSONB loader of the storage's connections decodes the UTF-8 text once
    (``json.loads`` of bytes guesses their encoding for every value first)."""
    from cliquet.sql import _load_json

    storage = next(_emptied(shared_storages, postgresql_url))
    document = {"é": "\U0001f600 \u2028", "n": [2**70, -0.0, 1e300, 1.5], "o": {"": None}}
    storage.create(CID, PID, {"id": "r", **document})
    with storage.engine.connect() as conn:
        adapters = conn.connection.dbapi_connection.adapters
        oid = adapters.types["jsonb"].oid
        loader = adapters.get_loader(oid, psycopg.pq.Format.TEXT)
        assert loader._loads is _load_json
    stored = storage.get(CID, PID, "r")
    assert {k: v for k, v in stored.items() if k in document} == document
    assert _load_json(json.dumps(document).encode()) == json.loads(json.dumps(document))
