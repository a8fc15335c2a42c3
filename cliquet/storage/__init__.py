"""The storage contract: what every records backend promises the resource layer.

Records live in collections addressed by ``(collection_id, parent_id)`` (for example the
``articles`` of one user). A backend stores JSON objects, assigns their ``last_modified``
and keeps tombstones of deleted records so that clients can synchronise. The conformance
suite :class:`cliquet.testing.storage.StorageTest` is the executable form of this page:
behaviour it does not check is not part of the contract.

``last_modified`` is an integer of epoch milliseconds, assigned by the backend and
strictly increasing within one collection: a write (create, update or delete) gets
``max(now_ms, collection_timestamp + 1)``, so that it never reuses or goes back in time,
even when many writes land within the same millisecond.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "COMPARISON",
    "DEFAULT_DELETED_FIELD",
    "DEFAULT_ID_FIELD",
    "DEFAULT_MODIFIED_FIELD",
    "Filter",
    "RecordNotFoundError",
    "Sort",
    "StorageBase",
    "StorageError",
    "UnicityError",
]

DEFAULT_ID_FIELD = "id"
DEFAULT_MODIFIED_FIELD = "last_modified"
DEFAULT_DELETED_FIELD = "deleted"


class StorageError(Exception):
    """The backend failed (connection lost, timeout...); the web layer answers 503 errno 201.

    Backends wrap their driver's exceptions in it so that callers need not know the driver.

    :param message: what went wrong (default: the original exception's type and text).
    :param original: the driver exception, kept for logs.
    """

    def __init__(self, message: str = "", *, original: BaseException | None = None) -> None:
        if not message:
            message = f"{type(original).__name__}: {original}" if original else "Storage failed"
        super().__init__(message)
        self.message = message
        self.original = original


class RecordNotFoundError(Exception):
    """The record does not exist in the collection, or only its tombstone does."""


class UnicityError(Exception):
    """A write would make two live records share an id or a unique field value.

    ``record`` is the existing record in the way, so that the caller can show it (409).
    """

    def __init__(self, field: str, record: dict[str, Any]):
        self.field = field
        self.record = record
        super().__init__(f"{field!r} is not unique: already used by {record!r}")


class COMPARISON(str, Enum):
    """Operators of a :class:`Filter`, named after the querystring prefixes they serve."""

    EQ = "=="
    NOT = "!="
    LT = "<"
    GT = ">"
    MIN = ">="
    MAX = "<="
    IN = "in"
    EXCLUDE = "exclude"
    HAS = "has"
    LIKE = "like"


@dataclass(frozen=True)
class Filter:
    """One condition on a record field; ``field`` may be a dotted path (``author.name``).

    ``IN``/``EXCLUDE`` take a list (or tuple) of values, ``HAS`` a bool (present and not
    null, or not), ``LIKE`` a string where ``*`` is a wildcard (no ``*`` means "contains",
    case-insensitive). Values are compared in a total order over JSON types
    (null < booleans < numbers < strings < arrays < objects), so a filter never fails on a
    value of another type. A record missing the field matches only ``NOT``, ``EXCLUDE`` and
    ``HAS false``.

    :raises ValueError: on an unknown operator or a value of the wrong kind for it, so that
        the web layer can answer 400 before touching a backend.
    """

    field: str
    value: Any
    operator: COMPARISON

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ValueError(f"Filter field must be a non-empty string, not {self.field!r}")
        # Accept "==" as well as COMPARISON.EQ, store the enum member.
        object.__setattr__(self, "operator", COMPARISON(self.operator))
        if self.operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
            if not isinstance(self.value, (list, tuple)):
                raise ValueError(f"{self.operator.name} filter needs a list, not {self.value!r}")
        elif self.operator is COMPARISON.HAS and not isinstance(self.value, bool):
            raise ValueError(f"HAS filter needs a bool, not {self.value!r}")
        elif self.operator is COMPARISON.LIKE and not isinstance(self.value, str):
            raise ValueError(f"LIKE filter needs a string, not {self.value!r}")

    def __repr__(self) -> str:
        return f"Filter({self.field!r} {self.operator.value} {self.value!r})"


@dataclass(frozen=True)
class Sort:
    """One sort key: ``direction`` is 1 for ascending, -1 for descending.

    Records missing the field sort as if it were null: first ascending, last descending.

    :raises ValueError: on an empty field or a direction other than 1 or -1.
    """

    field: str
    direction: int

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ValueError(f"Sort field must be a non-empty string, not {self.field!r}")
        if self.direction not in (1, -1) or isinstance(self.direction, bool):
            raise ValueError(f"Sort direction must be 1 or -1, not {self.direction!r}")

    def __repr__(self) -> str:
        return f"Sort({'' if self.direction == 1 else '-'}{self.field})"


class StorageBase(abc.ABC):
    """The records backend every service uses through ``request.registry.storage``.

    Every method takes the collection address ``(collection_id, parent_id)`` first; field
    names (``id_field``...) are options so that a resource may rename them. ``auth`` carries
    backend-specific credentials of the request and may be ignored. Any failure of the
    backend itself is raised as :class:`StorageError`.

    Listing is :meth:`list_all`, counting :meth:`count_all`; a backend written before they
    were split implements :meth:`get_all` instead of :meth:`list_all`, and keeps working.
    A backend implementing neither cannot be built (``TypeError``, as for any abstract
    method left out).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> StorageBase:
        if not (_implements(cls, "list_all") or _implements(cls, "get_all")):
            raise TypeError(
                f"Can't instantiate {cls.__name__}: a storage backend implements list_all "
                f"(or get_all, the older listing)."
            )
        return super().__new__(cls)

    @abc.abstractmethod
    def initialize_schema(self, *, dry_run: bool = False) -> str | None:
        """Create or migrate what the backend needs (tables, indexes); safe to call twice.

        Run by ``cliquet migrate`` or at start-up, never per request.

        :param dry_run: only tell what would be done.
        :returns: one line telling what was (or would be) done, or None.
        :raises StorageError: the backend could not be reached.
        """

    @abc.abstractmethod
    def flush(self) -> None:
        """Remove every record, tombstone and timestamp of every collection.

        Meant for tests and for wiping a development instance.

        :raises StorageError:
        """

    @abc.abstractmethod
    def collection_timestamp(self, collection_id: str, parent_id: str) -> int:
        """Return the collection's current timestamp (what clients see as its ETag).

        It is the highest ``last_modified`` of the collection's records and tombstones. For a
        collection never written to, a current timestamp is created and kept, so that it
        stays the same on the next call and any later write gets a higher one. It never
        decreases, even when tombstones are purged.

        :returns: epoch milliseconds.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Store a new record; the given dict is left untouched.

        :param record: the record's fields. Its ``id_field`` is used when present, else
            ``id_generator()`` (a UUID4 string by default). Any ``modified_field`` in it is
            ignored: the backend assigns a fresh one. A tombstone with the same id is replaced.
        :param unique_fields: top-level fields whose value no other live record of the
            collection may share (absent or null values are not checked).
        :returns: a copy of the stored record, with its id and ``last_modified``.
        :raises UnicityError: the id belongs to a live record (``field`` is ``id_field``), or
            a unique field value is taken.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Return a copy of one live record.

        :raises RecordNotFoundError: no such record, or it was deleted.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Create or entirely replace a record (fields not given are gone).

        The stored record's ``id_field`` is ``object_id`` whatever ``record`` says, and it
        gets a fresh ``last_modified`` (any given one is ignored). A tombstone with this id
        is replaced.

        :param unique_fields: as in :meth:`create`; the record itself does not conflict.
        :returns: a copy of the stored record.
        :raises UnicityError: a unique field value is taken by another live record.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Delete a live record, leaving a tombstone so that syncing clients learn about it.

        :param with_deleted: keep the tombstone (False: forget the record entirely).
        :param last_modified: a timestamp wished for the tombstone; used only when it is
            higher than the collection timestamp, so that timestamps keep increasing.
        :returns: the tombstone ``{id_field: ..., modified_field: ..., deleted_field: True}``
            with a fresh timestamp.
        :raises RecordNotFoundError: no such live record.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Delete the live records that :meth:`list_all` would list with the same options.

        Each tombstone gets its own fresh timestamp, as if deleted one by one.

        :returns: the tombstones, in the selection's order.
        :raises StorageError:
        """

    @abc.abstractmethod
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
        """Forget tombstones, to reclaim space once clients no longer need them.

        Live records and the collection timestamp are untouched.

        :param before: only purge tombstones whose ``last_modified`` is lower than this.
        :returns: the number of tombstones removed.
        :raises StorageError:
        """

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
        """List records: matching all ``filters``, sorted, kept by the pagination rules, limited.

        What a ``GET`` of a list calls; it counts nothing (see :meth:`count_all`). A backend
        implements this method, or else the older :meth:`get_all`, on which the default
        builds (paying for the count that it drops).

        :param filters: conditions that must all hold.
        :param sorting: sort keys, most significant first; default newest first
            (``modified_field`` descending).
        :param pagination_rules: where the previous page ended, as alternatives: a record is
            kept when *all* filters of *any* inner list match (an OR of ANDs), which is how
            keyset pagination tokens are expressed.
        :param limit: at most this many records.
        :param include_deleted: also list the tombstones matching ``filters`` (and the
            pagination rules), sorted among the records; this is how ``_since`` reports
            deletions.
        :returns: the records (and tombstones), in order.
        :raises StorageError:
        """
        return self.get_all(
            collection_id,
            parent_id,
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            include_deleted=include_deleted,
            id_field=id_field,
            modified_field=modified_field,
            deleted_field=deleted_field,
            auth=auth,
        )[0]

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
        """Count the live records matching all ``filters`` (tombstones never count).

        What a ``HEAD`` of a list calls for ``Total-Records``, and nothing else does, so that
        a count costs only the clients who ask for one. The default asks :meth:`get_all` of a
        backend that implements it (which counts anyway), else lists the matches and counts
        them; backends able to count without reading the records override it.

        :returns: the number of live records matching ``filters``.
        :raises StorageError:
        """
        options: dict[str, Any] = {
            "filters": filters,
            "id_field": id_field,
            "modified_field": modified_field,
            "deleted_field": deleted_field,
            "auth": auth,
        }
        if _implements(type(self), "get_all"):
            return self.get_all(collection_id, parent_id, limit=1, **options)[1]
        return len(self.list_all(collection_id, parent_id, **options))

    def get_all(
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
    ) -> tuple[list[dict[str, Any]], int]:
        """List records and count them: :meth:`list_all` and :meth:`count_all` in one call.

        The contract's listing before counts were split from it, kept so that callers and
        backends written for it keep working: a backend that implements it (and not
        :meth:`list_all`) gets :meth:`list_all` and :meth:`count_all` built on it. New
        callers use those two: this one pays for a count.

        :returns: ``(records, count)``: what :meth:`list_all` returns with the same options,
            and what :meth:`count_all` returns with the same ``filters``.
        :raises StorageError:
        """
        options: dict[str, Any] = {
            "filters": filters,
            "id_field": id_field,
            "modified_field": modified_field,
            "deleted_field": deleted_field,
            "auth": auth,
        }
        page: dict[str, Any] = {
            "sorting": sorting,
            "pagination_rules": pagination_rules,
            "limit": limit,
        }
        records = self.list_all(
            collection_id, parent_id, include_deleted=include_deleted, **page, **options
        )
        return records, self.count_all(collection_id, parent_id, **options)

    def begin(self) -> None:
        """Start a unit of work for the calling thread (one per request or batch).

        Backends with transactions group the calling thread's writes until :meth:`commit`
        or :meth:`rollback`; the default does nothing (each write stands alone).
        """

    def commit(self) -> None:
        """Make the writes of the calling thread's unit of work permanent."""

    def lock_collection(self, collection_id: str, parent_id: str) -> None:
        """Hold the collection for the calling thread's unit of work, until it ends.

        A request that reads a record before writing it (``If-Match``, PATCH) calls this
        first, so that two concurrent requests cannot both read the same version and the
        second write silently undo the first. Does nothing outside a unit of work; the
        default does nothing at all (backends without transactions).
        """

    def rollback(self) -> None:
        """Undo the writes of the calling thread's unit of work, as far as the backend can."""

    def declare_indexed_fields(self, fields: Iterable[str]) -> None:
        """Learn the fields the service's resources filter on, for the backend to index.

        Called at start-up with every field a resource declares (``indexed_fields``), before
        :meth:`initialize_schema` builds what the backend needs; a field no longer declared
        may lose its index then. The default does nothing: a backend that filters in
        Python has nothing to index.

        :param fields: field names, dotted for nested fields (``author.name``).
        """

    def heartbeat(self) -> bool:
        """Tell whether the backend answers, for ``/__heartbeat__``; never raises.

        The default performs a tiny read through the contract; backends may do cheaper.
        """
        try:
            self.list_all("__heartbeat__", "__heartbeat__", limit=1)
        except Exception:
            return False
        return True


def _implements(cls: type, name: str) -> bool:
    """Whether ``cls`` has its own ``name``, not the default of :class:`StorageBase`."""
    return getattr(cls, name) is not getattr(StorageBase, name)
