"""In-process storage: for tests and for trying a service without any database.

Data lives in the worker's memory and dies with it; several workers never see each other's
records, so this backend is not for production (DESIGN.md, "Data and scale").

Listings select with :mod:`cliquet.storage.selection`, the reference semantics of filters,
sorting and pagination. Each collection's records (and tombstones) are kept in the order of
their timestamps, every write moving its record to the end, so that a listing sorted by
timestamp, the protocol's default, walks them in order and stops at the page's end: its cost
follows the page, not the collection's size.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cliquet.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageBase,
    UnicityError,
)
from cliquet.storage.selection import OrderedParts, compile_filters, order_key, select
from cliquet.utils import msec_time

if TYPE_CHECKING:
    from pyramid.config import Configurator

__all__ = ["Storage", "load_from_config"]

# What the undo log records for an entry that did not exist before the write.
_MISSING = object()


class Storage(StorageBase):
    """Records in dicts, guarded by one re-entrant lock; every dict in or out is a deep copy."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._tombstones: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # Highest timestamp ever given per collection: survives purges, so time never goes back.
        self._timestamps: dict[tuple[str, str], int] = {}
        # Per-thread undo log of the open unit of work (see begin/rollback).
        self._local = threading.local()
        # The modified field by which a collection's records and tombstones are in increasing
        # order (each an int); absent: unknown, to sort again before an ordered walk.
        self._ordered: dict[tuple[str, str], str] = {}

    def begin(self) -> None:
        self._release()
        self._local.journal = []

    def commit(self) -> None:
        self._local.journal = None
        self._release()

    def lock_collection(self, collection_id: str, parent_id: str) -> None:
        """Hold the whole store until the unit of work ends (memory serves tests)."""
        if getattr(self._local, "journal", None) is None or getattr(self._local, "locked", False):
            return
        self._lock.acquire()
        self._local.locked = True

    def _release(self) -> None:
        if getattr(self._local, "locked", False):
            self._local.locked = False
            self._lock.release()

    def rollback(self) -> None:
        """Put back what the thread's unit of work changed (timestamps stay, never going back)."""
        journal = getattr(self._local, "journal", None) or []
        self._local.journal = None
        with self._lock:
            for key, container, object_id, previous in reversed(journal):
                if previous is _MISSING:
                    container.pop(object_id, None)
                else:
                    container[object_id] = previous  # back at the end: out of order
                    self._ordered.pop(key, None)
        self._release()

    def _remember(self, key: tuple[str, str], container: dict[str, Any], object_id: str) -> None:
        journal = getattr(self._local, "journal", None)
        if journal is not None:
            journal.append((key, container, object_id, container.get(object_id, _MISSING)))

    def _keep_order(self, key: tuple[str, str], modified_field: str) -> None:
        """Note that a write appends to the collection's containers by ``modified_field``."""
        if self._ordered.get(key) != modified_field:
            if self._records.get(key) or self._tombstones.get(key):
                self._ordered.pop(key, None)  # written by another field before: unknown
            else:
                self._ordered[key] = modified_field

    def _in_order(self, key: tuple[str, str], modified_field: str) -> bool:
        """Whether the collection's containers are in order of ``modified_field``, sorting
        them when every record holds a distinct int there (after a rollback put records
        back); ties (values the backend did not assign) keep the reference's order."""
        if self._ordered.get(key) == modified_field:
            return True
        containers = [c for c in (self._records.get(key), self._tombstones.get(key)) if c]
        seen: set[int] = set()
        for container in containers:
            for record in container.values():
                stamp = record.get(modified_field)
                if type(stamp) is not int or stamp in seen:
                    return False
                seen.add(stamp)
        for container in containers:
            items = sorted(container.items(), key=lambda item: item[1][modified_field])
            container.clear()
            container.update(items)
        self._ordered[key] = modified_field
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__}>"

    def initialize_schema(self, *, dry_run: bool = False) -> None:
        """Nothing to create in memory."""

    def flush(self) -> None:
        with self._lock:
            self._records.clear()
            self._tombstones.clear()
            self._timestamps.clear()
            self._ordered.clear()

    def collection_timestamp(self, collection_id: str, parent_id: str) -> int:
        with self._lock:
            return self._timestamps.setdefault((collection_id, parent_id), msec_time())

    def _bump(self, key: tuple[str, str], wished: int | None = None) -> int:
        previous = self._timestamps.get(key)
        if previous is None:
            current = msec_time() if wished is None else wished
        elif wished is not None and wished > previous:
            current = wished
        else:
            current = max(msec_time(), previous + 1)
        self._timestamps[key] = current
        return current

    def _check_unicity(
        self,
        key: tuple[str, str],
        object_id: str,
        record: dict[str, Any],
        unique_fields: Sequence[str] | None,
    ) -> None:
        for field in unique_fields or ():
            value = record.get(field)
            if value is None:
                continue
            wanted = order_key(value)
            for other_id, other in self._records.get(key, {}).items():
                if other_id != object_id and field in other and order_key(other[field]) == wanted:
                    raise UnicityError(field, _copy(other))

    def _store(
        self, key: tuple[str, str], object_id: str, record: dict[str, Any], modified_field: str
    ) -> dict[str, Any]:
        self._keep_order(key, modified_field)
        record[modified_field] = self._bump(key)
        tombstones = self._tombstones.setdefault(key, {})
        records = self._records.setdefault(key, {})
        self._remember(key, tombstones, object_id)
        tombstones.pop(object_id, None)
        self._remember(key, records, object_id)
        records.pop(object_id, None)  # the newest goes to the end
        records[object_id] = record
        return _copy(record)

    def create(
        self,
        collection_id: str,
        parent_id: str,
        record: dict[str, Any],
        *,
        id_generator: Callable[[], str] | None = None,
        unique_fields: Sequence[str] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        key = (collection_id, parent_id)
        record = _copy(record)
        with self._lock:
            if record.get(id_field) is None:
                record[id_field] = (id_generator or _uuid4)()
            object_id = record[id_field]
            existing = self._records.get(key, {}).get(object_id)
            if existing is not None:
                raise UnicityError(id_field, _copy(existing))
            self._check_unicity(key, object_id, record, unique_fields)
            return self._store(key, object_id, record, modified_field)

    def get(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        *,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        with self._lock:
            try:
                return _copy(self._records[(collection_id, parent_id)][object_id])
            except KeyError:
                raise RecordNotFoundError(object_id) from None

    def update(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        record: dict[str, Any],
        *,
        unique_fields: Sequence[str] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> dict[str, Any]:
        key = (collection_id, parent_id)
        record = _copy(record)
        record[id_field] = object_id
        with self._lock:
            self._check_unicity(key, object_id, record, unique_fields)
            return self._store(key, object_id, record, modified_field)

    def delete(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        *,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        auth: Any = None,
        last_modified: int | None = None,
    ) -> dict[str, Any]:
        key = (collection_id, parent_id)
        with self._lock:
            if object_id not in self._records.get(key, {}):
                raise RecordNotFoundError(object_id)
            self._keep_order(key, modified_field)
            self._remember(key, self._records[key], object_id)
            del self._records[key][object_id]
            tombstone = {
                id_field: object_id,
                modified_field: self._bump(key, wished=last_modified),
                deleted_field: True,
            }
            if with_deleted:
                tombstones = self._tombstones.setdefault(key, {})
                self._remember(key, tombstones, object_id)
                tombstones.pop(object_id, None)
                tombstones[object_id] = tombstone
            return dict(tombstone)

    def delete_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        auth: Any = None,
    ) -> list[dict[str, Any]]:
        key = (collection_id, parent_id)
        with self._lock:
            records = select(
                self._records.get(key, {}).values(),
                filters=filters,
                sorting=sorting,
                pagination_rules=pagination_rules,
                limit=limit,
                modified_field=modified_field,
                ordered=self._in_order(key, modified_field),
            )
            return [
                self.delete(
                    collection_id,
                    parent_id,
                    record[id_field],
                    id_field=id_field,
                    modified_field=modified_field,
                    deleted_field=deleted_field,
                    with_deleted=with_deleted,
                )
                for record in records
            ]

    def purge_deleted(
        self,
        collection_id: str,
        parent_id: str,
        *,
        before: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        auth: Any = None,
    ) -> int:
        with self._lock:
            key = (collection_id, parent_id)
            tombstones = self._tombstones.get(key, {})
            doomed = [
                object_id
                for object_id, tombstone in tombstones.items()
                if before is None or tombstone[modified_field] < before
            ]
            for object_id in doomed:
                self._remember(key, tombstones, object_id)
                del tombstones[object_id]
            return len(doomed)

    def list_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        auth: Any = None,
    ) -> list[dict[str, Any]]:
        key = (collection_id, parent_id)
        with self._lock:
            ordered = self._in_order(key, modified_field)
            live = self._records.get(key, {}).values()
            tombstones = self._tombstones.get(key, {}).values() if include_deleted else ()
            candidates: Any = live
            if tombstones:
                both = OrderedParts((live, tombstones), modified_field)
                candidates = both if ordered else [*live, *tombstones]
            records = select(
                candidates,
                filters=filters,
                sorting=sorting,
                pagination_rules=pagination_rules,
                limit=limit,
                modified_field=modified_field,
                ordered=ordered,
            )
            return _copy(records)

    def count_all(
        self,
        collection_id: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        auth: Any = None,
    ) -> int:
        with self._lock:
            live = self._records.get((collection_id, parent_id), {})
            if not filters:
                return len(live)
            keep = compile_filters(filters)
            return sum(1 for record in live.values() if keep(record))


_ATOMS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value, several times quicker than :func:`copy.deepcopy` on
    records; anything else (a tuple, a dict's subclass) is left to ``deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


def _uuid4() -> str:
    return str(uuid.uuid4())


def load_from_config(config: Configurator) -> Storage:
    """Build the backend for ``cliquet.storage_backend = cliquet.storage.memory``; no settings."""
    return Storage()
