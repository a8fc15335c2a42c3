"""The reference semantics of listings (``cliquet.storage.selection``), over plain dicts."""

import ast
import random
from pathlib import Path
from typing import Any

import pytest

from cliquet.storage import COMPARISON, Filter, Sort, selection
from cliquet.storage.selection import MISSING, extract_field, like, matches, order_key, select

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "left, right",
    [(None, False), (False, True), (True, -1), (1, 1.5), (2, "1"), ("b", "c"), ("z", [])],
)
def test_order_key_ranks_json_types(left: Any, right: Any) -> None:
    assert order_key(left) < order_key(right)


def test_order_key_compares_containers() -> None:
    key = order_key
    assert key([1, 2]) < key([1, 3]) < key([2]) < key({})
    assert key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})
    assert key({"a": 1}) < key({"a": 2}) < key({"b": 0})


def test_order_key_compares_numbers_exactly() -> None:
    assert order_key(2**64) == order_key(float(2**64))
    assert order_key(2**64 + 1) > order_key(float(2**64))
    assert order_key(1) == order_key(1.0) != order_key(True)


def test_extract_field_tells_missing_from_null() -> None:
    record = {"author": {"name": "Ann", "age": None}, "flat": "x"}
    assert extract_field(record, "author.name") == "Ann"
    assert extract_field(record, "author.age") is None
    assert extract_field(record, "author.email") is MISSING
    assert extract_field(record, "flat.deeper") is MISSING
    assert repr(MISSING) == "MISSING"


@pytest.mark.parametrize(
    "value, pattern, expected",
    [
        ("Hello World", "hello", True),
        ("HÉLLO", "héllo", True),
        ("Straße ΩMEGA", "ωmega", True),
        ("héllo", "hello", False),
        ("a.c", "a.c", True),
        ("abc", "a.c", False),
        ("line\nbreak", "line*break", True),
        ("hello", "hello*", True),
        ("say hello", "hello*", False),
        ("100%", "100%", True),
        ("1000", "100%", False),
    ],
)
def test_like(value: str, pattern: str, expected: bool) -> None:
    assert like(value, pattern) is expected


def test_matches_a_missing_field_only_with_negations() -> None:
    record: dict[str, Any] = {"name": "x"}
    assert matches(record, Filter("v", 1, COMPARISON.NOT))
    assert matches(record, Filter("v", [1], COMPARISON.EXCLUDE))
    assert matches(record, Filter("v", False, COMPARISON.HAS))
    assert not matches(record, Filter("v", None, COMPARISON.EQ))
    assert not matches(record, Filter("v", "*", COMPARISON.LIKE))


def test_select_filters_sorts_pages_and_limits() -> None:
    records = [{"id": str(n), "n": n % 3, "last_modified": n} for n in range(9)]
    page = select(
        records,
        filters=[Filter("n", 0, COMPARISON.GT)],
        sorting=[Sort("n", 1)],
        pagination_rules=[[Filter("last_modified", 7, COMPARISON.LT)]],
        limit=3,
    )
    # n == 1 first, newest first among them (7, 4, 1), then n == 2 (8, 5, 2); the page
    # rule cuts 7 and 8.
    assert [r["id"] for r in page] == ["4", "1", "5"]
    assert page[0] is records[4]  # the same dicts, not copies


def test_select_defaults_to_newest_first_with_a_custom_modified_field() -> None:
    records = [{"id": "a", "ts": 1}, {"id": "b", "ts": 3}, {"id": "c", "ts": 2}]
    assert [r["id"] for r in select(records, modified_field="ts")] == ["b", "c", "a"]


# The generated storage backend and the Redis one build on this module, not on a sibling
# backend.


@pytest.mark.parametrize(
    "path",
    [
        "cliquet/storage/memory.py",
        "cliquet/storage/redis.py",
        "templates/backend/{{cookiecutter.distribution_name}}/"
        "{{cookiecutter.package_name}}/storage.py",
    ],
)
def test_python_selecting_backends_import_the_selection_module(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "cliquet.storage.selection" in imported
    assert "cliquet.storage.memory" not in imported


def test_the_memory_backend_exports_only_the_backend() -> None:
    from cliquet.storage import memory

    assert memory.__all__ == ["Storage", "load_from_config"]
    assert set(selection.__all__) >= {"order_key", "matches", "select", "like"}


# The ordered walk: a backend that keeps a collection in the order of its timestamps hands
# ``select`` a reversible sequence with ``ordered=True``; a page sorted by the timestamp
# then costs what it returns, not what the collection holds.


class _Counted:
    """A reversible sequence that counts the records a selection looked at."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records, self.seen = records, 0

    def _count(self, items: Any) -> Any:
        for item in items:
            self.seen += 1
            yield item

    def __iter__(self) -> Any:
        return self._count(self.records)

    def __reversed__(self) -> Any:
        return self._count(reversed(self.records))


def _collection(n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i:05d}", "body": f"group-{i % 100}", "rank": i, "last_modified": 1000 + i}
        for i in range(n)
    ]


def test_an_ordered_walk_reads_only_as_far_as_the_page() -> None:
    records = _Counted(_collection(10_000))
    newest = select(records, sorting=[Sort("last_modified", -1)], limit=21, ordered=True)
    assert [r["rank"] for r in newest] == list(range(9_999, 9_978, -1))
    assert records.seen == 21

    records.seen = 0
    group = [Filter("body", "group-7", COMPARISON.EQ)]
    page = select(records, filters=group, limit=21, ordered=True)  # newest first by default
    assert [r["rank"] for r in page] == [9_907 - 100 * k for k in range(21)]
    assert records.seen <= 2_100

    records.seen = 0
    since = [Filter("last_modified", 1000 + 9_989, COMPARISON.GT)]
    recent = select(records, filters=since, ordered=True)
    assert [r["rank"] for r in recent] == list(range(9_999, 9_989, -1))
    assert records.seen == 11  # the first older record ends the walk

    records.seen = 0
    oldest = select(records, sorting=[Sort("last_modified", 1)], limit=5, ordered=True)
    assert [r["rank"] for r in oldest] == [0, 1, 2, 3, 4]
    assert records.seen == 5


def _random_value(rng: random.Random) -> Any:
    return rng.choice(
        [None, True, False, 0, 1, 2.5, -3, 1005, 1010.0, "a", "b", "group-1", [], [1], {"k": 1}]
    )


def _random_filter(rng: random.Random, fields: list[str]) -> Filter:
    field = rng.choice(fields)
    operator = rng.choice(list(COMPARISON))
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        return Filter(field, [_random_value(rng) for _ in range(rng.randint(0, 3))], operator)
    if operator is COMPARISON.HAS:
        return Filter(field, rng.choice([True, False]), operator)
    if operator is COMPARISON.LIKE:
        return Filter(field, rng.choice(["*", "group*", "a", "1"]), operator)
    if field == "last_modified" and rng.random() < 0.7:
        return Filter(field, rng.randint(995, 1025) + rng.choice([0, 0, 0.5]), operator)
    return Filter(field, _random_value(rng), operator)


def test_an_ordered_walk_selects_what_the_reference_selects() -> None:
    from cliquet.resource.querystring import build_pagination_rules

    rng = random.Random(12)
    fields = ["last_modified", "body", "rank", "flag", "id"]
    for case in range(3_000):
        records = []
        for i in range(rng.randint(0, 20)):
            record: dict[str, Any] = {"id": f"r{i}", "last_modified": 1000 + 2 * i}
            for field in ("body", "rank", "flag"):
                if rng.random() < 0.8:
                    record[field] = _random_value(rng)
            records.append(record)
        filters = [_random_filter(rng, fields) for _ in range(rng.randint(0, 2))]
        sorting = [Sort(rng.choice(fields), rng.choice([1, -1])) for _ in range(rng.randint(0, 2))]
        if sorting and rng.random() < 0.6:
            sorting[0] = Sort("last_modified", sorting[0].direction)
        rules: list[list[Filter]] = []
        if records and rng.random() < 0.5:
            until = rng.choice([None, 1000 + 2 * len(records)])
            rules = build_pagination_rules(sorting, rng.choice(records), until=until)
        elif rng.random() < 0.3:
            rules = [[_random_filter(rng, fields)] for _ in range(rng.randint(1, 2))]
        limit = rng.choice([None, 1, 3, 10])
        options = dict(filters=filters, sorting=sorting, pagination_rules=rules, limit=limit)
        expected = [r["id"] for r in select(list(records), **options)]
        walked = [r["id"] for r in select(_Counted(records), ordered=True, **options)]
        assert walked == expected, (case, options)
        # A list or a dict's values: the walk's start is found by bisection.
        values = {r["id"]: r for r in records}.values()
        bisected = [r["id"] for r in select(values, ordered=True, **options)]
        assert bisected == expected, (case, options)


@pytest.mark.parametrize("direction", [1, -1])
def test_an_ordered_walk_starts_at_the_cursor_of_every_page(direction: int) -> None:
    from cliquet.resource.querystring import build_pagination_rules

    records = _collection(300)
    values = {r["id"]: r for r in records}.values()
    sorting = [Sort("last_modified", direction)]
    for n in range(0, 300, 7):
        for limit in (1, 2, 5):
            rules = build_pagination_rules(sorting, records[n], until=1000 + 299)
            expected = select(list(records), sorting=sorting, pagination_rules=rules, limit=limit)
            page = select(
                values, sorting=sorting, pagination_rules=rules, limit=limit, ordered=True
            )
            assert page == expected
            before = [Filter("last_modified", 1000 + n, COMPARISON.MAX)]
            expected = select(list(records), sorting=sorting, filters=before, limit=limit)
            assert select(values, sorting=sorting, filters=before, limit=limit, ordered=True) == (
                expected
            )


def _reference_matches(record: dict[str, Any], condition: Filter) -> bool:
    """The rules of the module's docstring, written the plain way: every value by its key."""
    value = extract_field(record, condition.field)
    op = condition.operator
    if op is COMPARISON.HAS:
        return (value is not MISSING and value is not None) is condition.value
    if value is MISSING:
        return op in (COMPARISON.NOT, COMPARISON.EXCLUDE)
    if op is COMPARISON.LIKE:
        return isinstance(value, str) and like(value, condition.value)
    if op in (COMPARISON.IN, COMPARISON.EXCLUDE):
        found = any(order_key(value) == order_key(v) for v in condition.value)
        return found is (op is COMPARISON.IN)
    left, right = order_key(value), order_key(condition.value)
    return {
        COMPARISON.EQ: left == right,
        COMPARISON.NOT: left != right,
        COMPARISON.LT: left < right,
        COMPARISON.GT: left > right,
        COMPARISON.MIN: left >= right,
        COMPARISON.MAX: left <= right,
    }[op]


def test_compiled_filters_keep_what_the_rules_keep() -> None:
    rng = random.Random(5)
    values = [None, True, False, 0, 1, 1.0, -2, 2.5, 10**20, "", "a", "A", "b", "1", [], [1],
              [1, "a"], {}, {"k": 1}, {"k": [None]}]  # fmt: skip
    for _ in range(20_000):
        record: dict[str, Any] = {}
        for field in ("v", "w"):
            if rng.random() < 0.8:
                record[field] = rng.choice(values)
        if rng.random() < 0.5:
            record["o"] = {"v": rng.choice(values)} if rng.random() < 0.8 else rng.choice(values)
        field = rng.choice(["v", "w", "o.v", "x"])
        op = rng.choice(list(COMPARISON))
        if op in (COMPARISON.IN, COMPARISON.EXCLUDE):
            condition = Filter(field, rng.sample(values, rng.randint(0, 3)), op)
        elif op is COMPARISON.HAS:
            condition = Filter(field, rng.choice([True, False]), op)
        elif op is COMPARISON.LIKE:
            condition = Filter(field, rng.choice(["a", "*", "A*", "*1"]), op)
        else:
            condition = Filter(field, rng.choice(values), op)
        assert matches(record, condition) is _reference_matches(record, condition), (
            record,
            condition,
        )
