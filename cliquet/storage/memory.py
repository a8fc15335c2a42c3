"""In-process storage: for tests and for trying a service without any database.

Data lives in the worker's memory and dies with it; several workers never see each other's
records, so this backend is not for production (DESIGN.md, "Data and scale").

Listings select with :mod:`cliquet.storage.selection`, the reference semantics of filters,
sorting and pagination.
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
from cliquet.storage.selection import matches_all, order_key, select
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
            for container, object_id, previous in reversed(journal):
                if previous is _MISSING:
                    container.pop(object_id, None)
                else:
                    container[object_id] = previous
        self._release()

    def _remember(self, container: dict[str, Any], object_id: str) -> None:
        journal = getattr(self._local, "journal", None)
        if journal is not None:
            journal.append((container, object_id, container.get(object_id, _MISSING)))

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__}>"

    def initialize_schema(self, *, dry_run: bool = False) -> None:
        """Nothing to create in memory."""

    def flush(self) -> None:
        with self._lock:
            self._records.clear()
            self._tombstones.clear()
            self._timestamps.clear()

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
                    raise UnicityError(field, copy.deepcopy(other))

    def _store(
        self, key: tuple[str, str], object_id: str, record: dict[str, Any], modified_field: str
    ) -> dict[str, Any]:
        record[modified_field] = self._bump(key)
        tombstones = self._tombstones.setdefault(key, {})
        records = self._records.setdefault(key, {})
        self._remember(tombstones, object_id)
        tombstones.pop(object_id, None)
        self._remember(records, object_id)
        records[object_id] = record
        return copy.deepcopy(record)

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
        record = copy.deepcopy(record)
        with self._lock:
            if record.get(id_field) is None:
                record[id_field] = (id_generator or _uuid4)()
            object_id = record[id_field]
            existing = self._records.get(key, {}).get(object_id)
            if existing is not None:
                raise UnicityError(id_field, copy.deepcopy(existing))
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
                return copy.deepcopy(self._records[(collection_id, parent_id)][object_id])
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
        record = copy.deepcopy(record)
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
            self._remember(self._records[key], object_id)
            del self._records[key][object_id]
            tombstone = {
                id_field: object_id,
                modified_field: self._bump(key, wished=last_modified),
                deleted_field: True,
            }
            if with_deleted:
                tombstones = self._tombstones.setdefault(key, {})
                self._remember(tombstones, object_id)
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
        with self._lock:
            records = select(
                self._records.get((collection_id, parent_id), {}).values(),
                filters=filters,
                sorting=sorting,
                pagination_rules=pagination_rules,
                limit=limit,
                modified_field=modified_field,
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
            tombstones = self._tombstones.get((collection_id, parent_id), {})
            doomed = [
                object_id
                for object_id, tombstone in tombstones.items()
                if before is None or tombstone[modified_field] < before
            ]
            for object_id in doomed:
                self._remember(tombstones, object_id)
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
            live = list(self._records.get(key, {}).values())
            if include_deleted:
                live.extend(self._tombstones.get(key, {}).values())
            records = select(
                live,
                filters=filters,
                sorting=sorting,
                pagination_rules=pagination_rules,
                limit=limit,
                modified_field=modified_field,
            )
            return copy.deepcopy(records)

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
            return sum(1 for record in live.values() if matches_all(record, filters))


def _uuid4() -> str:
    return str(uuid.uuid4())


def load_from_config(config: Configurator) -> Storage:
    """Build the backend for ``cliquet.storage_backend = cliquet.storage.memory``; no settings."""
    return Storage()
