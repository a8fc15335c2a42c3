"""Pages of ranges on declared fields on PostgreSQL (``Selection.planner_may_walk``): the
matches first (``"filtered listing"``) or the walk (``"listing"``), whichever ``list_all``
picks, answer the same page as the memory backend for every sort, page rule, type of value
and with tombstones; and the statistics that decide it follow the declared fields."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from cliquet.storage import COMPARISON, Filter, Sort, memory, sql_indexes
from cliquet.storage import sql as sql_storage
from tests.storage import test_sql
from tests.storage.test_sql import BULK, CID, PID, _emptied, _plan, _scans
from tests.storage.test_sql_indexes import _records_read

shared_storages = test_sql.shared_storages

pytestmark = pytest.mark.postgresql

DECLARED = ["v", "nested.deep.v"]
# Every JSON type, numbers beyond 64 bits and floats beyond them, texts of numbers.
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2.5, 3, 4, 5, 6, 7, 10**15, 2**63 - 1, 2**63, 2**64 + 1,
    -(2**70), 1e300, -1e300, "", "a", "B", "é", "10", [1], [1, 2], {"a": 1},
]  # fmt: skip
RANGES = [COMPARISON.LT, COMPARISON.GT, COMPARISON.MIN, COMPARISON.MAX]
SORTS: list[list[Sort] | None] = [
    None,
    [Sort("last_modified", 1)],
    [Sort("name", -1)],
    [Sort("v", 1)],
    [Sort("v", -1), Sort("name", 1)],
    [Sort("nested.deep.v", -1), Sort("w", 1)],
    [Sort("w", 1), Sort("v", -1)],
    [Sort("id", 1)],
    [Sort("deleted", -1), Sort("name", 1)],
]


@pytest.fixture
def declared(
    shared_storages: dict[str, sql_storage.Storage], postgresql_url: str
) -> Iterator[tuple[sql_storage.Storage, memory.Storage]]:
    """The session's PostgreSQL storage with ``v`` and ``nested.deep.v`` declared, and the
    memory backend, both holding the same records of mixed values, a fifth deleted."""
    for storage in _emptied(shared_storages, postgresql_url):
        storage.declare_indexed_fields(DECLARED)
        storage.initialize_schema()
        try:
            reference = memory.Storage()
            rng = random.Random(7)
            for i in range(90):
                record: dict[str, Any] = {"id": f"r{i:02d}", "name": f"n{i:02d}"}
                record["w"] = rng.choice(VALUES)
                if i % 9:
                    record["v"] = rng.choice(VALUES)
                if i % 4:
                    record["nested"] = {"deep": {"v": rng.choice(VALUES)}}
                for backend in (storage, reference):
                    backend.create(CID, PID, record)
            for i in rng.sample(range(90), 18):
                for backend in (storage, reference):
                    backend.delete(CID, PID, f"r{i:02d}")
            yield storage, reference
        finally:
            storage.declare_indexed_fields([])
            storage.initialize_schema()


def _ids(backend: Any, **options: Any) -> list[str]:
    return [r["id"] for r in backend.list_all(CID, PID, **options)]


def _forced(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(sql_storage.Storage, "_listing_kind", staticmethod(lambda *_: kind))


def test_pages_of_ranges_on_declared_fields_are_the_memory_backends_either_way(
    declared: tuple[sql_storage.Storage, memory.Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage, reference = declared
    rng = random.Random(11)
    wrong = []
    for _ in range(60):
        filters = [Filter(rng.choice(DECLARED), rng.choice(VALUES), rng.choice(RANGES))]
        if rng.random() < 0.3:
            other = rng.choice([*DECLARED, "w"])
            filters.append(Filter(other, rng.choice(VALUES), rng.choice(RANGES)))
        rules = None
        if rng.random() < 0.5:  # where a previous page ended, on any field
            rules = [
                [Filter(rng.choice(["v", "name", "w"]), rng.choice([*VALUES, "n40"]), op)]
                for op in rng.sample([COMPARISON.LT, COMPARISON.GT, COMPARISON.EQ], 2)
            ]
        options = {
            "filters": filters,
            "sorting": rng.choice(SORTS),
            "pagination_rules": rules,
            "limit": rng.choice([1, 3, 50]),
            "include_deleted": rng.random() < 0.3,
        }
        expected = _ids(reference, **options)
        for kind in ("filtered listing", "listing"):
            _forced(monkeypatch, kind)
            if _ids(storage, **options) != expected:
                wrong.append((kind, options))
    assert wrong == []


def test_a_selective_range_is_found_matches_first_and_a_missing_count_walks(
    declared: tuple[sql_storage.Storage, memory.Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage, reference = declared
    picked = []
    choose = sql_storage.Storage._listing_kind

    def spy(conn: Any, selection: Any) -> str:
        picked.append(choose(conn, selection))
        return picked[-1]

    monkeypatch.setattr(sql_storage.Storage, "_listing_kind", staticmethod(spy))
    few = {"filters": [Filter("v", 1, COMPARISON.LT)], "limit": 2}
    assert _ids(storage, **few) == _ids(reference, **few)
    assert picked == ["filtered listing"]
    # Without the collection's count (a row that a broken migration would leave out), the
    # collection's size is unknown: the walk, which answers the same.
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM record_counts")
    assert _ids(storage, **few) == _ids(reference, **few)
    assert picked[-1] == "listing"
    # No limit, or no range on a declared field: no estimate at all.
    _ids(storage, filters=[Filter("v", 1, COMPARISON.LT)])
    _ids(storage, filters=[Filter("w", 1, COMPARISON.LT)], limit=2)
    assert len(picked) == 2


def _statistics(storage: sql_storage.Storage) -> set[str]:
    with storage.engine.connect() as conn:
        return {n for n in sql_indexes.existing(conn) if "_stats_" in n}


def test_a_database_indexed_before_statistics_gets_them_and_loses_them_with_the_field(
    declared: tuple[sql_storage.Storage, memory.Storage],
) -> None:
    storage, _ = declared
    statistics = _statistics(storage)
    assert len(statistics) == 3 * len(DECLARED)
    # Indexes of a release before statistics: the next migration adds them alone.
    with storage.engine.begin() as conn:
        for name in statistics:
            conn.exec_driver_sql(f"DROP STATISTICS {name}")
    done = storage.initialize_schema()
    assert done is not None and f"created {len(statistics)} and dropped 0" in done
    assert _statistics(storage) == statistics
    storage.declare_indexed_fields(DECLARED[:1])
    storage.initialize_schema()
    assert _statistics(storage) == {n for n in statistics if "_v_" in n and "nested" not in n}


@pytest.fixture
def not_owner(
    declared: tuple[sql_storage.Storage, memory.Storage],
) -> Iterator[sql_storage.Storage]:
    """A storage of the same database connected as a role that may read and write the
    tables but does not own them (a service's runtime user, the owner migrating)."""
    owner, _ = declared
    role = f"cliquet_app_{uuid.uuid4().hex[:8]}"
    try:
        with owner.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    except sa.exc.DBAPIError:  # pragma: no cover - a test database user without CREATEROLE
        pytest.skip("the test database's user may not create roles")
    try:
        with owner.engine.begin() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
            conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO {role}")
            conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
        url = owner.engine.url.set(username=role, password="pw")
        storage = sql_storage.Storage(sa.create_engine(url))
        storage.declare_indexed_fields(DECLARED)
        yield storage
        storage.engine.dispose()
    finally:
        with owner.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


def test_a_runtime_user_who_may_not_create_statistics_still_starts(
    declared: tuple[sql_storage.Storage, memory.Storage],
    not_owner: sql_storage.Storage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The indexes of a release before statistics, a service migrating at start-up as a
    user who does not own the table (CREATE STATISTICS needs its owner): a warning, not a
    failed start-up; statistics only help the planner guess. The owner's migration adds them."""
    owner, reference = declared
    statistics = _statistics(owner)
    with owner.engine.begin() as conn:
        for name in statistics:
            conn.exec_driver_sql(f"DROP STATISTICS {name}")
    with caplog.at_level(logging.WARNING, logger="cliquet.storage.sql_indexes"):
        done = not_owner.initialize_schema()
    assert "created 0 and dropped 0" in done
    assert "CREATE STATISTICS" in caplog.text and "cliquet migrate" in caplog.text
    few = {"filters": [Filter("v", 3, COMPARISON.LT)], "limit": 2}
    assert _ids(not_owner, **few) == _ids(reference, **few)
    assert _statistics(owner) == set()
    assert f"created {len(statistics)}" in owner.initialize_schema()
    assert _statistics(owner) == statistics


bulk_postgresql = test_sql.bulk_postgresql
_bulk_storage = test_sql._bulk_storage


@pytest.mark.parametrize(
    "since_or_before",
    [
        Filter("last_modified", 1000 + BULK, COMPARISON.LT),  # _before the newest
        Filter("last_modified", 1000 + 100, COMPARISON.GT),  # _since the 100th
    ],
    ids=["before", "since"],
)
def test_a_page_of_changes_of_a_selective_range_reads_its_matches(
    bulk_postgresql: sql_storage.Storage, since_or_before: Filter
) -> None:
    """``_since`` and ``_before`` listings hold tombstones, which no range on a declared
    field matches (they hold no such field): the field's index (of live records) finds
    the page, as without tombstones, rather than the whole collection being read."""
    storage = bulk_postgresql
    storage.declare_indexed_fields(["n"])
    storage.initialize_schema()
    try:
        filters = [Filter("n", 401, COMPARISON.LT), since_or_before]

        def page(storage: sql_storage.Storage, include_deleted: bool = True) -> Any:
            newest_first = [Sort("last_modified", -1)]
            return storage.list_all(
                CID, PID, filters=filters, sorting=newest_first, limit=11,
                include_deleted=include_deleted,
            )  # fmt: skip

        records, plan = _plan(storage, page)
        assert records == page(storage, include_deleted=False)
        low = 100 if since_or_before.operator is COMPARISON.GT else 0
        assert [r["n"] for r in records] == [n for n in range(400, low, -1) if n % 10][:11]
        assert _records_read(plan) <= 2 * 400, _scans(plan)
    finally:
        storage.declare_indexed_fields([])
        storage.initialize_schema()


@pytest.mark.parametrize(
    "condition",
    [
        Filter("v", 3, COMPARISON.EQ),
        Filter("w", [1, "a", None], COMPARISON.IN),
        Filter("nested.deep.v", "a", COMPARISON.LIKE),
        Filter("v", True, COMPARISON.HAS),
        Filter("v", False, COMPARISON.HAS),
        Filter("v", 3, COMPARISON.NOT),
        Filter("w", [1], COMPARISON.EXCLUDE),
        Filter("deleted", True, COMPARISON.EQ),
        Filter("deleted", True, COMPARISON.HAS),
        Filter("id", "r50", COMPARISON.MIN),
        Filter("last_modified", 0, COMPARISON.GT),
    ],
)
def test_changes_filtered_hold_the_tombstones_the_filter_keeps(
    declared: tuple[sql_storage.Storage, memory.Storage], condition: Filter
) -> None:
    """A listing with tombstones drops them before reading (see the test above) only for
    filters that no tombstone satisfies: those on the tombstones' own fields, and those
    a missing field satisfies, keep them."""
    storage, reference = declared
    options = {"filters": [condition], "include_deleted": True, "sorting": [Sort("id", 1)]}
    expected = _ids(reference, **options)
    assert _ids(storage, **options) == expected
    assert _ids(storage, limit=3, **options) == expected[:3]


def test_a_long_field_name_is_indexed_once_within_postgresqls_names(
    shared_storages: dict[str, sql_storage.Storage], postgresql_url: str
) -> None:
    """Names past 63 bytes, which PostgreSQL cuts short, would be found missing by every
    migration (the cut one dropped as undeclared, the whole one created again, the table
    analyzed again): each name fits, and a second migration has nothing to do."""
    field = "a_very_long_field_name_for_testing.and_more"
    assert all(len(n) <= 63 for n in sql_indexes.index_definitions("postgresql", field))
    for storage in _emptied(shared_storages, postgresql_url):
        storage.declare_indexed_fields([field])
        try:
            assert "created 6 and dropped 0" in storage.initialize_schema()
            assert storage.initialize_schema() == "storage: up to date (revision storage_0003)"
            assert len(_statistics(storage)) == 3
        finally:
            storage.declare_indexed_fields([])
            storage.initialize_schema()


@pytest.mark.parametrize("field", ["p%q", "a:b", "it's", "back\\slash", "%(x)s", "é"])
def test_a_declared_field_of_odd_characters_filters_like_the_memory_backend(
    shared_storages: dict[str, sql_storage.Storage], postgresql_url: str, field: str
) -> None:
    """``%`` (which the driver's parameter style escapes: once), quotes, colons (a named
    parameter's mark), backslashes: the statements name the key the records and the
    indexes hold."""
    reference = memory.Storage()
    for storage in _emptied(shared_storages, postgresql_url):
        storage.declare_indexed_fields([field, "v"])
        storage.initialize_schema()
        try:
            for i, value in enumerate([3, "a%b", None, 10**15]):
                for backend in (storage, reference):
                    backend.create(CID, PID, {"id": f"r{i}", field: value, "v": value})
            for condition in [
                Filter(field, 4, COMPARISON.LT),
                Filter(field, 3, COMPARISON.EQ),
                Filter(field, "%", COMPARISON.LIKE),
                Filter(field, "a", COMPARISON.MIN),
                Filter(field, False, COMPARISON.HAS),
            ]:
                options = {"filters": [condition], "sorting": [Sort("id", 1)]}
                expected = _ids(reference, **options)
                assert expected, condition
                assert _ids(storage, **options) == expected, condition
                assert _ids(storage, limit=1, **options) == expected[:1], condition
                assert storage.count_all(CID, PID, filters=[condition]) == len(expected)
        finally:
            storage.declare_indexed_fields([])
            storage.initialize_schema()
