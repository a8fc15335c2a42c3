"""The reference semantics of listings (``cliquet.storage.selection``), over plain dicts."""

import ast
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
