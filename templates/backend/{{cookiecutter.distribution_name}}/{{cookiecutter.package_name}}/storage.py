"""{{ cookiecutter.description }}

Enable it in a service's ``.ini``::

    cliquet.storage_backend = {{ cookiecutter.package_name }}.storage
    cliquet.storage_url = {{ cookiecutter.__slug }}://localhost:8087

:class:`Storage` implements the abstract methods of :class:`cliquet.storage.StorageBase` and
its listing, ``list_all`` and ``count_all`` (the base builds the older ``get_all`` on them),
with the same signatures and no docstrings of their own: each inherits the contract's
(``help(Storage.list_all)`` shows it), so that the documentation cannot drift from the runtime.
``tests/test_storage.py`` checks both and runs cliquet's conformance suite.

It starts over :class:`FakeClient`, an in-process stand-in for a document store client:
buckets of JSON documents by key. Filtering, sorting and pagination happen in Python with
:mod:`cliquet.storage.selection`, the reference semantics of listings; a real backend may push
them to its server (the conformance suite then checks that it keeps them). Swap in the real library where the ``REAL CLIENT`` comments say, and keep
the suite green.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from cliquet.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    RecordNotFoundError,
    Sort,
    StorageBase,
    StorageError,
    UnicityError,
)
from cliquet.storage.selection import compile_filters, order_key, select
from pyramid.config import Configurator

__all__ = ["FakeClient", "Storage", "load_from_config"]

# Where the server is when ``cliquet.storage_url`` is not set.
DEFAULT_URL = "{{ cookiecutter.__slug }}://localhost"

# REAL CLIENT: the exceptions of the real library (connection lost, timeout, server error).
CLIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)


class FakeClient:
    """In-process stand-in for a document store client: buckets of JSON text by key.

    REAL CLIENT: delete this class and build the library's client in
    :func:`load_from_config`. Its calls are those most clients have: ``get``, ``put``,
    ``delete``, ``items`` (every document of a bucket) and ``flush``.
    """

    def __init__(self, host: str = "localhost", port: int | None = None) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"<FakeClient {self.host}:{self.port}>"

    def get(self, bucket: str, key: str) -> str | None:
        with self._lock:
            return self._buckets.get(bucket, {}).get(key)

    def put(self, bucket: str, key: str, document: str) -> None:
        with self._lock:
            self._buckets.setdefault(bucket, {})[key] = document

    def delete(self, bucket: str, key: str) -> bool:
        with self._lock:
            return self._buckets.get(bucket, {}).pop(key, None) is not None

    def items(self, bucket: str) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._buckets.get(bucket, {}).items())

    def flush(self) -> None:
        with self._lock:
            self._buckets.clear()


def _bucket(kind: str, collection_id: str, parent_id: str) -> str:
    """The name of one collection's bucket of ``records`` or of ``tombstones``."""
    return json.dumps([kind, collection_id, parent_id])


# One bucket holds every collection's timestamp, keyed like the collections' buckets.
TIMESTAMPS = "timestamps"


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """Turn the client's failures into :class:`StorageError`, the one type callers catch."""
    try:
        yield
    except CLIENT_ERRORS as e:
        raise StorageError(original=e) from e


class Storage(StorageBase):
    """Per collection: a bucket of records and one of tombstones, both keyed by record id.

    Every read parses stored JSON, so callers always get copies.
    """

    def __init__(self, client: FakeClient) -> None:
        self._client = client
        # Timestamps must strictly increase per collection, and a unique field must not be
        # taken between its check and the write: this lock serializes such sequences within
        # one process. REAL CLIENT: use the server's transactions or compare-and-set instead,
        # so that the processes sharing one server stay correct too.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} {self._client!r}>"

    # Helpers over the client.

    def _documents(self, bucket: str) -> dict[str, dict[str, Any]]:
        return {key: json.loads(document) for key, document in self._client.items(bucket)}

    def _document(self, bucket: str, key: str) -> Any:
        document = self._client.get(bucket, key)
        return None if document is None else json.loads(document)

    def _bump(self, collection_id: str, parent_id: str, *, wished: int | None = None) -> int:
        """A timestamp for a write: later than any the collection had. Hold the lock."""
        key = _bucket("timestamp", collection_id, parent_id)
        previous = self._document(TIMESTAMPS, key)
        if previous is None:
            current = _msec_time() if wished is None else wished
        elif wished is not None and wished > previous:
            current = wished
        else:
            current = max(_msec_time(), previous + 1)
        self._client.put(TIMESTAMPS, key, json.dumps(current))
        return current

    def _check_unicity(
        self,
        records: str,
        object_id: str,
        record: dict[str, Any],
        unique_fields: Sequence[str] | None,
    ) -> None:
        for field in unique_fields or ():
            if record.get(field) is None:
                continue
            wanted = order_key(record[field])
            for other_id, other in self._documents(records).items():
                if other_id != object_id and field in other and order_key(other[field]) == wanted:
                    raise UnicityError(field, other)

    def _store(
        self,
        collection_id: str,
        parent_id: str,
        object_id: str,
        record: dict[str, Any],
        modified_field: str,
    ) -> dict[str, Any]:
        """Write a live record with a fresh timestamp, replacing its tombstone. Hold the lock."""
        record[modified_field] = self._bump(collection_id, parent_id)
        document = json.dumps(record)
        self._client.delete(_bucket("tombstones", collection_id, parent_id), object_id)
        self._client.put(_bucket("records", collection_id, parent_id), object_id, document)
        return json.loads(document)

    # The contract: signatures as in StorageBase, docstrings inherited from it.

    def initialize_schema(self, *, dry_run: bool = False) -> str | None:
        # REAL CLIENT: create the buckets, tables or indexes the server needs, if anything.
        return None

    def flush(self) -> None:
        with _client_errors():
            self._client.flush()

    def collection_timestamp(self, collection_id: str, parent_id: str) -> int:
        key = _bucket("timestamp", collection_id, parent_id)
        with self._lock, _client_errors():
            current = self._document(TIMESTAMPS, key)
            if current is None:
                current = _msec_time()
                self._client.put(TIMESTAMPS, key, json.dumps(current))
            return int(current)

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
        records = _bucket("records", collection_id, parent_id)
        record = dict(record)  # the caller's dict stays as it is
        with self._lock, _client_errors():
            if record.get(id_field) is None:
                record[id_field] = (id_generator or _uuid4)()
            object_id = record[id_field]
            existing = self._document(records, object_id)
            if existing is not None:
                raise UnicityError(id_field, existing)
            self._check_unicity(records, object_id, record, unique_fields)
            return self._store(collection_id, parent_id, object_id, record, modified_field)

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
        with _client_errors():
            record = self._document(_bucket("records", collection_id, parent_id), object_id)
        if record is None:
            raise RecordNotFoundError(object_id)
        return record

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
        records = _bucket("records", collection_id, parent_id)
        record = {**record, id_field: object_id}
        with self._lock, _client_errors():
            self._check_unicity(records, object_id, record, unique_fields)
            return self._store(collection_id, parent_id, object_id, record, modified_field)

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
        with self._lock, _client_errors():
            if not self._client.delete(_bucket("records", collection_id, parent_id), object_id):
                raise RecordNotFoundError(object_id)
            tombstone = {
                id_field: object_id,
                modified_field: self._bump(collection_id, parent_id, wished=last_modified),
                deleted_field: True,
            }
            if with_deleted:
                tombstones = _bucket("tombstones", collection_id, parent_id)
                self._client.put(tombstones, object_id, json.dumps(tombstone))
            return tombstone

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
        with self._lock, _client_errors():
            records = select(
                self._documents(_bucket("records", collection_id, parent_id)).values(),
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
        tombstones = _bucket("tombstones", collection_id, parent_id)
        with self._lock, _client_errors():
            doomed = [
                object_id
                for object_id, tombstone in self._documents(tombstones).items()
                if before is None or tombstone[modified_field] < before
            ]
            for object_id in doomed:
                self._client.delete(tombstones, object_id)
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
        with _client_errors():
            records = list(self._documents(_bucket("records", collection_id, parent_id)).values())
            if include_deleted:
                tombstones = self._documents(_bucket("tombstones", collection_id, parent_id))
                records.extend(tombstones.values())
        return select(
            records,
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            modified_field=modified_field,
        )

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
        # REAL CLIENT: ask the server to count, and to filter first if it can.
        with _client_errors():
            records = self._documents(_bucket("records", collection_id, parent_id)).values()
        keep = compile_filters(filters)
        return sum(1 for record in records if keep(record))


def _msec_time() -> int:
    """Now in epoch milliseconds, the unit of ``last_modified``.

    REAL CLIENT: prefer the server's clock, so that every process sharing it agrees.
    """
    return time.time_ns() // 1_000_000


def _uuid4() -> str:
    return str(uuid.uuid4())


def load_from_config(config: Configurator) -> Storage:
    """Build the storage from ``cliquet.storage_url``."""
    settings = config.get_settings()
    url = urlparse(settings.get("cliquet.storage_url") or DEFAULT_URL)
    # REAL CLIENT: build the library's client from the URL instead.
    return Storage(FakeClient(host=url.hostname or "localhost", port=url.port))
