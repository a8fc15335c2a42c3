"""What the SQL storage's indexes answer: ``in_`` filters through the GIN index of the data,
range and ``like_`` filters on declared fields (``indexed_fields``) through theirs, with the
same answers as the memory backend for every filter on every type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from sqlalchemy.dialects import postgresql

from cliquet import resource
from cliquet.storage import COMPARISON, Filter, Sort, sql_indexes, sql_query
from cliquet.storage import sql as sql_storage
from tests.storage import test_sql
from tests.storage.test_sql import (
    BULK,
    CID,
    COMPARED_FILTERS,
    DATA_INDEX,
    MIXED_VALUES,
    PID,
    _emptied,
    _names,
    _nodes,
    _plan,
    _scans,
)

# The fixtures of tests/storage/test_sql.py: its session's storages, its bulk collection.
shared_storages = test_sql.shared_storages
shared_sqlite_url = test_sql.shared_sqlite_url
sqlite_url = test_sql.sqlite_url
sql_url = test_sql.sql_url
storage = test_sql.storage
both = test_sql.both
bulk_postgresql = test_sql.bulk_postgresql
_bulk_storage = test_sql._bulk_storage

# Lists of every type of value, mixed, the way clients send them to ``in_`` filters.
IN_LISTS: list[list[Any]] = [
    [None],
    [False],
    [True, 1],
    [0, False, None, ""],
    [1.0],
    [2.5, -3, 10**15, 10**15 + 0.0],
    [2**64, 2**63 - 1, 1e300],
    ["a", "B", "é"],
    ["A", "b"],  # in_ is exact: no case folding
    ["a%b", "a_b", "Z", "z"],
    ["1", "0", "true", "null"],  # the text of other types
    [1, "a", None, True],
    [[1, 2], {"a": 1, "b": [True]}, 1],
    [[1], [1, 2]],  # (SQLite: [1.0] is not [1], see cliquet.storage.sql_query)
    ['"quoted"', "back\\slash", "new\nline", "$.v", "@ == 1 || true"],
]


@pytest.mark.parametrize("field", ["v", "nested.deep.v", "missing"])
def test_in_filters_of_every_type_match_like_the_memory_backend(
    both: tuple[Any, Any], field: str
) -> None:
    storage, reference = both
    for values in IN_LISTS:
        for operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
            condition = [Filter(field, values, operator)]
            expected = set(_names(reference, filters=condition))
            assert set(_names(storage, filters=condition)) == expected, (field, operator, values)
            assert storage.count_all(CID, PID, filters=condition) == len(expected)


def test_in_filters_find_quoted_texts_and_keys(storage: sql_storage.Storage) -> None:
    texts = ['"quoted"', "back\\slash", "new\nline", "$.v", "@ == 1 || true", "日本"]
    for text in texts:
        storage.create(CID, PID, {"name": text, "v": text, 'we"ird.key': {"$": text}})
    for text in texts:
        assert _names(storage, filters=[Filter("v", [text, "other"], COMPARISON.IN)]) == [text]
    # A dotted path names members ('we"ird' then 'key' does not exist): none found.
    found = _names(storage, filters=[Filter('we"ird.key.$', texts, COMPARISON.IN)])
    assert found == []


def _records_read(plan: dict[str, Any]) -> int:
    """How many records a plan read from the table: those it kept and those it threw away.

    Whatever the planner combines to find them (a bitmap of the collection's key ANDed with
    that of the field's index, say), a filter that an index answers reads its matches only.
    """
    read = 0
    for node in _nodes(plan):
        if node.get("Relation Name") == "records" and "Index Name" not in node:
            if node["Node Type"] == "Seq Scan":
                return 10**9
            removed = node.get("Rows Removed by Filter", 0)
            read += node["Actual Rows"] + removed + node.get("Rows Removed by Index Recheck", 0)
        elif node.get("Node Type") == "Index Scan" and node.get("Relation Name") == "records":
            read += node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
    return read


# PostgreSQL: what the plans read, on the bulk-loaded collection of tests/storage/test_sql.py
# (n: i, group: 'g' || i % 100; Bob's records have groups too; one in ten of Alice's is
# a tombstone).


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "field, values, expected",
    [
        ("n", [BULK // 2 + 1, BULK // 2 + 2], 2),
        ("n", [BULK // 2 + 1, float(BULK // 2 + 2), str(BULK // 2 + 3), None, True], 2),
        ("group", ["g7", "g8"], 2 * BULK // 100),
    ],
    ids=["two records", "two records of mixed types", "two percent"],
)
def test_postgresql_in_filters_read_what_the_gin_index_finds(
    bulk_postgresql: sql_storage.Storage, field: str, values: list[Any], expected: int
) -> None:
    filters = [Filter(field, values, COMPARISON.IN)]

    def listing(storage: sql_storage.Storage) -> list[dict[str, Any]]:
        return storage.list_all(CID, PID, filters=filters, limit=10_001)

    def counting(storage: sql_storage.Storage) -> int:
        return storage.count_all(CID, PID, filters=filters)

    for call, size in ((listing, len), (counting, int)):
        result, plan = _plan(bulk_postgresql, call)
        assert size(result) == expected
        assert ("Bitmap Index Scan", DATA_INDEX) in [s[:2] for s in _scans(plan)]
        # What the index finds: the matches of every collection (Bob's groups too).
        assert _records_read(plan) <= 2 * expected


@pytest.mark.postgresql
def test_postgresql_in_filters_of_arrays_and_objects_still_match(
    bulk_postgresql: sql_storage.Storage,
) -> None:
    # No containment stands for equality with an array: these read the collection.
    filters = [Filter("n", [[1], {"a": 1}, BULK // 2 + 1], COMPARISON.IN)]
    assert [r["n"] for r in bulk_postgresql.list_all(CID, PID, filters=filters)] == [BULK // 2 + 1]


def test_in_filter_conditions_are_one_statement_whatever_the_values(sql_url: str) -> None:
    queries = sql_query.RecordQueries(
        "postgresql" if sql_url.startswith("postgresql") else "sqlite",
        sql_query.records.c,
        id_field="id",
        modified_field="last_modified",
    )
    shapes = {
        str(queries.filter(Filter("v", [*map(str, range(size)), *range(size)], COMPARISON.IN)))
        for size in range(1, 20)
    }
    assert len(shapes) == 1


# Declared fields (indexed_fields): indexes of the expressions their filters compare.


@pytest.fixture
def declared(storage: sql_storage.Storage) -> Iterator[sql_storage.Storage]:
    """The session's storage with ``v`` and ``nested.deep.v`` declared and indexed; then
    declared no more, which drops their indexes."""
    storage.declare_indexed_fields(["v", "nested.deep.v"])
    storage.initialize_schema()
    yield storage
    storage.declare_indexed_fields([])
    storage.initialize_schema()


def _field_indexes(storage: sql_storage.Storage) -> set[str]:
    with storage.engine.connect() as conn:
        return sql_indexes.existing(conn)


def test_declared_fields_filter_like_the_memory_backend(
    declared: sql_storage.Storage, both: tuple[Any, Any]
) -> None:
    storage, reference = both
    assert storage is declared
    # Two fields, three indexes and three statistics each; none on SQLite (see
    # cliquet.storage.sql_indexes).
    postgresql = storage.engine.dialect.name == "postgresql"
    assert len(_field_indexes(storage)) == (12 if postgresql else 0)
    conditions = [
        *COMPARED_FILTERS,
        *(Filter("v", values, COMPARISON.IN) for values in IN_LISTS),
        *(Filter("v", values, COMPARISON.EXCLUDE) for values in IN_LISTS),
        *(
            Filter(field, value, operator)
            for field in ("v", "nested.deep.v")
            for operator in (COMPARISON.GT, COMPARISON.MAX)
            for value in MIXED_VALUES
        ),
        *(Filter("nested.deep.v", p, COMPARISON.LIKE) for p in ("A", "a*", "*B", "%", "_")),
    ]
    wrong = [
        condition
        for condition in conditions
        if set(_names(storage, filters=[condition])) != set(_names(reference, filters=[condition]))
        or storage.count_all(CID, PID, filters=[condition])
        != len(_names(reference, filters=[condition]))
    ]
    assert wrong == []
    for sorting in ([Sort("v", 1)], [Sort("nested.deep.v", -1), Sort("name", 1)]):
        assert _names(storage, sorting=sorting) == _names(reference, sorting=sorting)


@pytest.mark.postgresql
def test_indexes_follow_the_declared_fields(
    shared_storages: dict[str, sql_storage.Storage], postgresql_url: str
) -> None:
    storage = next(_emptied(shared_storages, postgresql_url))
    try:
        storage.declare_indexed_fields(["title", "author.name"])
        done = storage.initialize_schema()
        assert "field indexes (author.name, title)" in done
        first = _field_indexes(storage)
        assert all(len(name) <= 63 for name in first)
        storage.declare_indexed_fields(["title"])
        storage.initialize_schema()
        kept = _field_indexes(storage)
        assert kept < first and all("title" in name for name in kept)
        assert storage.initialize_schema() == "storage: up to date (revision storage_0003)"
        # A second instance (another process) finds them built.
        other = sql_storage.Storage(storage.engine)
        other.declare_indexed_fields(["title"])
        assert other.initialize_schema(dry_run=True) == (
            "storage: up to date (revision storage_0003)"
        )
    finally:
        storage.declare_indexed_fields([])
        storage.initialize_schema()
    assert _field_indexes(storage) == set()


def test_declared_fields_are_written_into_statements_other_fields_bound() -> None:
    dialect = "postgresql"
    queries = sql_query.RecordQueries(
        dialect,
        sql_query.records.c,
        id_field="id",
        modified_field="last_modified",
        indexed_fields=frozenset({"title"}),
    )
    compiled = postgresql.dialect()
    declared = " ".join(
        str(queries.filter(Filter("title", value, operator)).compile(dialect=compiled))
        for value, operator in (("m", COMPARISON.MIN), (5, COMPARISON.LT), ("m", COMPARISON.LIKE))
    )
    other = str(queries.filter(Filter("body", "m", COMPARISON.MIN)))
    assert "title" in declared and "body" not in other
    # The indexes (and statistics) hold the very expressions of the statements.
    for definition in sql_indexes.index_definitions(dialect, "title").values():
        if " ON records " not in definition:  # CREATE STATISTICS name ON (expression) FROM
            definition = definition.replace(" FROM records", "").replace(" ON (", " ON records (")
        columns = definition.split(" ON records ")[1].rsplit(" WHERE", 1)[0]
        for expression in re.findall(r"CASE .*? END", columns):
            assert expression.replace("data", "records.data") in declared, expression


def _live(numbers: range) -> int:
    """How many of Alice's records numbered so are live (one in ten is a tombstone)."""
    return len([n for n in numbers if n % 10])


@pytest.mark.postgresql
def test_postgresql_range_and_like_filters_read_the_declared_indexes(
    bulk_postgresql: sql_storage.Storage,
) -> None:
    storage = bulk_postgresql
    storage.declare_indexed_fields(["n", "group"])
    storage.initialize_schema()
    try:
        cases = (
            (Filter("n", 201, COMPARISON.LT), "number", _live(range(1, 201))),
            (
                Filter("n", BULK - 199, COMPARISON.MIN),
                "number",
                _live(range(BULK - 199, BULK + 1)),
            ),
            (Filter("group", "g98", COMPARISON.MIN), "string", 2 * BULK // 100),
            (Filter("group", "g77", COMPARISON.LIKE), "trigrams", BULK // 100),
        )
        for condition, kind, expected in cases:

            def listing(
                storage: sql_storage.Storage, condition: Filter = condition
            ) -> list[dict[str, Any]]:
                return storage.list_all(CID, PID, filters=[condition], limit=10_001)

            records, plan = _plan(storage, listing)
            assert len(records) == expected, condition
            scans = _scans(plan)
            indexes = {name for _, name, _ in scans if name}
            assert any(name.endswith(f"_{kind}") for name in indexes), (condition, scans)
            # What the indexes find: this collection's matches (LIKE: every collection's).
            assert _records_read(plan) <= 2 * expected, (condition, scans)
    finally:
        storage.declare_indexed_fields([])
        storage.initialize_schema()


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "condition, numbers",
    [
        (Filter("n", 401, COMPARISON.LT), range(1, 401)),
        (Filter("n", 400, COMPARISON.MAX), range(1, 401)),
        (Filter("n", BULK - 400, COMPARISON.GT), range(BULK - 399, BULK + 1)),
        (Filter("n", [7, 70, 700, 7000], COMPARISON.IN), [7, 700, 7000]),
        # Most records: the walk of the timestamp index finds a page at once.
        (Filter("n", 10, COMPARISON.GT), range(11, BULK + 1)),
        (Filter("n", BULK // 2, COMPARISON.MIN), range(BULK // 2, BULK + 1)),
    ],
    ids=["oldest, lt", "oldest, max", "newest, gt", "in", "most, gt", "half, min"],
)
def test_postgresql_a_page_of_a_selective_range_reads_its_matches_not_the_collection(
    bulk_postgresql: sql_storage.Storage, condition: Filter, numbers: Any
) -> None:
    # n grows with last_modified: the matches of "n < 401" are the oldest records, which a
    # walk of the timestamp index from the newest would reach after reading all the others.
    storage = bulk_postgresql
    storage.declare_indexed_fields(["n"])
    storage.initialize_schema()
    try:
        live = sorted((n for n in numbers if n % 10), reverse=True)

        def page(storage: sql_storage.Storage) -> list[dict[str, Any]]:
            newest_first = [Sort("last_modified", -1)]
            return storage.list_all(CID, PID, filters=[condition], sorting=newest_first, limit=11)

        records, plan = _plan(storage, page)
        assert [r["n"] for r in records] == live[:11]
        assert _records_read(plan) <= 2 * min(len(live), 200), _scans(plan)
        assert storage.count_all(CID, PID, filters=[condition]) == len(live)
    finally:
        storage.declare_indexed_fields([])
        storage.initialize_schema()


# Declaring: resources name their fields, the storage learns them once all are registered.


def _configured(url: str, *resources: tuple[str, Any]) -> Configurator:
    import cliquet

    config = Configurator(
        settings={
            "cliquet.storage_backend": "cliquet.storage.sql",
            "cliquet.storage_url": url,
            "cliquet.userid_hmac_secret": "test-secret",
        }
    )
    cliquet.initialize(config, "0.0.1")
    for name, fields in resources:
        cls = type(name.title(), (resource.UserResource,), {"indexed_fields": fields})
        resource.register_resource(config, cls, name=name)
    return config


def test_resources_declare_their_indexed_fields_to_the_storage(sqlite_url: str) -> None:
    config = _configured(sqlite_url, ("book", ("title", "author.name")), ("note", ("title",)))
    config.commit()
    storage = config.registry.storage
    try:
        assert storage._indexed_fields == {"title", "author.name"}
    finally:
        storage.engine.dispose()


@pytest.mark.parametrize("fields", ["title", ("",), ("a..b",), (1,), ("ok", None)])
def test_malformed_indexed_fields_fail_at_start_up(sqlite_url: str, fields: Any) -> None:
    with pytest.raises(ConfigurationError, match="indexed_fields of resource 'book'"):
        _configured(sqlite_url, ("book", fields))
