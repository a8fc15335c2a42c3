"""The data access of a resource: what a subclass overrides to add behaviour to writes.

A resource builds one ``Model`` per request, bound to its collection (``collection_id``) and
to the owner of its records (``parent_id``: the user id of a ``UserResource``, ``""`` for a
shared collection). Overriding ``create_record`` and friends is one way to hook writes (as the
seed's ``IndexedModel`` does); subscribing to ``cliquet.events.ResourceChanged`` is the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cliquet.storage import Filter, Sort, StorageBase

__all__ = ["Model"]


class Model:
    id_field = "id"
    modified_field = "last_modified"
    deleted_field = "deleted"

    def __init__(
        self,
        storage: StorageBase,
        id_generator: Callable[[], str] | None = None,
        collection_id: str = "",
        parent_id: str = "",
        auth: Any = None,
    ) -> None:
        self.storage = storage
        self.id_generator = id_generator
        self.collection_id = collection_id
        self.parent_id = parent_id
        self.auth = auth

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.collection_id!r} of {self.parent_id!r}>"

    def timestamp(self, parent_id: str | None = None) -> int:
        """The collection's timestamp: highest ``last_modified`` of records and tombstones."""
        return self.storage.collection_timestamp(
            self.collection_id, self.parent_id if parent_id is None else parent_id
        )

    @property
    def _naming(self) -> dict[str, Any]:
        """What every storage call of this model is given: its field names and ``auth``."""
        return {
            "auth": self.auth,
            "id_field": self.id_field,
            "modified_field": self.modified_field,
        }

    def lock(self, parent_id: str | None = None) -> None:
        """Hold the collection for this request's writes (see ``StorageBase.lock_collection``)."""
        self.storage.lock_collection(
            self.collection_id, self.parent_id if parent_id is None else parent_id
        )

    def list_records(
        self,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        parent_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The records (and tombstones if asked) of the collection: what a ``GET`` lists."""
        return self.storage.list_all(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            filters=list(filters or []),
            sorting=list(sorting or []),
            pagination_rules=[list(r) for r in pagination_rules or []],
            limit=limit,
            include_deleted=include_deleted,
            deleted_field=self.deleted_field,
            **self._naming,
        )

    def count_records(
        self, filters: Sequence[Filter] | None = None, parent_id: str | None = None
    ) -> int:
        """How many live records match ``filters``: what a ``HEAD`` answers."""
        return self.storage.count_all(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            filters=list(filters or []),
            deleted_field=self.deleted_field,
            **self._naming,
        )

    def get_records(
        self,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        parent_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """:meth:`list_records` and :meth:`count_records` at once, as before they were split.

        Kept for code calling it; the resource calls the other two, so that a list pays for
        no count (overriding this method no longer changes what a list answers).
        """
        records = self.list_records(
            filters, sorting, pagination_rules, limit, include_deleted, parent_id
        )
        return records, self.count_records(filters, parent_id)

    def delete_records(
        self,
        filters: Sequence[Filter] | None = None,
        sorting: Sequence[Sort] | None = None,
        pagination_rules: Sequence[Sequence[Filter]] | None = None,
        limit: int | None = None,
        parent_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Delete the matching records; returns their tombstones."""
        return self.storage.delete_all(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            filters=list(filters or []),
            sorting=list(sorting or []),
            pagination_rules=[list(r) for r in pagination_rules or []],
            limit=limit,
            deleted_field=self.deleted_field,
            **self._naming,
        )

    def get_record(self, record_id: str, parent_id: str | None = None) -> dict[str, Any]:
        """One record; raises ``cliquet.storage.RecordNotFoundError``."""
        return self.storage.get(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            record_id,
            **self._naming,
        )

    def create_record(
        self,
        record: dict[str, Any],
        parent_id: str | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Store a new record (its ``id`` is generated when absent); returns it as stored."""
        return self.storage.create(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            record,
            id_generator=self.id_generator,
            unique_fields=unique_fields,
            **self._naming,
        )

    def update_record(
        self,
        record: dict[str, Any],
        parent_id: str | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Create or replace the record of id ``record["id"]``; returns it as stored."""
        return self.storage.update(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            record[self.id_field],
            record,
            unique_fields=unique_fields,
            **self._naming,
        )

    def delete_record(
        self,
        record: dict[str, Any],
        parent_id: str | None = None,
        last_modified: int | None = None,
    ) -> dict[str, Any]:
        """Delete the record; returns its tombstone."""
        return self.storage.delete(
            self.collection_id,
            self.parent_id if parent_id is None else parent_id,
            record[self.id_field],
            deleted_field=self.deleted_field,
            last_modified=last_modified,
            **self._naming,
        )
