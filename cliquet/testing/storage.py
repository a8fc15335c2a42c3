"""Conformance suite of the storage contract (:class:`cliquet.storage.StorageBase`).

Every storage backend, in-tree or third-party, runs these same tests: they are the contract
in executable form. Subclass :class:`StorageTest` in a ``Test*`` class and provide a
``storage`` fixture that yields a ready, empty instance built the way a service builds it::

    import pytest
    from pyramid.config import Configurator

    from cliquet.testing.storage import StorageTest
    from cliquet_riak import storage as riak_storage


    class TestRiakStorage(StorageTest):
        @pytest.fixture
        def storage(self):
            config = Configurator(settings={"cliquet.storage_url": "riak://localhost"})
            backend = riak_storage.load_from_config(config)
            backend.initialize_schema()
            backend.flush()
            yield backend
            backend.flush()

Tests use the collection ``("articles", "alice")`` and a few neighbours to check isolation.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest

from cliquet.storage import (
    COMPARISON,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageBase,
    UnicityError,
)

__all__ = ["StorageTest"]

CID, PID = "articles", "alice"

# One record per JSON type under field "v" (plus one without it), named by "name".
TYPED_VALUES: dict[str, Any] = {
    "null": None,
    "false": False,
    "true": True,
    "float": 2.5,
    "small": 3,
    "int": 10,
    "str": "abc",
    "list": [1, 2],
    "obj": {"a": 1},
}
ALL_NAMES = set(TYPED_VALUES) | {"missing"}

# Numbers a body may hold around the 64-bit limits, where a backend rounding integers to
# floats (or floats to integers) would compare them wrongly: float(2**64) is 2**64 exactly.
BIG_VALUES: dict[str, Any] = {
    "-2**64": -float(2**64),
    "2**60": float(2**60),  # its shortest text, 1.152921504606847e18, is above "2**60+14"
    "2**60+14": 2**60 + 14,
    "int64_max": 2**63 - 1,
    "2**63": float(2**63),
    "below": 18446744073709549568.0,  # the float just below 2**64
    "2**64": float(2**64),
    "above": 18446744073709555712.0,  # the float just above 2**64
    "1e300": 1e300,
}
BIG_NAMES = set(BIG_VALUES)


def _number_id(value: Any) -> str | None:
    """A short test id for a big integer (``2**64+1``, ``1e400``); pytest's own otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) < 2**53:
        return None
    sign = "-" if value < 0 else ""
    if abs(value) >= 10**30:
        return f"{sign}1e{len(str(abs(value))) - 1}"
    power = round(math.log2(abs(value)))
    offset = abs(value) - 2**power
    return f"{sign}2**{power}" + (f"{offset:+d}" if offset else "")


class _AnyInt:
    """Equal to any int (not bool): lets a test compare a whole record with a fresh timestamp."""

    def __eq__(self, other: object) -> bool:
        return type(other) is int

    def __repr__(self) -> str:
        return "ANY_INT"


ANY_INT: Any = _AnyInt()


def _list(storage: StorageBase, **kwargs: Any) -> list[dict[str, Any]]:
    return storage.list_all(CID, PID, **kwargs)


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def _increasing(values: list[int]) -> bool:
    return all(a < b for a, b in pairwise(values))


def _walk_groups(
    storage: StorageBase,
    tie: Sort,
    *,
    limit: int,
    between_pages: Callable[[int], None] | None = None,
) -> list[str]:
    """Page through the records sorted on ``group`` then ``tie`` with keyset rules; returns
    the ids served. ``between_pages(served)`` runs after each page."""
    sorting = [Sort("group", 1), tie]
    beyond = COMPARISON.GT if tie.direction == 1 else COMPARISON.LT
    seen: list[str] = []
    rules = None
    for _ in range(1000):
        page = storage.list_all(CID, PID, sorting=sorting, pagination_rules=rules, limit=limit)
        if not page:
            break
        seen.extend(_ids(page))
        last = page[-1]
        if between_pages is not None:
            between_pages(len(seen))
        rules = [
            [Filter("group", last["group"], COMPARISON.GT)],
            [
                Filter("group", last["group"], COMPARISON.EQ),
                Filter(tie.field, last[tie.field], beyond),
            ],
        ]
    return seen


def _names(records: list[dict[str, Any]]) -> list[str]:
    return [r.get("name", "?") for r in records]


class StorageTest:
    """Tests every storage backend must pass; see the module docstring."""

    @pytest.fixture
    def storage(self) -> StorageBase:
        raise NotImplementedError(
            "A StorageTest subclass must define a `storage` fixture yielding a flushed backend."
        )

    def _create(self, storage: StorageBase, **fields: Any) -> dict[str, Any]:
        return storage.create(CID, PID, fields)

    def _typed(self, storage: StorageBase) -> None:
        for name, value in TYPED_VALUES.items():
            self._create(storage, name=name, v=value)
        self._create(storage, name="missing")

    def _matching(self, storage: StorageBase, *filters: Filter) -> set[str]:
        """The names of the records matching ``filters``; counting them agrees."""
        records = _list(storage, filters=list(filters))
        assert storage.count_all(CID, PID, filters=list(filters)) == len(records)
        return set(_names(records))

    # create / get

    def test_create_generates_a_uuid4_id_and_a_timestamp(self, storage: StorageBase) -> None:
        record = self._create(storage, title="hello")
        assert uuid.UUID(record["id"]).version == 4
        assert type(record["last_modified"]) is int
        assert record["title"] == "hello"
        assert storage.get(CID, PID, record["id"]) == record

    def test_create_keeps_a_given_id(self, storage: StorageBase) -> None:
        record = storage.create(CID, PID, {"id": "my-id", "title": "x"})
        assert record["id"] == "my-id"
        assert storage.get(CID, PID, "my-id")["title"] == "x"

    def test_create_uses_the_id_generator(self, storage: StorageBase) -> None:
        record = storage.create(CID, PID, {}, id_generator=lambda: "generated")
        assert record["id"] == "generated"

    @pytest.mark.parametrize("given", [1, 2**52], ids=["past", "future"])
    def test_create_ignores_a_given_last_modified(self, storage: StorageBase, given: int) -> None:
        before = self._create(storage)["last_modified"]
        record = storage.create(CID, PID, {"last_modified": given})
        assert before < record["last_modified"] < 2**52
        assert storage.collection_timestamp(CID, PID) == record["last_modified"]

    def test_create_neither_keeps_nor_changes_the_given_dict(self, storage: StorageBase) -> None:
        given: dict[str, Any] = {"tags": ["a"], "nested": {"x": 1}}
        record = storage.create(CID, PID, given)
        assert given == {"tags": ["a"], "nested": {"x": 1}}
        given["tags"].append("b")
        given["nested"]["x"] = 2
        record["tags"].append("c")
        stored = storage.get(CID, PID, record["id"])
        assert stored["tags"] == ["a"] and stored["nested"] == {"x": 1}

    def test_records_read_are_copies(self, storage: StorageBase) -> None:
        record = self._create(storage, tags=["a"])
        storage.get(CID, PID, record["id"])["tags"].append("b")
        _list(storage)[0]["tags"].append("c")
        assert storage.get(CID, PID, record["id"])["tags"] == ["a"]
        given: dict[str, Any] = {"tags": ["u"]}
        storage.update(CID, PID, record["id"], given)["tags"].append("d")
        given["tags"].append("e")
        assert storage.get(CID, PID, record["id"])["tags"] == ["u"]

    def test_create_with_an_existing_id_raises_unicity_error(self, storage: StorageBase) -> None:
        existing = storage.create(CID, PID, {"id": "a", "title": "first"})
        with pytest.raises(UnicityError) as raised:
            storage.create(CID, PID, {"id": "a", "title": "second"})
        assert raised.value.field == "id"
        assert raised.value.record == existing
        assert storage.get(CID, PID, "a")["title"] == "first"

    def test_create_with_the_id_of_a_deleted_record_replaces_its_tombstone(
        self, storage: StorageBase
    ) -> None:
        storage.create(CID, PID, {"id": "a"})
        storage.delete(CID, PID, "a")
        storage.create(CID, PID, {"id": "a", "title": "again"})
        records = _list(storage, include_deleted=True)
        assert [(r["id"], r.get("deleted")) for r in records] == [("a", None)]

    def test_create_with_a_taken_unique_field_raises(self, storage: StorageBase) -> None:
        existing = self._create(storage, email="a@example.com")
        with pytest.raises(UnicityError) as raised:
            storage.create(CID, PID, {"email": "a@example.com"}, unique_fields=["email"])
        assert raised.value.field == "email"
        assert raised.value.record == existing
        assert storage.count_all(CID, PID) == 1

    def test_unique_fields_skip_null_values_tombstones_and_other_collections(
        self, storage: StorageBase
    ) -> None:
        unique: dict[str, Any] = {"unique_fields": ["email"]}
        storage.create(CID, PID, {"title": "no email"}, **unique)
        storage.create(CID, PID, {"email": None}, **unique)
        storage.create(CID, PID, {"email": None}, **unique)
        gone = storage.create(CID, PID, {"email": "a@example.com"}, **unique)
        storage.delete(CID, PID, gone["id"])
        storage.create(CID, PID, {"email": "a@example.com"}, **unique)
        storage.create(CID, "bob", {"email": "a@example.com"}, **unique)
        storage.create("comments", PID, {"email": "a@example.com"}, **unique)
        assert storage.count_all(CID, PID) == 4

    def test_unique_fields_compare_json_values(self, storage: StorageBase) -> None:
        self._create(storage, rank=1)
        storage.create(CID, PID, {"rank": True}, unique_fields=["rank"])
        storage.create(CID, PID, {"rank": "1"}, unique_fields=["rank"])
        with pytest.raises(UnicityError):
            storage.create(CID, PID, {"rank": 1.0}, unique_fields=["rank"])

    def test_get_unknown_record_raises_not_found(self, storage: StorageBase) -> None:
        with pytest.raises(RecordNotFoundError):
            storage.get(CID, PID, "unknown")

    def test_get_deleted_record_raises_not_found(self, storage: StorageBase) -> None:
        record = self._create(storage)
        storage.delete(CID, PID, record["id"])
        with pytest.raises(RecordNotFoundError):
            storage.get(CID, PID, record["id"])

    def test_custom_field_names(self, storage: StorageBase) -> None:
        names: dict[str, Any] = {"id_field": "pk", "modified_field": "ts"}
        record = storage.create(CID, PID, {"title": "x"}, id_generator=lambda: "k1", **names)
        assert record["pk"] == "k1" and type(record["ts"]) is int
        assert storage.get(CID, PID, "k1", **names) == record
        storage.create(CID, PID, {"pk": "k2"}, **names)
        assert [r["pk"] for r in _list(storage, **names)] == ["k2", "k1"]
        tombstone = storage.delete(CID, PID, "k1", deleted_field="gone", **names)
        assert tombstone == {"pk": "k1", "ts": tombstone["ts"], "gone": True}

    # update

    def test_update_replaces_the_whole_record(self, storage: StorageBase) -> None:
        record = self._create(storage, title="old", body="text")
        updated = storage.update(CID, PID, record["id"], {"title": "new"})
        assert updated == {"id": record["id"], "title": "new", "last_modified": ANY_INT}
        assert updated["last_modified"] > record["last_modified"]
        assert storage.get(CID, PID, record["id"]) == updated

    def test_update_creates_a_missing_record(self, storage: StorageBase) -> None:
        created = storage.update(CID, PID, "new-id", {"title": "x"})
        assert created["id"] == "new-id"
        assert storage.get(CID, PID, "new-id") == created

    def test_update_sets_the_id_from_object_id(self, storage: StorageBase) -> None:
        updated = storage.update(CID, PID, "right", {"id": "wrong", "last_modified": 1})
        assert updated["id"] == "right" and updated["last_modified"] > 1
        with pytest.raises(RecordNotFoundError):
            storage.get(CID, PID, "wrong")

    def test_update_revives_a_deleted_record(self, storage: StorageBase) -> None:
        record = self._create(storage)
        storage.delete(CID, PID, record["id"])
        storage.update(CID, PID, record["id"], {"title": "back"})
        assert [r.get("deleted") for r in _list(storage, include_deleted=True)] == [None]

    def test_update_with_a_unique_field_taken_by_another_record(
        self, storage: StorageBase
    ) -> None:
        other = self._create(storage, email="taken@example.com")
        mine = self._create(storage, email="mine@example.com")
        unique: dict[str, Any] = {"unique_fields": ["email"]}
        storage.update(CID, PID, mine["id"], {"email": "mine@example.com"}, **unique)
        with pytest.raises(UnicityError) as raised:
            storage.update(CID, PID, mine["id"], {"email": "taken@example.com"}, **unique)
        assert raised.value.field == "email" and raised.value.record == other
        assert storage.get(CID, PID, mine["id"])["email"] == "mine@example.com"

    # delete

    def test_delete_returns_a_tombstone(self, storage: StorageBase) -> None:
        record = self._create(storage, title="x")
        tombstone = storage.delete(CID, PID, record["id"])
        assert tombstone == {"id": record["id"], "last_modified": ANY_INT, "deleted": True}
        assert tombstone["last_modified"] > record["last_modified"]
        assert _list(storage, include_deleted=True) == [tombstone]
        assert _list(storage) == []

    def test_delete_unknown_or_deleted_record_raises_not_found(self, storage: StorageBase) -> None:
        with pytest.raises(RecordNotFoundError):
            storage.delete(CID, PID, "unknown")
        record = self._create(storage)
        storage.delete(CID, PID, record["id"])
        with pytest.raises(RecordNotFoundError):
            storage.delete(CID, PID, record["id"])

    def test_delete_without_tombstone(self, storage: StorageBase) -> None:
        record = self._create(storage)
        tombstone = storage.delete(CID, PID, record["id"], with_deleted=False)
        assert tombstone["deleted"] is True
        assert _list(storage, include_deleted=True) == []
        assert storage.purge_deleted(CID, PID) == 0

    def test_delete_uses_a_wished_newer_timestamp(self, storage: StorageBase) -> None:
        record = self._create(storage)
        wished = record["last_modified"] + 100_000
        tombstone = storage.delete(CID, PID, record["id"], last_modified=wished)
        assert tombstone["last_modified"] == wished
        assert storage.collection_timestamp(CID, PID) == wished
        assert self._create(storage)["last_modified"] > wished

    def test_delete_ignores_a_wished_older_timestamp(self, storage: StorageBase) -> None:
        first = self._create(storage)
        second = self._create(storage)
        tombstone = storage.delete(CID, PID, first["id"], last_modified=first["last_modified"])
        assert tombstone["last_modified"] > second["last_modified"]

    # timestamps

    def test_timestamps_are_epoch_milliseconds(self, storage: StorageBase) -> None:
        now = time.time() * 1000
        assert abs(self._create(storage)["last_modified"] - now) < 60_000

    def test_quick_writes_get_strictly_increasing_timestamps(self, storage: StorageBase) -> None:
        stamps = [self._create(storage, n=n)["last_modified"] for n in range(200)]
        assert _increasing(stamps)
        assert storage.collection_timestamp(CID, PID) == stamps[-1]

    def test_updates_and_deletes_get_strictly_increasing_timestamps(
        self, storage: StorageBase
    ) -> None:
        record = self._create(storage)
        stamps = [record["last_modified"]]
        for n in range(20):
            stamps.append(storage.update(CID, PID, record["id"], {"n": n})["last_modified"])
        stamps.append(storage.delete(CID, PID, record["id"])["last_modified"])
        stamps.append(self._create(storage)["last_modified"])
        assert _increasing(stamps)

    def test_every_record_and_tombstone_has_its_own_timestamp(self, storage: StorageBase) -> None:
        for n in range(30):
            self._create(storage, n=n)
        storage.delete_all(CID, PID, filters=[Filter("n", 10, COMPARISON.LT)])
        stamps = [r["last_modified"] for r in _list(storage, include_deleted=True)]
        assert len(stamps) == len(set(stamps)) == 30

    def test_collection_timestamp_of_an_empty_collection_is_stable(
        self, storage: StorageBase
    ) -> None:
        first = storage.collection_timestamp(CID, PID)
        assert abs(first - time.time() * 1000) < 60_000
        time.sleep(0.005)
        assert storage.collection_timestamp(CID, PID) == first
        assert self._create(storage)["last_modified"] > first

    def test_collection_timestamp_is_the_highest_last_modified(self, storage: StorageBase) -> None:
        first = self._create(storage)
        self._create(storage)
        updated = storage.update(CID, PID, first["id"], {"n": 1})
        assert storage.collection_timestamp(CID, PID) == updated["last_modified"]
        tombstone = storage.delete(CID, PID, first["id"])
        assert storage.collection_timestamp(CID, PID) == tombstone["last_modified"]

    def test_collection_timestamp_never_goes_back(self, storage: StorageBase) -> None:
        record = self._create(storage)
        tombstone = storage.delete(CID, PID, record["id"])
        storage.purge_deleted(CID, PID)
        assert storage.collection_timestamp(CID, PID) >= tombstone["last_modified"]
        assert self._create(storage)["last_modified"] > tombstone["last_modified"]

    def test_timestamps_are_per_collection(self, storage: StorageBase) -> None:
        mine = self._create(storage)["last_modified"]
        for n in range(10):
            storage.create(CID, "bob", {"n": n})
            storage.create("comments", PID, {"n": n})
        assert storage.collection_timestamp(CID, PID) == mine

    def test_concurrent_creates_get_unique_increasing_timestamps(
        self, storage: StorageBase
    ) -> None:
        barrier = threading.Barrier(8)

        def write(worker: int) -> list[int]:
            barrier.wait(timeout=30)
            return [self._create(storage, w=worker, n=n)["last_modified"] for n in range(50)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(write, range(8)))
        stamps = [stamp for result in results for stamp in result]
        assert len(set(stamps)) == 400
        assert all(_increasing(r) for r in results)
        assert storage.collection_timestamp(CID, PID) == max(stamps)
        assert storage.count_all(CID, PID) == 400

    # isolation

    @pytest.mark.parametrize("other", [(CID, "bob"), ("comments", PID)], ids=["parent", "name"])
    def test_collections_are_isolated(self, storage: StorageBase, other: tuple[str, str]) -> None:
        storage.create(CID, PID, {"id": "same", "owner": "alice"})
        storage.create(*other, {"id": "same", "owner": "other"})
        storage.create(*other, {"id": "only-there"})
        assert storage.get(CID, PID, "same")["owner"] == "alice"
        with pytest.raises(RecordNotFoundError):
            storage.get(CID, PID, "only-there")
        assert storage.count_all(CID, PID) == 1
        storage.delete(*other, "only-there")
        storage.delete_all(CID, PID)
        assert storage.get(*other, "same")["owner"] == "other"
        assert storage.purge_deleted(CID, PID) == 1
        assert len(_list(storage, include_deleted=True)) == 0
        assert len(storage.list_all(*other, include_deleted=True)) == 2
        assert storage.count_all(*other) == 1

    # filters

    @pytest.mark.parametrize(
        "operator, value, expected",
        [
            (COMPARISON.EQ, 10, {"int"}),
            (COMPARISON.EQ, 10.0, {"int"}),
            (COMPARISON.EQ, True, {"true"}),
            (COMPARISON.EQ, None, {"null"}),
            (COMPARISON.EQ, [1, 2], {"list"}),
            (COMPARISON.EQ, {"a": 1}, {"obj"}),
            (COMPARISON.NOT, 3, ALL_NAMES - {"small"}),
            (COMPARISON.LT, 3, {"null", "false", "true", "float"}),
            (COMPARISON.MAX, 3, {"null", "false", "true", "float", "small"}),
            (COMPARISON.GT, 3, {"int", "str", "list", "obj"}),
            (COMPARISON.MIN, 3, {"small", "int", "str", "list", "obj"}),
            (COMPARISON.GT, "abb", {"str", "list", "obj"}),
            (COMPARISON.LT, False, {"null"}),
            (COMPARISON.IN, [3, "abc", 99], {"small", "str"}),
            (COMPARISON.IN, [1, 0], set()),
            (COMPARISON.EXCLUDE, [3, "abc"], ALL_NAMES - {"small", "str"}),
            (COMPARISON.HAS, True, ALL_NAMES - {"null", "missing"}),
            (COMPARISON.HAS, False, {"null", "missing"}),
        ],
    )
    def test_filter_operators_over_mixed_types(
        self, storage: StorageBase, operator: COMPARISON, value: Any, expected: set[str]
    ) -> None:
        self._typed(storage)
        assert self._matching(storage, Filter("v", value, operator)) == expected

    @pytest.mark.parametrize(
        "operator, value",
        [
            (COMPARISON.EQ, None),
            (COMPARISON.LT, 1000),
            (COMPARISON.GT, None),
            (COMPARISON.MIN, None),
            (COMPARISON.MAX, {"z": 1}),
            (COMPARISON.IN, [None]),
            (COMPARISON.LIKE, "*"),
        ],
    )
    def test_a_missing_field_never_matches(
        self, storage: StorageBase, operator: COMPARISON, value: Any
    ) -> None:
        self._typed(storage)
        assert "missing" not in self._matching(storage, Filter("v", value, operator))

    @pytest.mark.parametrize(
        "pattern, expected",
        [
            ("hello", {"Hello World", "hello", "say HELLO there"}),
            ("*hello*", {"Hello World", "hello", "say HELLO there"}),
            ("hello*", {"Hello World", "hello"}),
            ("*world", {"Hello World"}),
            ("*lo*wor*", {"Hello World"}),
            ("a.c", {"a.c"}),
            ("4", set()),
        ],
    )
    def test_like_filter(self, storage: StorageBase, pattern: str, expected: set[str]) -> None:
        for text in ["Hello World", "hello", "say HELLO there", "a.c", "abc"]:
            self._create(storage, name=text, v=text)
        self._create(storage, name="number", v=42)
        self._create(storage, name="missing")
        assert self._matching(storage, Filter("v", pattern, COMPARISON.LIKE)) == expected

    @pytest.mark.parametrize(
        "pattern, expected",
        [
            ("héllo", {"HÉLLO wörld", "héllo"}),
            ("HÉLLO", {"HÉLLO wörld", "héllo"}),
            ("*WÖRLD", {"HÉLLO wörld"}),
            ("ωmega*", {"ΩMEGA"}),
            ("ДОМ", {"дом"}),
            ("e", {"ΩMEGA"}),  # case is folded, accents are not: é is not e
            ("mega", {"ΩMEGA"}),
            ("*LD", {"HÉLLO wörld"}),
        ],
    )
    def test_like_filter_folds_the_case_of_every_letter(
        self, storage: StorageBase, pattern: str, expected: set[str]
    ) -> None:
        for text in ["HÉLLO wörld", "héllo", "ΩMEGA", "дом"]:
            self._create(storage, name=text, v=text)
        assert self._matching(storage, Filter("v", pattern, COMPARISON.LIKE)) == expected

    def test_declared_indexed_fields_change_no_answer(self, storage: StorageBase) -> None:
        # Indexes (cliquet.storage.sql_indexes) change how a backend finds records, never
        # which: every operator on every type, declared or not.
        self._typed(storage)
        self._create(storage, name="text", v="Hello")
        operators = (COMPARISON.LT, COMPARISON.MAX, COMPARISON.GT, COMPARISON.MIN)
        conditions = [
            *(Filter("v", value, op) for op in operators for value in TYPED_VALUES.values()),
            *(Filter("v", pattern, COMPARISON.LIKE) for pattern in ("b", "HELL", "*c", "a*")),
            Filter("v", [3, "abc", None, 2.5], COMPARISON.IN),
            Filter("v", "abc", COMPARISON.EQ),
        ]
        before = [self._matching(storage, c) for c in conditions]
        storage.declare_indexed_fields(["v"])
        storage.initialize_schema()
        try:
            assert [self._matching(storage, c) for c in conditions] == before
        finally:
            storage.declare_indexed_fields([])
            storage.initialize_schema()

    def test_filters_are_combined_with_and(self, storage: StorageBase) -> None:
        for n in range(10):
            self._create(storage, name=str(n), n=n, even=n % 2 == 0)
        filters = [Filter("n", 3, COMPARISON.GT), Filter("even", True, COMPARISON.EQ)]
        assert self._matching(storage, *filters) == {"4", "6", "8"}

    def test_filters_on_id_and_last_modified(self, storage: StorageBase) -> None:
        records = [self._create(storage, name=str(n)) for n in range(5)]
        since = Filter("last_modified", records[2]["last_modified"], COMPARISON.GT)
        assert self._matching(storage, since) == {"3", "4"}
        by_id = Filter("id", [records[0]["id"], records[4]["id"]], COMPARISON.IN)
        assert self._matching(storage, by_id) == {"0", "4"}

    def test_filters_on_nested_fields(self, storage: StorageBase) -> None:
        self._create(storage, name="ann", author={"name": "Ann", "age": 30})
        self._create(storage, name="bob", author={"name": "Bob"})
        self._create(storage, name="flat", author="Ann")
        self._create(storage, name="none")
        assert self._matching(storage, Filter("author.name", "Ann", COMPARISON.EQ)) == {"ann"}
        assert self._matching(storage, Filter("author.age", 18, COMPARISON.MIN)) == {"ann"}
        assert self._matching(storage, Filter("author.age", False, COMPARISON.HAS)) == {
            "bob",
            "flat",
            "none",
        }
        assert self._matching(storage, Filter("author.name", "Ann", COMPARISON.NOT)) == {
            "bob",
            "flat",
            "none",
        }

    # values: what a service accepts (see cliquet.json_body), every backend gives back exactly

    @pytest.mark.parametrize(
        "value",
        [
            1e300,
            -1e300,
            1e16,
            1.5e-7,
            5e-324,
            1.7976931348623157e308,
            100.0,
            0.1,
            2**63 - 1,
            -(2**63),
            2**53 + 1,
            "\u00e9\U0001f600",
            {"nested": [1.0, {"deep": 1e20}]},
        ],
    )
    def test_values_come_back_exactly_with_their_type(
        self, storage: StorageBase, value: Any
    ) -> None:
        record = self._create(storage, v=value)
        got = [storage.get(CID, PID, record["id"])["v"], _list(storage)[0]["v"]]
        for read in got:
            assert read == value
            assert repr(read) == repr(value)  # a float stays a float, to the last digit

    @pytest.mark.parametrize(
        "low, high",
        [
            (2**63 - 2, 2**63 - 1),
            (-(2**63), -(2**63) + 1),
            (2**53, 2**53 + 1),
            (1e300, 1.0000000000000002e300),
            (5e-324, 1e-323),
        ],
    )
    def test_extreme_numbers_compare_exactly(
        self, storage: StorageBase, low: Any, high: Any
    ) -> None:
        self._create(storage, name="low", v=low)
        self._create(storage, name="high", v=high)
        assert self._matching(storage, Filter("v", high, COMPARISON.EQ)) == {"high"}
        assert self._matching(storage, Filter("v", low, COMPARISON.GT)) == {"high"}
        assert self._matching(storage, Filter("v", [low], COMPARISON.IN)) == {"low"}
        ordered = _names(_list(storage, sorting=[Sort("v", 1)]))
        assert ordered == ["low", "high"]

    @pytest.mark.parametrize(
        "operator, value, expected",
        [
            (COMPARISON.EQ, 2**64, {"2**64"}),
            (COMPARISON.EQ, 2**64 + 1, set()),
            (COMPARISON.EQ, 2**63, {"2**63"}),
            (COMPARISON.EQ, -(2**64), {"-2**64"}),
            (COMPARISON.EQ, 1e300, {"1e300"}),
            (COMPARISON.NOT, 2**64 + 1, BIG_NAMES | {"str"}),
            (COMPARISON.GT, 2**64, {"above", "1e300", "str"}),
            (COMPARISON.GT, 2**64 - 1, {"2**64", "above", "1e300", "str"}),
            (COMPARISON.MIN, 2**64, {"2**64", "above", "1e300", "str"}),
            (COMPARISON.LT, 2**64 + 1, BIG_NAMES - {"above", "1e300"}),
            (COMPARISON.MAX, 2**63 - 1, {"-2**64", "2**60", "2**60+14", "int64_max"}),
            (COMPARISON.LT, 2**63, {"-2**64", "2**60", "2**60+14", "int64_max"}),
            (COMPARISON.LT, 2**60 + 14, {"-2**64", "2**60"}),
            (COMPARISON.GT, float(2**60), (BIG_NAMES | {"str"}) - {"-2**64", "2**60"}),
            (COMPARISON.EQ, float(2**60), {"2**60"}),
            (COMPARISON.GT, -(2**64) - 1, BIG_NAMES | {"str"}),
            (COMPARISON.LT, 10**400, BIG_NAMES),
            (COMPARISON.GT, 10**400, {"str"}),
            (COMPARISON.IN, [2**64, 2**65, 2**63 - 1], {"2**64", "int64_max"}),
            (COMPARISON.EXCLUDE, [2**64, 2**64 + 1], (BIG_NAMES | {"str"}) - {"2**64"}),
        ],
        ids=_number_id,
    )
    def test_filters_on_numbers_beyond_64_bits(
        self, storage: StorageBase, operator: COMPARISON, value: Any, expected: set[str]
    ) -> None:
        # Stored values are those a body may hold (64-bit integers, floats); filter values
        # may be any int: each backend compares them exactly, as Python does. Strings rank
        # above numbers.
        for name, stored in BIG_VALUES.items():
            self._create(storage, name=name, v=stored)
        self._create(storage, name="str", v="text")
        assert self._matching(storage, Filter("v", value, operator)) == expected

    @pytest.mark.parametrize("value", [2**64, -(2**64), 2**63, 10**400], ids=_number_id)
    def test_filters_on_timestamps_beyond_64_bits(self, storage: StorageBase, value: int) -> None:
        records = {self._create(storage, name=str(n))["name"] for n in range(3)}
        last_modified = "last_modified"
        above = records if value > 0 else set()
        below = set() if value > 0 else records
        assert self._matching(storage, Filter(last_modified, value, COMPARISON.EQ)) == set()
        assert self._matching(storage, Filter(last_modified, value, COMPARISON.LT)) == above
        assert self._matching(storage, Filter(last_modified, value, COMPARISON.GT)) == below
        assert self._matching(storage, Filter(last_modified, [value], COMPARISON.IN)) == set()

    def test_sort_over_numbers_near_64_bits(self, storage: StorageBase) -> None:
        for name, stored in BIG_VALUES.items():
            self._create(storage, name=name, v=stored)
        expected = sorted(BIG_VALUES, key=lambda name: BIG_VALUES[name])
        assert _names(_list(storage, sorting=[Sort("v", 1)])) == expected
        assert _names(_list(storage, sorting=[Sort("v", -1)])) == expected[::-1]

    # sorting

    def test_default_order_is_newest_first(self, storage: StorageBase) -> None:
        records = [self._create(storage) for _ in range(5)]
        storage.update(CID, PID, records[1]["id"], {})
        expected = [records[i]["id"] for i in (1, 4, 3, 2, 0)]
        assert _ids(_list(storage)) == expected

    @pytest.mark.parametrize("direction", [1, -1])
    def test_sort_on_one_field(self, storage: StorageBase, direction: int) -> None:
        for n in [3, 1, 4, 15, 9, 2, 6]:
            self._create(storage, name=str(n), n=n)
        names = _names(_list(storage, sorting=[Sort("n", direction)]))
        expected = ["1", "2", "3", "4", "6", "9", "15"]
        assert names == (expected if direction == 1 else expected[::-1])

    def test_sort_on_several_fields(self, storage: StorageBase) -> None:
        for name, group, rank in [("a", 2, 1), ("b", 1, 1), ("c", 2, 3), ("d", 1, 2)]:
            self._create(storage, name=name, group=group, rank=rank)
        sorting = [Sort("group", 1), Sort("rank", -1)]
        assert _names(_list(storage, sorting=sorting)) == ["d", "b", "c", "a"]

    def test_sort_over_mixed_types_and_missing_fields(self, storage: StorageBase) -> None:
        self._typed(storage)
        names = _names(_list(storage, sorting=[Sort("v", 1)]))
        assert set(names[:2]) == {"null", "missing"}
        assert names[2:] == ["false", "true", "float", "small", "int", "str", "list", "obj"]
        descending = _names(_list(storage, sorting=[Sort("v", -1)]))
        assert descending[:8] == names[2:][::-1]
        assert set(descending[8:]) == {"null", "missing"}

    def test_sort_on_a_nested_field(self, storage: StorageBase) -> None:
        for name in ["carol", "alice", "bob"]:
            self._create(storage, name=name, author={"name": name})
        assert _names(_list(storage, sorting=[Sort("author.name", 1)])) == [
            "alice",
            "bob",
            "carol",
        ]

    def test_sort_with_tombstones(self, storage: StorageBase) -> None:
        records = [self._create(storage, name=str(n)) for n in range(4)]
        storage.delete(CID, PID, records[1]["id"])
        listed = _list(storage, include_deleted=True, sorting=[Sort("last_modified", 1)])
        assert _ids(listed) == _ids([records[0], records[2], records[3], records[1]])
        assert listed[-1]["deleted"] is True

    # pagination and limit

    def test_pagination_rules_are_an_or_of_ands(self, storage: StorageBase) -> None:
        for n in range(10):
            self._create(storage, name=str(n), n=n)
        rules = [
            [Filter("n", 2, COMPARISON.MIN), Filter("n", 3, COMPARISON.MAX)],
            [Filter("n", 8, COMPARISON.GT)],
        ]
        records = _list(storage, pagination_rules=rules)
        assert set(_names(records)) == {"2", "3", "9"}

    def test_limit(self, storage: StorageBase) -> None:
        records = [self._create(storage) for _ in range(5)]
        listed = _list(storage, limit=2)
        assert _ids(listed) == [records[4]["id"], records[3]["id"]]

    # count_all

    def test_count_all_of_a_collection_never_written_is_zero(self, storage: StorageBase) -> None:
        assert storage.count_all(CID, PID) == 0
        assert storage.count_all(CID, PID, filters=[Filter("n", 1, COMPARISON.EQ)]) == 0

    def test_count_all_counts_live_records_not_tombstones(self, storage: StorageBase) -> None:
        records = [self._create(storage, n=n) for n in range(5)]
        storage.delete(CID, PID, records[0]["id"])
        storage.delete(CID, PID, records[1]["id"], with_deleted=False)
        storage.update(CID, PID, records[2]["id"], {"n": 20})
        storage.update(CID, PID, "new", {"n": 5})
        assert storage.count_all(CID, PID) == 4
        storage.create(CID, PID, {"id": records[0]["id"]})  # over its tombstone
        assert storage.count_all(CID, PID) == 5
        storage.delete_all(CID, PID, filters=[Filter("n", 5, COMPARISON.MIN)])
        assert storage.count_all(CID, PID) == 3
        storage.purge_deleted(CID, PID)
        assert storage.count_all(CID, PID) == 3

    def test_count_all_counts_the_records_matching_every_filter(
        self, storage: StorageBase
    ) -> None:
        for n in range(20):
            self._create(storage, n=n, group=n % 3, tags=["x"] if n % 2 else [])
        some = [Filter("n", 10, COMPARISON.LT), Filter("group", 0, COMPARISON.EQ)]
        assert storage.count_all(CID, PID, filters=some) == 4  # 0, 3, 6, 9
        tagged = [Filter("tags", ["x"], COMPARISON.EQ), Filter("group", [1, 2], COMPARISON.IN)]
        assert storage.count_all(CID, PID, filters=tagged) == 7
        assert storage.count_all(CID, PID, filters=[Filter("n", 99, COMPARISON.EQ)]) == 0

    def test_count_all_ignores_tombstones_matching_the_filters(self, storage: StorageBase) -> None:
        since = storage.collection_timestamp(CID, PID)
        kept, gone = self._create(storage), self._create(storage)
        storage.delete(CID, PID, gone["id"])
        changed = [Filter("last_modified", since, COMPARISON.GT)]
        assert storage.count_all(CID, PID, filters=changed) == 1
        by_id = [Filter("id", [kept["id"], gone["id"]], COMPARISON.IN)]
        assert storage.count_all(CID, PID, filters=by_id) == 1

    def test_count_all_with_custom_field_names(self, storage: StorageBase) -> None:
        names: dict[str, Any] = {
            "id_field": "pk",
            "modified_field": "stamp",
            "deleted_field": "gone",
        }
        first = storage.create(CID, PID, {"pk": "a"}, id_field="pk", modified_field="stamp")
        storage.create(CID, PID, {"pk": "b"}, id_field="pk", modified_field="stamp")
        storage.delete(CID, PID, "b", id_field="pk", modified_field="stamp", deleted_field="gone")
        assert storage.count_all(CID, PID, **names) == 1
        at_first = [Filter("stamp", first["stamp"], COMPARISON.EQ)]
        assert storage.count_all(CID, PID, filters=at_first, **names) == 1
        gone = [Filter("pk", "b", COMPARISON.EQ)]
        assert storage.count_all(CID, PID, filters=gone, **names) == 0

    def test_get_all_lists_and_counts_in_one_call(self, storage: StorageBase) -> None:
        """The older listing, kept for callers written before count_all."""
        records = [self._create(storage, n=n) for n in range(10)]
        storage.delete(CID, PID, records[9]["id"])
        storage.delete(CID, PID, records[0]["id"])
        options: dict[str, Any] = {
            "filters": [Filter("n", 5, COMPARISON.LT)],
            "pagination_rules": [[Filter("n", 2, COMPARISON.GT)]],
            "limit": 1,
            "include_deleted": True,
        }
        listed, count = storage.get_all(CID, PID, **options)
        assert listed == storage.list_all(CID, PID, **options)
        assert _names(listed) == _names([records[4]])
        assert count == 4 == storage.count_all(CID, PID, filters=options["filters"])

    def test_keyset_pagination_returns_each_record_once(self, storage: StorageBase) -> None:
        expected = {self._create(storage, group=n % 5)["id"] for n in range(100)}
        tie = Sort("last_modified", -1)
        seen = _walk_groups(storage, tie, limit=7)
        assert len(seen) == 100 and set(seen) == expected
        assert seen == _ids(_list(storage, sorting=[Sort("group", 1), tie]))

    def test_keyset_on_a_field_then_the_id_stays_put_under_updates(
        self, storage: StorageBase
    ) -> None:
        # How resources page a sort with ties: (field, id), so that updating a record that
        # keeps its field value moves it neither before nor after the cursor.
        expected = {self._create(storage, group=n % 3)["id"] for n in range(30)}
        tie = Sort("id", 1)
        sorting = [Sort("group", 1), tie]

        def update_some(served: int) -> None:
            for record in _list(storage, sorting=sorting)[::5]:
                storage.update(CID, PID, record["id"], {**record, "edited": served})

        seen = _walk_groups(storage, tie, limit=4, between_pages=update_some)
        assert len(seen) == 30 and set(seen) == expected
        assert seen == _ids(_list(storage, sorting=sorting))

    # tombstones

    def test_tombstones_are_listed_only_on_demand(self, storage: StorageBase) -> None:
        kept = self._create(storage)
        gone = self._create(storage)
        tombstone = storage.delete(CID, PID, gone["id"])
        assert _list(storage) == [kept]
        assert _list(storage, include_deleted=True) == [tombstone, kept]

    def test_since_filter_lists_changes_and_deletions(self, storage: StorageBase) -> None:
        old = self._create(storage, name="old")
        doomed = self._create(storage, name="doomed")
        since = storage.collection_timestamp(CID, PID)
        new = self._create(storage, name="new")
        tombstone = storage.delete(CID, PID, doomed["id"])
        gt_since = [Filter("last_modified", since, COMPARISON.GT)]
        records = _list(storage, filters=gt_since, include_deleted=True)
        assert records == [tombstone, new]
        before = [Filter("last_modified", new["last_modified"], COMPARISON.LT)]
        assert _list(storage, filters=before, include_deleted=True) == [old]

    # delete_all

    def test_delete_all_returns_tombstones(self, storage: StorageBase) -> None:
        ids = {self._create(storage)["id"] for _ in range(3)}
        tombstones = storage.delete_all(CID, PID)
        assert {t["id"] for t in tombstones} == ids
        assert all(set(t) == {"id", "last_modified", "deleted"} for t in tombstones)
        assert all(t["deleted"] is True for t in tombstones)
        assert _list(storage) == []
        assert storage.count_all(CID, PID) == 0
        assert len(_list(storage, include_deleted=True)) == 3

    def test_delete_all_honours_filters(self, storage: StorageBase) -> None:
        for n in range(6):
            self._create(storage, name=str(n), n=n)
        tombstones = storage.delete_all(CID, PID, filters=[Filter("n", 2, COMPARISON.MAX)])
        assert len(tombstones) == 3
        assert set(_names(_list(storage))) == {"3", "4", "5"}

    def test_delete_all_honours_sorting_and_limit(self, storage: StorageBase) -> None:
        for n in [5, 1, 4, 2, 3]:
            self._create(storage, name=str(n), n=n)
        storage.delete_all(CID, PID, sorting=[Sort("n", 1)], limit=2)
        assert set(_names(_list(storage))) == {"3", "4", "5"}

    def test_delete_all_without_tombstones(self, storage: StorageBase) -> None:
        self._create(storage)
        assert len(storage.delete_all(CID, PID, with_deleted=False)) == 1
        assert _list(storage, include_deleted=True) == []

    def test_delete_all_of_an_empty_collection(self, storage: StorageBase) -> None:
        assert storage.delete_all(CID, PID) == []

    # purge_deleted

    def test_purge_deleted_removes_tombstones_only(self, storage: StorageBase) -> None:
        kept = self._create(storage)
        for _ in range(3):
            storage.delete(CID, PID, self._create(storage)["id"])
        assert storage.purge_deleted(CID, PID) == 3
        assert _list(storage, include_deleted=True) == [kept]
        assert storage.purge_deleted(CID, PID) == 0

    def test_purge_deleted_before(self, storage: StorageBase) -> None:
        tombstones = [storage.delete(CID, PID, self._create(storage)["id"]) for _ in range(4)]
        assert storage.purge_deleted(CID, PID, before=tombstones[2]["last_modified"]) == 2
        assert _list(storage, include_deleted=True) == tombstones[:1:-1]

    # administration

    def test_heartbeat(self, storage: StorageBase) -> None:
        assert storage.heartbeat() is True

    def test_initialize_schema_twice(self, storage: StorageBase) -> None:
        record = self._create(storage)
        storage.initialize_schema()
        storage.initialize_schema(dry_run=True)
        assert storage.get(CID, PID, record["id"]) == record

    def test_flush_removes_everything(self, storage: StorageBase) -> None:
        record = self._create(storage)
        storage.create("comments", "bob", {})
        storage.delete(CID, PID, self._create(storage)["id"])
        storage.flush()
        with pytest.raises(RecordNotFoundError):
            storage.get(CID, PID, record["id"])
        assert _list(storage, include_deleted=True) == []
        assert storage.count_all(CID, PID) == 0
        assert storage.list_all("comments", "bob") == []
        assert storage.count_all("comments", "bob") == 0


class TransactionalStorageTest:
    """The unit-of-work part of the contract (``begin``/``commit``/``rollback``).

    Mix it in next to :class:`StorageTest` for a backend that groups a request's writes;
    backends whose writes stand alone (the default no-op methods) leave it out.
    """

    def test_rollback_undoes_creates_updates_and_deletes(self, storage: StorageBase) -> None:
        kept = storage.create(CID, PID, {"n": 1})
        doomed = storage.create(CID, PID, {"n": 2})
        storage.begin()
        storage.create(CID, PID, {"n": 3})
        storage.update(CID, PID, kept["id"], {"n": 10})
        storage.delete(CID, PID, doomed["id"])
        storage.rollback()
        records = _list(storage, include_deleted=True)
        assert sorted(r["n"] for r in records) == [1, 2]
        assert storage.get(CID, PID, kept["id"]) == kept

    def test_listings_keep_their_order_after_a_rollback(self, storage: StorageBase) -> None:
        records = [storage.create(CID, PID, {"n": n}) for n in range(5)]
        doomed = storage.create(CID, PID, {"n": 5})
        storage.delete(CID, PID, doomed["id"])
        storage.begin()
        storage.update(CID, PID, records[1]["id"], {"n": 10})
        storage.delete(CID, PID, records[3]["id"])
        storage.create(CID, PID, {"id": doomed["id"], "n": 50})
        storage.rollback()
        newest_first = sorted(records, key=lambda r: -r["last_modified"])
        assert _list(storage) == newest_first
        assert _list(storage, sorting=[Sort("last_modified", 1)]) == newest_first[::-1]
        assert _list(storage, limit=2) == newest_first[:2]
        since = [Filter("last_modified", records[2]["last_modified"], COMPARISON.GT)]
        assert _list(storage, filters=since) == newest_first[:2]
        with_tombstones = _list(storage, include_deleted=True, limit=2)
        assert [r["id"] for r in with_tombstones] == [doomed["id"], records[4]["id"]]
        assert with_tombstones[0]["deleted"] is True

    def test_commit_keeps_the_writes(self, storage: StorageBase) -> None:
        storage.begin()
        created = storage.create(CID, PID, {"n": 1})
        storage.commit()
        storage.begin()
        storage.rollback()
        assert storage.get(CID, PID, created["id"]) == created

    def test_writes_are_visible_inside_their_unit_of_work(self, storage: StorageBase) -> None:
        storage.begin()
        created = storage.create(CID, PID, {"n": 1})
        assert storage.get(CID, PID, created["id"]) == created
        assert _ids(_list(storage)) == [created["id"]]
        storage.rollback()
        assert _list(storage) == []

    def test_timestamps_never_go_back_after_a_rollback(self, storage: StorageBase) -> None:
        before = storage.create(CID, PID, {"n": 1})["last_modified"]
        storage.begin()
        storage.create(CID, PID, {"n": 2})
        storage.rollback()
        after = storage.create(CID, PID, {"n": 3})["last_modified"]
        assert after > before

    def test_without_begin_each_write_stands_alone(self, storage: StorageBase) -> None:
        created = storage.create(CID, PID, {"n": 1})
        storage.rollback()
        assert storage.get(CID, PID, created["id"]) == created
