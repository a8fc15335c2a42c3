from collections.abc import Iterator
from typing import Any

import pytest
from pyramid.config import Configurator

from cliquet.storage import (
    COMPARISON,
    Filter,
    Sort,
    StorageBase,
    StorageError,
    UnicityError,
    memory,
)
from cliquet.testing.storage import StorageTest, TransactionalStorageTest


def _memory_storage() -> memory.Storage:
    return memory.load_from_config(Configurator(settings={}))


class TestMemoryStorage(StorageTest, TransactionalStorageTest):
    @pytest.fixture
    def storage(self) -> Iterator[memory.Storage]:
        backend = _memory_storage()
        backend.initialize_schema()
        backend.flush()
        yield backend
        backend.flush()


def test_load_from_config_builds_independent_instances() -> None:
    a, b = _memory_storage(), _memory_storage()
    assert isinstance(a, StorageBase)
    a.create("articles", "alice", {"id": "x"})
    assert b.list_all("articles", "alice") == []


def test_repr_names_the_backend() -> None:
    assert repr(_memory_storage()) == "<cliquet.storage.memory.Storage>"


def test_timestamps_follow_the_clock_when_it_is_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = _memory_storage()
    monkeypatch.setattr(memory, "msec_time", lambda: 1_000)
    assert storage.create("c", "p", {})["last_modified"] == 1_000
    assert storage.create("c", "p", {})["last_modified"] == 1_001
    monkeypatch.setattr(memory, "msec_time", lambda: 5_000)
    assert storage.create("c", "p", {})["last_modified"] == 5_000
    monkeypatch.setattr(memory, "msec_time", lambda: 10)  # the clock went back
    assert storage.create("c", "p", {})["last_modified"] == 5_001


# The contract itself (cliquet/storage/__init__.py).


def test_contract_methods_are_abstract_but_listing_counting_and_heartbeat() -> None:
    # list_all, count_all and get_all have defaults built on each other (see _OlderStorage).
    assert StorageBase.__abstractmethods__ == {
        "initialize_schema",
        "flush",
        "collection_timestamp",
        "create",
        "get",
        "update",
        "delete",
        "delete_all",
        "purge_deleted",
    }


class _OlderStorage(memory.Storage):
    """A backend written before counts were split from listings: it has ``get_all`` only."""

    list_all = StorageBase.list_all  # type: ignore[assignment]
    count_all = StorageBase.count_all  # type: ignore[assignment]

    def get_all(  # type: ignore[override]
        self, collection_id: str, parent_id: str, *, filters: Any = None, **options: Any
    ) -> tuple[list[dict[str, Any]], int]:
        self.calls = getattr(self, "calls", 0) + 1
        records = memory.Storage.list_all(
            self, collection_id, parent_id, filters=filters, **options
        )
        return records, memory.Storage.count_all(self, collection_id, parent_id, filters=filters)


class TestOlderStorage(StorageTest):
    """A backend implementing ``get_all`` and not ``list_all``/``count_all`` keeps its place."""

    @pytest.fixture
    def storage(self) -> Iterator[_OlderStorage]:
        yield _OlderStorage()


class _ListingStorage(memory.Storage):
    """A backend that lists and cannot count by itself: counting lists the matches."""

    count_all = StorageBase.count_all  # type: ignore[assignment]


class TestListingStorage(StorageTest):
    @pytest.fixture
    def storage(self) -> Iterator[_ListingStorage]:
        yield _ListingStorage()


def test_an_older_backend_lists_and_counts_through_its_get_all() -> None:
    storage = _OlderStorage()
    storage.create("articles", "alice", {"n": 1})
    assert storage.count_all("articles", "alice") == 1
    assert storage.list_all("articles", "alice")[0]["n"] == 1
    assert storage.calls == 2


def test_a_backend_that_cannot_list_cannot_be_built() -> None:
    class Mute(memory.Storage):
        list_all = StorageBase.list_all  # type: ignore[assignment]

    with pytest.raises(TypeError, match="list_all"):
        Mute()


def test_heartbeat_is_false_when_the_backend_fails() -> None:
    class Broken(memory.Storage):
        def list_all(self, *args: Any, **kwargs: Any) -> Any:
            raise StorageError(original=ConnectionError("refused"))

    assert Broken().heartbeat() is False


def test_storage_error_keeps_the_original_exception() -> None:
    original = ConnectionError("refused")
    error = StorageError(original=original)
    assert error.original is original
    assert str(error) == error.message == "ConnectionError: refused"
    assert str(StorageError("disk full")) == "disk full"


def test_unicity_error_carries_field_and_record() -> None:
    error = UnicityError("email", {"id": "a", "email": "x"})
    assert error.field == "email" and error.record == {"id": "a", "email": "x"}
    assert "email" in str(error)


def test_filter_accepts_operator_values_and_has_a_repr() -> None:
    condition = Filter("age", 18, ">=")  # type: ignore[arg-type]
    assert condition.operator is COMPARISON.MIN
    assert repr(condition) == "Filter('age' >= 18)"
    assert repr(Sort("age", -1)) == "Sort(-age)"


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, COMPARISON.EQ),
        ("f", 1, "~"),
        ("f", "a,b", COMPARISON.IN),
        ("f", "true", COMPARISON.HAS),
        ("f", 12, COMPARISON.LIKE),
    ],
)
def test_filter_rejects_bad_input(args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Filter(*args)


@pytest.mark.parametrize("args", [("", 1), ("f", 0), ("f", True), ("f", "asc")])
def test_sort_rejects_bad_input(args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Sort(*args)
