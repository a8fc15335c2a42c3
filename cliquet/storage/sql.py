"""SQL storage: records on SQLite (embedded, a file) or PostgreSQL (shared by every worker).

One ``records`` table holds every collection, keyed by ``(parent_id, collection_id, id)``, the
record's fields as JSON (JSONB on PostgreSQL); tombstones are rows flagged ``deleted``. A
``timestamps`` table keeps each collection's current timestamp, so that it survives purges and
stays put while the collection is empty; ``record_counts`` its number of live records, kept
by the database's triggers, so that counting a collection reads one row.

Timestamps are decided by the database, not by a worker: every write first upserts its
collection's timestamps row to ``max(now_ms, previous + 1)``, computed in SQL, in the statement
that locks the collection and tells the timestamp it replaced. That row's lock (PostgreSQL) or
the write lock (SQLite) serializes the writers of a collection until commit, so
``last_modified`` strictly increases across processes and machines, and a client reading
``_since`` its last timestamp cannot miss a write committed later with a lower one. A
rolled-back write leaves the row as it was: the next write may get the timestamp it had, which
no client was told (a rolled-back write is never answered 2xx).

Filters, sorts, pagination, limits and counts are SQL (see :mod:`cliquet.storage.sql_query`);
no call loads a collection into Python. The tables are created by
:meth:`Storage.initialize_schema` (``cliquet migrate``), never at request time.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.util import LRUCache

from cliquet.sql import chunked, engine_from_config, translate_errors, unit_of_work
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
    sql_indexes,
)
from cliquet.storage.selection import compile_filter, like
from cliquet.storage.sql_query import (
    FILTERED_FIRST_MATCHES,
    SQLITE_LIKE,
    Key,
    RecordQueries,
    Selection,
    Statements,
    bump_statement,
    estimated_rows,
    in_collection,
    live,
    record_counts,
    records,
    timestamps,
    tombstones_statement,
    write_statement,
)

__all__ = ["Storage", "load_from_config"]

logger = logging.getLogger(__name__)

# Compiled listing statements kept (each up to a megabyte): the shapes a service serves.
_CACHED_LISTINGS = 64
# Listing statements kept by shape, before compiling (a tree of SQLAlchemy objects, some
# kilobytes each): a client may send endless shapes, the least recently used go.
_CACHED_SHAPES = 256


class _Stamp:
    """A collection's timestamps in one unit of work, which holds the collection's lock.

    The statement that locked the collection reserved its first timestamp (``row``, what
    the collection's timestamps row holds in this transaction) and told the one before
    (``previous``). Under the lock nobody else writes the collection: each later write of
    the unit of work takes the timestamp after the last one, and the row is brought to the
    last once, before commit (see :meth:`Storage._settle`).
    """

    __slots__ = ("previous", "row", "written")

    def __init__(self, previous: int | None, row: int, written: int | None = None) -> None:
        self.previous = previous  # the collection's timestamp before (None: it had none)
        self.row = row
        self.written = written  # the last timestamp a write took (None: none yet)

    @property
    def next(self) -> int:
        """The timestamp of the unit of work's next write."""
        if self.written is None or self.row > self.written:
            return self.row
        return self.written + 1

    @property
    def visible(self) -> int:
        """The collection's timestamp as this unit of work sees it."""
        if self.written is not None:
            return self.written
        return self.row if self.previous is None else self.previous


class Storage(StorageBase):
    """Storage on a SQLAlchemy engine (see :func:`cliquet.sql.create_engine_from_url`).

    Calls made within a unit of work (the thread's transaction: see
    :class:`cliquet.sql.UnitOfWork`) share its connection; any other call runs in a
    transaction of its own.

    A write locks its collection, reserves its timestamp and learns the collection's
    previous one in one statement (:attr:`Statements.reserve`); within a unit of work that
    statement is :meth:`lock_collection`, after which reading the collection's timestamp
    (the preconditions) costs nothing and each write sends only its own statement (a batch
    of creations: the lock, one insert each, one update of the timestamps row before
    commit). A reservation no write used is put back before the unit of work commits.
    """

    #: Joins each transaction itself, through zope.sqlalchemy (see cliquet.unit_of_work).
    joins_transactions = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if engine.dialect.name == "sqlite" and not sa.event.contains(
            engine, "checkout", _add_sqlite_functions
        ):
            sa.event.listen(engine, "checkout", _add_sqlite_functions)
        self.units = unit_of_work(engine)
        self._sql = Statements(engine)
        # Compiled listings, by shape: bounded in number (see Selection.execution_options).
        self._listings: LRUCache[Any, Any] = LRUCache(_CACHED_LISTINGS)
        # Their statements, by shape, built once (see Selection.statement).
        self._shapes: LRUCache[Any, Any] = LRUCache(_CACHED_SHAPES)
        self._indexed_fields: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<cliquet.storage.sql.Storage url={url!r}>"

    # Units of work (shared with the other backends on this engine: see cliquet.sql.UnitOfWork)

    def begin(self) -> None:
        """Start the calling thread's unit of work; the connection opens on first use."""
        self.units.begin()

    def commit(self) -> None:
        """Commit the calling thread's unit of work.

        :raises StorageError: the commit failed; nothing was written.
        """
        with translate_errors(StorageError):
            self.units.commit()

    def rollback(self) -> None:
        """Undo the calling thread's unit of work; never raises."""
        self.units.rollback()

    @contextmanager
    def _connect(self, *, writes: bool = False, one_read: bool = False) -> Iterator[Connection]:
        """The unit of work's connection, else a transaction of the call's own (a writer's if
        it ``writes``, none if it is ``one_read``: see :meth:`cliquet.sql.UnitOfWork.connect`)."""
        connecting = self.units.connect(writes=writes, one_read=one_read)
        with translate_errors(StorageError), connecting as conn:
            yield conn

    # Timestamps

    def _stamps(self, *, create: bool = True) -> dict[Key, _Stamp] | None:
        """The timestamps of the unit of work's collections (None: no unit of work)."""
        txn = self.units.transaction()
        if txn is None:
            return None
        try:
            stamps: dict[Key, _Stamp] = txn.data(self)
        except KeyError:
            if not create:
                return None
            stamps = {}
            txn.set_data(self, stamps)
            txn.addBeforeCommitHook(self._settle, (stamps,))
        return stamps

    def _settle(self, stamps: dict[Key, _Stamp]) -> None:
        """Before commit: bring each collection's row to its last write's timestamp, or back
        to where it was when no write used the reservation (a 200 that wrote nothing leaves
        the collection's timestamp as it was)."""
        moves = []
        for key, stamp in stamps.items():
            target = stamp.written if stamp.written is not None else stamp.previous
            if target is not None and target != stamp.row:
                moves.append((key, stamp, target))
        if not moves:
            return
        with self._connect() as conn:
            for key, stamp, target in moves:
                self._move(conn, key, stamp, target)

    def _move(self, conn: Connection, key: Key, stamp: _Stamp, target: int) -> None:
        params = {**_key(key), "from_stamp": stamp.row, "to_stamp": target}
        conn.execute(self._sql.move, params)
        stamp.row = target

    def _reserve(self, conn: Connection, key: Key, stamps: dict[Key, _Stamp]) -> _Stamp:
        """Lock the collection and reserve its next timestamp, in one statement; nothing
        when the unit of work holds the lock already."""
        stamp = stamps.get(key)
        if stamp is None:
            previous, reserved = conn.execute(self._sql.reserve, _key(key)).one()
            stamp = stamps[key] = _Stamp(previous, reserved)
        return stamp

    def _bump(
        self,
        conn: Connection,
        key: Key,
        stamps: dict[Key, _Stamp],
        *,
        count: int = 1,
        wished: int | None = None,
        condition: ColumnElement[bool] | None = None,
    ) -> int | None:
        """Take ``count`` new timestamps (see :func:`bump_statement`); return the highest.

        :returns: None when ``condition`` does not hold.
        """
        held = stamps.get(key)
        if held is not None and held.written is not None and held.written > held.row:
            self._move(conn, key, held, held.written)  # the statement bumps from the row
        statement = bump_statement(
            self.engine, key, count=count, wished=wished, condition=condition
        )
        stamp: int | None = conn.execute(statement).scalar()
        if stamp is not None:
            previous = None if held is None else held.previous
            stamps[key] = _Stamp(previous, stamp, written=stamp)
        return stamp

    def collection_timestamp(self, collection_id: str, parent_id: str) -> int:
        key = (collection_id, parent_id)
        stamps = self._stamps(create=False)
        if stamps is not None and key in stamps:
            return stamps[key].visible  # the collection is locked: nobody else moved it
        with self._connect(one_read=True) as conn:
            stamp = conn.execute(self._sql.timestamp, _key(key)).scalar()
        if stamp is None:
            # Outside a unit of work, in a writer's transaction of its own: on SQLite a
            # transaction that has read cannot become a writer once another one has written
            # (SQLITE_BUSY at once, whatever the busy timeout); a writer's waits its turn.
            with self._connect(writes=True) as conn:
                # None: another transaction created it meanwhile.
                stamp = (
                    conn.execute(self._sql.create_timestamp, _key(key)).scalar()
                    or conn.execute(self._sql.timestamp, _key(key)).scalar()
                )
                if stamp is None:
                    raise StorageError("The collection timestamp vanished; try again")
        return int(stamp)

    def lock_collection(self, collection_id: str, parent_id: str) -> None:
        """Lock the collection until the unit of work ends, reserving its next timestamp.

        One statement (:attr:`Statements.reserve`), which creates the collection's
        timestamps row if need be: PostgreSQL locks that row (writers of the collection
        queue behind it), SQLite holds the database's write lock already (``BEGIN
        IMMEDIATE``). The collection's timestamp is known from then on, without a query.
        """
        stamps = self._stamps()
        if stamps is None:
            return
        with self._connect() as conn:
            self._reserve(conn, (collection_id, parent_id), stamps)

    # Administration

    def initialize_schema(self, *, dry_run: bool = False) -> str:
        """Create or upgrade the tables (the Alembic revisions of this component)."""
        from cliquet.migration import migrate

        with translate_errors(StorageError):
            done = migrate(self.engine, "storage", dry_run=dry_run)
            if dry_run and " would " in done:  # no table yet, maybe no file: touch nothing
                indexes = "would index the declared fields" if self._indexed_fields else None
            else:
                indexes = sql_indexes.synchronize(
                    self.engine, self._indexed_fields, dry_run=dry_run
                )
        return done if indexes is None else f"{done}; {indexes}"

    def declare_indexed_fields(self, fields: Iterable[str]) -> None:
        """Index these fields (see :mod:`cliquet.storage.sql_indexes`): their filters are
        written as the indexes' expressions at once; :meth:`initialize_schema` builds the
        indexes (and drops those of fields no longer declared)."""
        self._indexed_fields = frozenset(fields)

    def flush(self) -> None:
        with self._connect() as conn:
            conn.execute(sa.delete(records))
            conn.execute(sa.delete(record_counts))
            conn.execute(sa.delete(timestamps))

    def heartbeat(self) -> bool:
        """Connect and resolve the records table, reading no row."""
        probe = sa.select(sa.literal(1)).select_from(records).where(sa.false())
        try:
            with self.engine.connect() as conn:
                conn.execute(probe)
        except Exception:
            return False
        return True

    # Records

    @staticmethod
    def _record(row: Any, id_field: str, modified_field: str) -> dict[str, Any]:
        return {**row.data, id_field: row.id, modified_field: row.last_modified}

    def _unicity_checks(
        self,
        object_id: str,
        data: dict[str, Any],
        unique_fields: Sequence[str] | None,
        id_field: str,
        modified_field: str,
    ) -> list[tuple[str, ColumnElement[bool]]]:
        """``(field, condition)`` matching the other records that hold a unique value."""
        if not unique_fields:
            return []
        queries = RecordQueries(
            self.engine.dialect.name,
            records.c,
            id_field=id_field,
            modified_field=modified_field,
        )
        return [
            (name, sa.and_(queries.equals(name, data[name]), records.c.id != object_id))
            for name in unique_fields or ()
            if name not in (id_field, modified_field) and data.get(name) is not None
        ]

    def _raise_unicity(
        self,
        conn: Connection,
        key: Key,
        checks: list[tuple[str, ColumnElement[bool]]],
        id_field: str,
        modified_field: str,
    ) -> None:
        """Raise :class:`UnicityError` for the first check a live record fails."""
        query = sa.select(records.c.id, records.c.data, records.c.last_modified)
        for name, condition in checks:
            row = conn.execute(query.where(live(key), condition).limit(1)).first()
            if row is not None:
                raise UnicityError(name, self._record(row, id_field, modified_field))
        raise StorageError("Concurrent writes conflicted; try again")

    def _write(
        self,
        key: Key,
        object_id: str,
        data: dict[str, Any],
        checks: list[tuple[str, ColumnElement[bool]]],
        *,
        create: bool,
        id_field: str,
        modified_field: str,
    ) -> dict[str, Any]:
        """Store a live record under a new timestamp, unless a check finds a conflict.

        Checked while writing, under the collection's lock; a conflict costs no timestamp
        (the reservation is put back, or rolled back with the call's own transaction).

        :param create: a live record with this id is a conflict (else it is replaced).
        """
        id_check = (id_field, records.c.id == object_id)
        suspects = [id_check, *checks] if create else checks
        with self._connect() as conn:
            stamps = self._stamps()
            stamp = self._reserve(conn, key, {} if stamps is None else stamps)
            last_modified = stamp.next
            # A live record of this id is refused by the statement itself (on conflict, a
            # creation replaces only a tombstone): only unique values need a guard.
            if checks:
                guard = sa.not_(sa.exists().where(live(key), sa.or_(*(c for _, c in checks))))
                statement = write_statement(
                    self.engine,
                    key,
                    object_id,
                    data,
                    last_modified,
                    guard=guard,
                    replace_live=not create,
                )
                stored = conn.execute(statement).first()
            else:
                params = {
                    **_key(key),
                    "object_id": object_id,
                    "document": self._sql.document(data),
                    "stamp": last_modified,
                }
                statement = self._sql.create if create else self._sql.replace
                stored = conn.execute(statement, params).first()
            if stored is not None:
                stamp.written = last_modified
                return {**data, id_field: object_id, modified_field: last_modified}
            # The reservation stays unused: put back before commit, or rolled back.
            self._raise_unicity(conn, key, suspects, id_field, modified_field)
        raise AssertionError("not reached")

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
        data = copy.deepcopy(record)
        given = data.pop(id_field, None)
        data.pop(modified_field, None)
        object_id = given if given is not None else (id_generator or _uuid4)()
        return self._write(
            (collection_id, parent_id),
            object_id,
            data,
            self._unicity_checks(object_id, data, unique_fields, id_field, modified_field),
            create=True,
            id_field=id_field,
            modified_field=modified_field,
        )

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
        params = {**_key((collection_id, parent_id)), "object_id": object_id}
        with self._connect(one_read=True) as conn:
            row = conn.execute(self._sql.get, params).first()
        if row is None:
            raise RecordNotFoundError(object_id)
        return self._record(row, id_field, modified_field)

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
        data = copy.deepcopy(record)
        data.pop(id_field, None)
        data.pop(modified_field, None)
        return self._write(
            (collection_id, parent_id),
            object_id,
            data,
            self._unicity_checks(object_id, data, unique_fields, id_field, modified_field),
            create=False,
            id_field=id_field,
            modified_field=modified_field,
        )

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
        with self._connect() as conn:
            stamps = self._stamps()
            stamps = {} if stamps is None else stamps
            stamp: int | None
            reserved = None
            if last_modified is None:
                reserved = self._reserve(conn, key, stamps)
                stamp = reserved.next
            else:
                # Bumped only if the record is there, so that a 404 costs no timestamp.
                there = sa.exists().where(live(key), records.c.id == object_id)
                stamp = self._bump(conn, key, stamps, wished=last_modified, condition=there)
            if stamp is None:
                raise RecordNotFoundError(object_id)
            params: dict[str, Any] = {**_key(key), "object_id": object_id}
            if with_deleted:
                params.update(stamp=stamp, tombstone={deleted_field: True})
                gone = conn.execute(self._sql.tombstone, params).first()
            else:
                gone = conn.execute(self._sql.remove, params).first()
            # No row: not there, or deleted by a racing writer.
            if gone is None:
                raise RecordNotFoundError(object_id)
            if reserved is not None:
                reserved.written = stamp
        return {id_field: object_id, modified_field: stamp, deleted_field: True}

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
        selection = self._selection(
            key,
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            id_field=id_field,
            modified_field=modified_field,
        )
        with self._connect() as conn:
            statement, params = selection.statement("ids")
            options = selection.execution_options
            ids = list(conn.execute(statement, params, execution_options=options).scalars())
            if not ids:
                return []
            # One bump reserves a timestamp for each tombstone, in the selection's order.
            held = self._stamps()
            last = self._bump(conn, key, {} if held is None else held, count=len(ids))
            assert last is not None
            stamps = {object_id: last - len(ids) + 1 + n for n, object_id in enumerate(ids)}
            done: set[str] = set()
            for batch in chunked(ids):
                statement = tombstones_statement(
                    key,
                    {i: stamps[i] for i in batch},
                    deleted_field=deleted_field,
                    with_deleted=with_deleted,
                )
                done.update(conn.execute(statement).scalars())
        return [
            {id_field: i, modified_field: stamps[i], deleted_field: True} for i in ids if i in done
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
        statement = sa.delete(records).where(
            in_collection((collection_id, parent_id)), records.c.deleted
        )
        if before is not None:
            statement = statement.where(records.c.last_modified < before)
        with self._connect() as conn:
            return int(conn.execute(statement).rowcount)

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
        tombstone_fields = {id_field, modified_field, deleted_field, DEFAULT_DELETED_FIELD}
        if include_deleted and any(
            f.field not in tombstone_fields and not compile_filter(f)({}) for f in filters or ()
        ):
            # No tombstone holds the field (they hold an id, a timestamp, the deleted flag),
            # and a record lacking it fails the filter (the reference semantics, asked of an
            # empty record): none can match, and the indexes of live records serve the filter.
            include_deleted = False
        selection = self._selection(
            (collection_id, parent_id),
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            id_field=id_field,
            modified_field=modified_field,
            include_deleted=include_deleted,
        )
        options = selection.execution_options
        with self._connect(one_read=True) as conn:
            kind = self._listing_kind(conn, selection) if selection.planner_may_walk else "listing"
            statement, params = selection.statement(kind)
            rows = conn.execute(statement, params, execution_options=options).all()
        return [self._record(row, id_field, modified_field) for row in rows]

    @staticmethod
    def _listing_kind(conn: Connection, selection: Selection) -> str:
        """How to find a page the planner would find by walking the collection (see
        ``Selection.planner_may_walk``): ``"filtered listing"``, the matches first, when
        they are few, else ``"listing"``."""
        estimate, params = selection.statement("estimate")
        # Compiled each time: SQLAlchemy's cache keeps only what returns rows it knows.
        uncached = {"compiled_cache": None}
        matches = estimated_rows(
            conn.execute(estimate, params, execution_options=uncached).scalar()
        )
        if matches > FILTERED_FIRST_MATCHES:
            return "listing"
        counting, params = replace(selection, filters=None).statement("count")
        options = selection.execution_options
        size = int(conn.execute(counting, params, execution_options=options).scalar() or 0)
        # Reading the matches costs them; walking, if they spread evenly, a page in every
        # size / matches records, and up to all of them when they are the oldest: pay up to
        # ten times the even walk's cost rather than ever a whole walk.
        page = selection.limit or 0
        return "filtered listing" if matches**2 <= 10 * page * size else "listing"

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
        """One statement, which reads no record without filters (see ``Selection.count``)."""
        selection = self._selection(
            (collection_id, parent_id),
            filters=filters,
            id_field=id_field,
            modified_field=modified_field,
        )
        statement, params = selection.statement("count")
        options = selection.execution_options
        with self._connect(one_read=True) as conn:
            count = conn.execute(statement, params, execution_options=options).scalar()
        return int(count or 0)

    def _selection(self, key: Key, **options: Any) -> Selection:
        """The statements of a listing, a count or a bulk delete (see :class:`Selection`)."""
        return Selection(
            self.engine.dialect.name,
            key,
            compiled_cache=self._listings,
            statements=self._shapes,
            indexed_fields=self._indexed_fields,
            **options,
        )


def _key(key: Key) -> dict[str, str]:
    """A collection's key as the parameters of :class:`Statements`."""
    collection_id, parent_id = key
    return {"collection": collection_id, "parent": parent_id}


def _uuid4() -> str:
    return str(uuid.uuid4())


def _sqlite_like(text: str | None, pattern: str | None) -> bool | None:
    if text is None or pattern is None:
        return None
    return like(text, pattern)


def _add_sqlite_functions(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Give a SQLite connection the SQL functions the listings call (``cliquet_like``).

    On checkout rather than on connect: the engine may be shared with other backends and
    have connected before this storage was built. (Re)defining a function is cheap.
    """
    dbapi_connection.create_function(SQLITE_LIKE, 2, _sqlite_like, deterministic=True)


def load_from_config(config: Configurator) -> Storage:
    """Build the storage from ``cliquet.storage_url`` (``sqlite:///path.db`` or PostgreSQL).

    Pool settings: ``cliquet.storage_pool_size``, ``cliquet.storage_max_overflow``,
    ``cliquet.storage_pool_timeout_seconds``, ``cliquet.storage_statement_timeout_ms`` (see
    :func:`cliquet.sql.engine_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a database URL, or
        SQLite is older than 3.35 (no ``RETURNING``).
    """
    engine = engine_from_config(config, "storage")
    if engine.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise ConfigurationError(
            f"Setting 'cliquet.storage_url' names a SQLite database, but SQLite "
            f"{sqlite3.sqlite_version} is older than 3.35, which the storage needs."
        )
    return Storage(engine)
