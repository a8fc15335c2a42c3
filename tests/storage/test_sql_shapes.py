"""Listing statements built once per shape of filters (``sql_query.Selection.statement``).

A shape is what decides a statement's text: the fields, operators and kinds of the values of
the filters and page rules, the sort, the limit's presence. A request of a shape seen before
builds no SQL expression; only its values are computed, and they must be those a statement
built for them would bind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import coercions
from sqlalchemy.util import LRUCache

from cliquet.storage import COMPARISON, Filter, Sort, StorageError, sql_query
from cliquet.storage import sql as sql_storage
from tests.storage.test_sql import _emptied, shared_sqlite_url, shared_storages, sql_url

__all__ = ["shared_sqlite_url", "shared_storages", "sql_url"]  # fixtures, used by name

DIALECTS = {"postgresql": postgresql.psycopg.dialect(), "sqlite": sqlite.dialect()}

SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    5,
    -3,
    2**63,
    2**70,
    -(2**70),
    1.5,
    -0.25,
    2.0,
    -4.0,
    1e20,
    float("inf"),
    float("-inf"),
    "x",
    "yz",
    "",
    "a\x00b",
    "\x00",
    [],
    [1, "a"],
    {},
    {"a": [1]},
]
LISTS: list[Any] = [
    [1, "a"],
    [2, "b", "c", 3],
    [1, 2.5, 2**70, None, True, [1], {"a": 1}],
    [3, 0.5, -(2**70), None, False, [], {}],
    ["a\x00"],
    ["\x00b", "c\x00"],
    [],
    [[1]],
    [[2], {"b": 2}],
    [1.0, 2],
    [3.0, 4],
    [float("inf")],
]
FIELDS = ("id", "last_modified", "title", "a.b", "rank")  # rank: declared (indexed)


def _values(operator: COMPARISON) -> list[Any]:
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        return LISTS
    if operator is COMPARISON.HAS:
        return [True, False, True]
    if operator is COMPARISON.LIKE:
        return ["x", "a*b", "%_\\", "é"]
    return SCALARS


def _selection(
    dialect: str,
    filters: list[Filter] | None,
    cache: Any,
    rules: list[list[Filter]] | None = None,
    sorting: list[Sort] | None = None,
) -> sql_query.Selection:
    return sql_query.Selection(
        dialect,
        ("c", "p"),
        id_field="id",
        modified_field="last_modified",
        filters=filters,
        pagination_rules=rules,
        sorting=sorting,
        limit=20,
        statements=cache,
        indexed_fields=frozenset({"rank"}),
    )


def _sql(dialect: str, statement: Any, params: dict[str, Any]) -> tuple[str, list[str]]:
    """The statement's text with its parameters numbered in order, and their values."""
    compiled = statement.compile(dialect=DIALECTS[dialect])
    values = {**compiled.params, **params}
    text = compiled.string
    if dialect == "sqlite":
        names = list(compiled.positiontup or ())
    else:
        names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", text)))
        for n, name in enumerate(names):
            text = text.replace(f"%({name})s", f"%(p{n})s")
    return text, [repr(values[name]) for name in names]  # repr: NaN is not NaN


def _built(dialect: str, selection: sql_query.Selection) -> tuple[str, list[str]] | str:
    try:
        return _sql(dialect, *selection.statement("listing"))
    except ValueError as e:  # SQLite: JSON has no infinity, with or without a cache
        return repr(e)


def _cases() -> Iterator[tuple[str, str, COMPARISON, list[Any]]]:
    """Values of one shape, for each dialect, field and operator."""
    for dialect in DIALECTS:
        for field in FIELDS:
            for operator in COMPARISON:
                shapes: dict[Any, list[Any]] = {}
                for value in _values(operator):
                    shape = sql_query.shape_of(
                        [Filter(field, value, operator)], dialect_name=dialect
                    )
                    shapes.setdefault(shape, []).append(value)
                for values in shapes.values():
                    if len(values) > 1:
                        yield dialect, field, operator, values


def test_statements_of_a_shape_seen_before_are_those_built_for_their_values() -> None:
    cases = list(_cases())
    assert len(cases) > 200
    for dialect, field, operator, values in cases:
        cache = LRUCache(16)
        first, *others = values
        _built(dialect, _selection(dialect, [Filter(field, first, operator)], cache))
        for value in others:
            filters = [Filter(field, value, operator)]
            fresh = _built(dialect, _selection(dialect, filters, None))
            reused = _built(dialect, _selection(dialect, filters, cache))
            assert reused == fresh, (dialect, field, operator, first, value)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_pages_and_sorts_of_a_shape_seen_before_bind_their_values(dialect: str) -> None:
    cache = LRUCache(16)

    def page(title: str, stamp: int, after: str, cache: Any) -> tuple[str, list[str]] | str:
        filters = [Filter("title", title, COMPARISON.EQ)]
        rules = [
            [Filter("last_modified", stamp, COMPARISON.LT)],
            [
                Filter("last_modified", stamp, COMPARISON.EQ),
                Filter("id", after, COMPARISON.GT),
            ],
        ]
        sorting = [Sort("title", 1), Sort("last_modified", -1)]
        return _built(dialect, _selection(dialect, filters, cache, rules, sorting))

    page("a", 10, "x", cache)
    assert page("b", 20, "y", cache) == page("b", 20, "y", None)
    assert "'b'" in str(page("b", 20, "y", cache)) and "20" in str(page("b", 20, "y", cache))


def test_a_filter_of_a_shape_seen_before_builds_no_expression(monkeypatch: Any) -> None:
    cache = LRUCache(16)
    seen = [Filter("body", "group-7", COMPARISON.EQ), Filter("rank", 3, COMPARISON.MIN)]
    built, _ = _selection("postgresql", seen, cache).statement("listing")
    expected = coercions.expect
    calls = []

    def expect(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return expected(*args, **kwargs)

    monkeypatch.setattr(coercions, "expect", expect)
    again = [Filter("body", "group-8", COMPARISON.EQ), Filter("rank", 9, COMPARISON.MIN)]
    statement, params = _selection("postgresql", again, cache).statement("listing")
    monkeypatch.undo()
    assert calls == []
    assert statement is built
    assert "group-8" in params.values() and params["collection"] == "c"


def test_the_shapes_kept_are_bounded() -> None:
    cache = LRUCache(10)
    for n in range(200):
        _selection("postgresql", [Filter(f"f{n}", n, COMPARISON.EQ)], cache).statement("ids")
    assert len(cache) <= 15  # LRUCache lets 50 % more in before dropping the oldest


def test_large_shapes_are_built_each_time_and_not_kept() -> None:
    cache = LRUCache(10)
    filters = [Filter(f"f{n}", n, COMPARISON.EQ) for n in range(9)]
    _selection("postgresql", filters, cache).statement("listing")
    assert len(cache) == 0


@pytest.fixture
def storage(
    shared_storages: dict[str, sql_storage.Storage], sql_url: str
) -> Iterator[sql_storage.Storage]:
    yield from _emptied(shared_storages, sql_url)


RECORDS: list[dict[str, Any]] = [
    {"title": "x"},
    {"title": "yz", "a": {"b": 5}},
    {"title": "", "a": {"b": -3}},
    {"title": None, "a": {"b": 1.5}},
    {"title": True, "a": {"b": "x"}},
    {"title": 0, "a": {"b": [1, "a"]}},
    {"title": 7, "a": {"b": {}}},
    {"title": 2.0, "a": {"b": None}},
    {"title": [1, "a"], "a": {"b": 2**70}},
    {"title": {"a": [1]}, "a": {"b": 0}},
    {"a": {"b": False}},
]


def test_listings_of_a_shape_seen_before_find_what_a_new_statement_finds(
    storage: sql_storage.Storage,
) -> None:
    """On the database: every operator, values of one shape one after the other, against a
    statement built for each (the storage's shapes forgotten)."""
    for record in RECORDS:
        storage.create("c", "p", record)
    dialect = storage.engine.dialect.name

    def listed(filters: list[Filter]) -> Any:
        try:
            return storage.list_all("c", "p", filters=filters, sorting=[Sort("id", 1)])
        except (StorageError, ValueError) as e:  # NUL on PostgreSQL, infinity on SQLite
            return type(e)

    for case_dialect, field, operator, values in _cases():
        if case_dialect != dialect or field == "rank":
            continue
        for value in values:
            filters = [Filter(field, value, operator)]
            reused = listed(filters)
            kept = storage._shapes
            storage._shapes = LRUCache(16)
            try:
                fresh = listed(filters)
            finally:
                storage._shapes = kept
            assert reused == fresh, (field, operator, value)
    assert 0 < len(storage._shapes)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_statements_of_json_fields_are_rendered_once(dialect: str) -> None:
    """No expanding parameter (``IN`` of a list rendered at each execution): the type
    names a field's value is tested against are constants of the statement's text."""
    filters = [
        Filter("body", "x", COMPARISON.EQ),
        Filter("rank", 3, COMPARISON.MIN),
        Filter("a.b", [1, "a", [1]], COMPARISON.IN),
    ]
    statement, _ = _selection(dialect, filters, None, sorting=[Sort("a.b", 1)]).statement(
        "listing"
    )
    compiled = statement.compile(dialect=DIALECTS[dialect])
    assert not compiled.post_compile_params
    assert "POSTCOMPILE" not in compiled.string


def test_kept_statements_hold_none_of_the_values_of_the_request_that_built_them() -> None:
    """A shape's statement is kept for other requests: a client's values (an ``in_`` of
    thousands of values, a text of megabytes) are parameters of the request, not of it."""
    from sqlalchemy.sql import visitors

    cache = LRUCache(16)
    values = [f"value-{n}" for n in range(1000)]
    filters = [Filter("a.b", values, COMPARISON.IN), Filter("title", "x" * 1000, COMPARISON.EQ)]
    statement, params = _selection("postgresql", filters, cache).statement("listing")
    bound = [
        element.value
        for element in visitors.iterate(statement)
        if isinstance(element, sql_query.BindParameter)
    ]

    def holds_values(value: Any) -> bool:
        return value == values or (
            isinstance(value, str) and ("value-1" in value or "xx" in value)
        )

    assert bound and not any(holds_values(v) for v in bound)
    assert values in params.values()


def test_documents_read_on_postgresql_go_through_no_python_per_row() -> None:
    """psycopg gives the JSONB document as parsed: SQLAlchemy has nothing to call per row
    (SQLite's text is still parsed)."""
    assert sql_query.Document()._cached_result_processor(DIALECTS["postgresql"], None) is None
    processor = sql_query.Document()._cached_result_processor(DIALECTS["sqlite"], None)
    assert processor is not None and processor('{"a":1}') == {"a": 1}
