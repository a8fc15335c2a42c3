"""SQLAlchemy engines and helpers shared by the SQL backends (cache, permission, storage).

One code path serves SQLite (the embedded default: a file, no server) and PostgreSQL
(production): URLs are checked and engines configured once, here, at start-up; each backend then
runs plain SQLAlchemy Core statements and turns database failures into its own error class, which
the web layer answers with a 503.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypedDict, TypeVar

import sqlalchemy
from psycopg.types.json import set_json_loads
from pyramid.exceptions import ConfigurationError
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import expression
from transaction.interfaces import NoTransaction
from zope.sqlalchemy.datamanager import STATUS_CHANGED, SessionDataManager

from cliquet.settings import SettingError, read_int
from cliquet.sql_watchdog import bound_replies
from cliquet.unit_of_work import TransactionManager, current_transaction, transaction_manager

__all__ = [
    "UnitOfWork",
    "held_reads",
    "held_reads_tween_factory",
    "unit_of_work",
    "engine_from_config",
    "EngineSettings",
    "create_engine_from_url",
    "engine_settings",
    "translate_errors",
    "upsert",
    "epoch_now",
    "startswith",
    "bytewise_text",
    "chunked",
]

_T = TypeVar("_T")

_DEFAULT_POOL_SIZE = 10
_DEFAULT_MAX_OVERFLOW = 10
_DEFAULT_POOL_TIMEOUT_SECONDS = 30
_DEFAULT_STATEMENT_TIMEOUT_MS = 10_000
# How much longer than the statement timeout a PostgreSQL reply may take before the client
# gives up on the connection: the server's own cancel, and the network, come first.
_REPLY_MARGIN_SECONDS = 1.0

# libpq's TCP keepalives: an idle connection whose peer vanished (packets dropped, not
# refused) is found dead within idle + interval * count seconds instead of hours.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}

# A writer's wait for its turn (SQLite) shorter than this is not taken off its busy timeout.
_TURN_SLACK_MS = 50

_POSTGRESQL_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}

_JSON = json.JSONDecoder()


def _load_json(data: str | bytes) -> Any:
    """``json.loads`` of the UTF-8 text of a JSON(B) value, as PostgreSQL sends it.

    psycopg hands ``json.loads`` bytes, whose encoding it then guesses for every value (a
    listing loads one document per record); PostgreSQL's text is UTF-8, decoded here as
    ``json.loads`` would decode it.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8", "surrogatepass")
    return _JSON.decode(data)


class EngineSettings(TypedDict):
    """The arguments of :func:`create_engine_from_url`, as read by :func:`engine_settings`."""

    url: str
    pool_size: int
    max_overflow: int
    pool_timeout_seconds: float
    statement_timeout_ms: int


def _parse_url(url: str) -> URL:
    """``url`` with PostgreSQL pinned to psycopg 3; :exc:`ValueError` for anything else."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ValueError(f"{url!r} is not a database URL") from None
    if parsed.drivername in _POSTGRESQL_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return parsed
    raise ValueError(
        f"{parsed.drivername!r} databases are not supported; "
        "expected postgresql://user@host/db or sqlite:///path.db"
    )


def create_engine_from_url(
    url: str,
    *,
    pool_size: int = _DEFAULT_POOL_SIZE,
    max_overflow: int = _DEFAULT_MAX_OVERFLOW,
    pool_timeout_seconds: float = _DEFAULT_POOL_TIMEOUT_SECONDS,
    statement_timeout_ms: int = _DEFAULT_STATEMENT_TIMEOUT_MS,
) -> Engine:
    """A lazily connecting engine for a PostgreSQL or SQLite URL.

    ``postgresql://`` runs on psycopg 3 with a connection pool whose connections are checked
    before use, so that a service recovers by itself once a restarted database is back;
    ``pool_timeout_seconds`` also bounds how long connecting may take. ``sqlite:///path.db``
    uses WAL (readers do not block the writer) and waits for a lock (up to
    ``statement_timeout_ms``) rather than failing at once. ``sqlite://`` is one in-memory
    database shared by every connection of the engine, which take turns on it: meant for
    tests.

    :param url: the database URL.
    :param pool_size: connections kept open.
    :param max_overflow: extra connections opened under load, closed when returned.
    :param pool_timeout_seconds: longest wait for a pooled connection, a new connection or
        (SQLite) a lock.
    :param statement_timeout_ms: longest a statement may run or wait for a lock (0: no
        bound): PostgreSQL cancels it (``statement_timeout`` and ``lock_timeout``), SQLite
        stops waiting for the write lock (its busy timeout, at most ``pool_timeout_seconds``).
    :returns: the engine; nothing is connected yet.
    :raises ValueError: the URL is malformed or names another database.

    Every engine hides statement parameters (users' data) from its error messages, so that
    logs show a failed statement's shape, not its values.

    On PostgreSQL, the network is bounded too: ``connect_timeout`` (``pool_timeout_seconds``),
    TCP keepalives (a dead peer found within 11 s of silence) and ``tcp_user_timeout`` (data
    unacknowledged for ``pool_timeout_seconds`` drops the connection). Any of these libpq
    parameters given in the URL's query wins. A server whose host still acknowledges but
    which no longer answers is bounded by the client: a reply (statement, commit, the pool's
    ping) not back within ``statement_timeout_ms`` plus a second breaks the connection, which
    raises :exc:`sqlalchemy.exc.OperationalError` and is dropped (:mod:`cliquet.sql_watchdog`).
    """
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _forget_connections_when_forked(
            _create_sqlite_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout_seconds=pool_timeout_seconds,
                statement_timeout_ms=statement_timeout_ms,
            )
        )
    defaults: dict[str, Any] = {
        # libpq counts whole seconds and treats less than 2 as 2.
        "connect_timeout": max(2, math.ceil(pool_timeout_seconds)),
        **_KEEPALIVES,
        "tcp_user_timeout": int(pool_timeout_seconds * 1000),
    }
    connect_args = {name: value for name, value in defaults.items() if name not in parsed.query}
    engine = sqlalchemy.create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args=connect_args,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _read_json(dbapi_connection: Any, connection_record: Any) -> None:
        set_json_loads(_load_json, dbapi_connection)

    if statement_timeout_ms > 0:
        timeout = int(statement_timeout_ms)
        bound_replies(engine, statement_timeout_ms / 1000 + _REPLY_MARGIN_SECONDS)

        @event.listens_for(engine, "connect")
        def _set_statement_timeout(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # Lock waits are part of a statement's time; lock_timeout names them in the error.
            cursor.execute(f"SET statement_timeout = {timeout}")
            cursor.execute(f"SET lock_timeout = {timeout}")
            cursor.close()
            # A plain SET is undone if its transaction rolls back, as the pool's reset would.
            dbapi_connection.commit()

    return _forget_connections_when_forked(engine)


def _forget_connections_when_forked(engine: Engine) -> Engine:
    """Let a forked process open connections of its own instead of sharing its parent's.

    gunicorn's ``preload_app`` builds the application in the master, then forks the workers:
    a connection the master opened (``cliquet.migrate_on_startup``) would otherwise be used by
    several processes at once. The child drops the pool's connections without closing them
    (they are the parent's), as SQLAlchemy advises.
    """
    reference = weakref.ref(engine)

    def in_child() -> None:
        forked = reference()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)
    return engine


def _enable_wal(cursor: Any, *, timeout_seconds: float) -> None:
    """Switch the file to WAL (persistent: done once per file).

    The switch needs the file to itself and does not wait on the busy handler, so workers
    opening a new file together retry until the first one has done it.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _create_sqlite_engine(
    parsed: URL,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout_seconds: float,
    statement_timeout_ms: int,
) -> Engine:
    in_memory = parsed.database in (None, "", ":memory:")
    busy_timeout_ms = int(pool_timeout_seconds * 1000)
    if statement_timeout_ms > 0:
        busy_timeout_ms = min(busy_timeout_ms, int(statement_timeout_ms))
    if in_memory:
        # The database lives as long as its connection: keep exactly one, for ever, and make
        # threads take turns on it (using one sqlite3 connection from two threads at once
        # crashes, which StaticPool would allow). A thread nesting two connections waits out
        # the pool timeout.
        pool_size, max_overflow = 1, 0
    engine = sqlalchemy.create_engine(
        parsed,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        # The pool hands a connection to one thread at a time, whichever it is.
        connect_args={"check_same_thread": False},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, starts transactions (see _begin), DDL included.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that switching to WAL waits for a lock held by another process.
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        if not in_memory:
            _enable_wal(cursor, timeout_seconds=pool_timeout_seconds)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    turns = None if in_memory else _WriterTurns(busy_timeout_ms / 1000)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A unit of work (a writing request) takes the write lock up front: a WAL transaction
        # that has read cannot become a writer once another process has written (SQLITE_BUSY
        # at once, whatever the busy timeout), whereas BEGIN IMMEDIATE waits its turn, so
        # workers on one file queue. Other transactions stay deferred: readers never wait.
        immediate = connection.info.pop(IMMEDIATE, False) or bool(
            connection.get_execution_options().get(IMMEDIATE)
        )
        if not immediate or turns is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
            return
        dbapi_connection = connection.connection.dbapi_connection
        left_ms = turns.take(dbapi_connection)
        # The turn cost time: the lock gets what is left (not worth two statements when the
        # turn came at once, as it mostly does).
        shortened = busy_timeout_ms - left_ms > _TURN_SLACK_MS
        try:
            if shortened:
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {left_ms}")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                if shortened:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        except BaseException:
            turns.give_back(dbapi_connection)
            raise

    if turns is not None:
        # Once the connection is back in the pool its transaction is over, committed or not.
        @event.listens_for(engine, "checkin")
        def _checkin(dbapi_connection: Any, connection_record: Any) -> None:
            turns.give_back(dbapi_connection)

        @event.listens_for(engine, "invalidate")
        def _invalidate(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
            turns.give_back(dbapi_connection)

    return engine


class _WriterTurns:
    """The write transactions of one SQLite file in this process, queued on a lock.

    SQLite's busy handler polls for the write lock in growing sleeps (up to 100 ms): a writer
    waiting there loses the lock to every newcomer that arrives while it sleeps, and under
    steady writes from a few threads it waits out its timeout (a 503) though each transaction
    lasts milliseconds. The threads of a process wait here instead, each woken as soon as the
    previous one is done; the busy handler is left to arbitrate between processes, one writer
    of each.

    Still needed under pyramid_tm: the transaction manager decides when a unit of work
    begins and ends, not in which order the threads get SQLite's one write lock, and a unit
    of work must hold it from its first statement (``BEGIN IMMEDIATE``: a WAL transaction
    that has read cannot become a writer once another connection wrote). The turn is taken
    when the unit's connection begins and given back when zope.sqlalchemy closes its session
    (the connection's checkin), whether it committed or not.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._holder: Any = None  # the DBAPI connection whose transaction has the turn
        reference = weakref.ref(self)

        def in_child() -> None:
            # A turn held in the parent when it forked is no one's in the child.
            turns = reference()
            if turns is not None:
                turns._lock, turns._holder = threading.Lock(), None

        os.register_at_fork(after_in_child=in_child)

    def take(self, dbapi_connection: Any) -> int:
        """Wait for the turn; return the milliseconds of the timeout left.

        :raises sqlalchemy.exc.OperationalError: the timeout passed, as SQLite's would.
        """
        start = time.monotonic()
        if not self._lock.acquire(timeout=self.timeout_seconds):
            raise sqlalchemy.exc.OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        self._holder = dbapi_connection
        left = self.timeout_seconds - (time.monotonic() - start)
        return max(1, int(left * 1000))

    def give_back(self, dbapi_connection: Any) -> None:
        """End the turn of ``dbapi_connection``'s transaction, if it has it."""
        if dbapi_connection is not None and self._holder is dbapi_connection:
            self._holder = None
            self._lock.release()


def engine_settings(settings: Mapping[str, Any], prefix: str) -> EngineSettings:
    """Read the engine settings of one component, rejecting bad values at start-up.

    Reads ``cliquet.<prefix>_url`` (required), ``cliquet.<prefix>_pool_size`` (10),
    ``cliquet.<prefix>_max_overflow`` (10), ``cliquet.<prefix>_pool_timeout_seconds`` (30) and
    ``cliquet.<prefix>_statement_timeout_ms`` (10000; 0: none); values may be typed or strings.

    :param settings: the application settings.
    :param prefix: the component, e.g. ``"cache"``.
    :returns: keyword arguments for :func:`create_engine_from_url`.
    :raises pyramid.exceptions.ConfigurationError: naming the setting that is missing or wrong.
    """
    url_key = f"cliquet.{prefix}_url"
    url = str(settings.get(url_key) or "").strip()
    if not url:
        raise SettingError(
            url_key, "is empty", expected="postgresql://user@host/db or sqlite:///path.db"
        )
    try:
        _parse_url(url)
    except ValueError as e:
        raise SettingError(url_key, f"is wrong: {e}") from None
    values = {
        name: read_int(
            settings,
            f"cliquet.{prefix}_{name}",
            default,
            minimum=1 if name in ("pool_size", "pool_timeout_seconds") else 0,
        )
        for name, default in (
            ("pool_size", _DEFAULT_POOL_SIZE),
            ("max_overflow", _DEFAULT_MAX_OVERFLOW),
            ("pool_timeout_seconds", _DEFAULT_POOL_TIMEOUT_SECONDS),
            ("statement_timeout_ms", _DEFAULT_STATEMENT_TIMEOUT_MS),
        )
    }
    return EngineSettings(
        url=url,
        pool_size=values["pool_size"],
        max_overflow=values["max_overflow"],
        pool_timeout_seconds=values["pool_timeout_seconds"],
        statement_timeout_ms=values["statement_timeout_ms"],
    )


@contextmanager
def translate_errors(error_class: Callable[..., Exception]) -> Iterator[None]:
    """Re-raise SQLAlchemy and database errors as ``error_class(original=...)``.

    Callers catch one backend-neutral type (``CacheError``, ``PermissionBackendError``), which
    the web layer answers with 503 errno 201; the driver's exception stays on ``original``.
    """
    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise error_class(original=e) from e


def upsert(engine: Engine, table: sqlalchemy.Table) -> Any:
    """The dialect's ``INSERT`` (with ``on_conflict_do_update/do_nothing``) for ``table``."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class epoch_now(expression.FunctionElement[float]):
    """The database's clock in epoch seconds (sub-second precision), as a SQL expression.

    Expiry is computed against one clock, the database's, so that workers on machines whose
    clocks drift still agree on what has expired.
    """

    type = sqlalchemy.Double()
    name = "epoch_now"
    inherit_cache = True


@compiles(epoch_now, "postgresql")
def _epoch_now_postgresql(element: epoch_now, compiler: Any, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM CLOCK_TIMESTAMP()) AS DOUBLE PRECISION)"


@compiles(epoch_now, "sqlite")
def _epoch_now_sqlite(element: epoch_now, compiler: Any, **kw: Any) -> str:
    # julianday('now') has millisecond precision; 2440587.5 is the Julian day of 1970-01-01.
    return "((julianday('now') - 2440587.5) * 86400.0)"


def bytewise_text() -> sqlalchemy.types.TypeEngine[str]:
    """A text column type that sorts by code point on every dialect.

    SQLite compares text bytewise already; PostgreSQL columns get ``COLLATE "C"`` so that
    :func:`startswith` ranges are exact and served by the column's btree index.
    """
    return sqlalchemy.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = last + 1
            if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be stored
                following = 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def startswith(column: Any, prefix: str) -> Any:
    """A condition true when ``column`` starts with ``prefix``, as an indexable range.

    ``LIKE`` is case-insensitive on SQLite and cannot use an index under most PostgreSQL
    collations; a range does both right on a :func:`bytewise_text` column.
    """
    if not prefix:
        return sqlalchemy.true()
    condition = column >= prefix
    upper = _successor(prefix)
    if upper is not None:
        condition = sqlalchemy.and_(condition, column < upper)
    return condition


def chunked(items: Iterable[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    """``items`` in lists of at most ``size``: databases bound the parameters of a query."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# Connection.info key, or execution option: begin this transaction holding the write lock
# (SQLite).
IMMEDIATE = "cliquet.immediate"


class _SessionDataManager(SessionDataManager):
    """zope.sqlalchemy's data manager, whose failed commit is a backend error (503).

    The connection of a failed commit is dropped, not pooled: SQLAlchemy deems its
    transaction ended, whereas SQLite keeps it open after a refused ``COMMIT``, and the next
    request would find it there ("cannot start a transaction within a transaction").
    """

    def __init__(self, session: Session, connection: sqlalchemy.engine.Connection, manager: Any):
        super().__init__(session, STATUS_CHANGED, manager)
        self.connection = connection

    def tpc_vote(self, trans: Any) -> None:
        from cliquet.storage import StorageError

        try:
            with translate_errors(StorageError):
                super().tpc_vote(trans)
        except BaseException:
            try:
                self.connection.invalidate()
            except Exception:  # already gone: nothing to drop
                pass
            raise


class _Holders(threading.local):
    """The calling thread's :meth:`UnitOfWork.begin` calls not yet ended."""

    count = 0
    owned = False  # the transaction was begun by UnitOfWork.begin, not by pyramid_tm


class _HeldReads(threading.local):
    """The calling thread's read connections, held while :func:`held_reads` runs."""

    depth = 0

    def __init__(self) -> None:
        self.connections: dict[UnitOfWork, sqlalchemy.engine.Connection] = {}


_held = _HeldReads()


@contextmanager
def held_reads() -> Iterator[None]:
    """Within (one request): the reads outside a unit of work share one connection per engine.

    A GET reads the user's principals, the collection's timestamp and the page: one
    connection checked out (and pinged) once instead of three. Only on PostgreSQL, whose
    reads run in autocommit: each query still sees what was committed before it, as a
    connection of its own would. The connections are the calling thread's (never another
    thread's), returned to the pool when the outermost scope ends; one whose query failed
    is returned at once (invalidated by SQLAlchemy when the failure was the connection's),
    and the next read checks out another. Writes and units of work are not affected.
    """
    held = _held
    held.depth += 1
    try:
        yield
    finally:
        held.depth -= 1
        if held.depth == 0 and held.connections:
            connections = list(held.connections.values())
            held.connections.clear()
            for connection in connections:
                try:
                    connection.close()
                except Exception:  # a broken one is dropped by the pool
                    pass


def held_reads_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Any:
    """A tween running each request (batch included) in :func:`held_reads`."""

    def tween(request: Any) -> Any:
        with held_reads():
            return handler(request)

    return tween


class UnitOfWork:
    """The transaction of one engine within each thread's unit of work.

    Storage and permissions on one database must write in one transaction: on SQLite a
    second connection would wait for the first one's write lock, and on any database a
    refused request must undo both. The unit of work is a transaction of ``manager`` (the
    ``transaction`` package's; pyramid_tm begins one per writing request): the first call
    made in it opens a connection in a SQLAlchemy session that joins it through
    zope.sqlalchemy, and every backend on the engine uses that connection until it ends.
    Calls made outside a unit of work run in a transaction of their own.

    :meth:`begin`, :meth:`commit` and :meth:`rollback` run a unit of work without
    pyramid_tm (scripts, the backends' own ``begin``/``commit``): nested calls share one,
    the last commit commits, any rollback undoes it all.
    """

    def __init__(self, engine: Engine, manager: Any = None) -> None:
        self.engine = engine
        self.manager = manager if manager is not None else TransactionManager()
        # A unit of work's connection takes the write lock up front (SQLite; ignored by
        # PostgreSQL): see _create_sqlite_engine.
        self._writer = engine.execution_options(**{IMMEDIATE: True})
        # A read of one statement outside a unit of work needs no transaction: PostgreSQL
        # answers it alone (no BEGIN and COMMIT round trips). SQLite's cost nothing (no
        # network) and its transactions are begun by the begin hook, so they stay.
        self._reader = engine
        if engine.dialect.name == "postgresql":
            self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        # SQLite's reads are transactions (a held one would keep its snapshot): not held.
        self._holds_reads = engine.dialect.name == "postgresql"
        self._holders = _Holders()

    def transaction(self) -> Any:
        """The calling thread's open transaction, or None."""
        return current_transaction(self.manager)

    @property
    def active(self) -> bool:
        """Whether the calling thread has a unit of work open."""
        return self.transaction() is not None

    def begin(self) -> None:
        holders = self._holders
        if holders.count == 0:
            holders.owned = False
            if self.transaction() is None:
                try:
                    self.manager.get().abort()  # one left committed, or failed
                except NoTransaction:
                    pass
                self.manager.begin()
                holders.owned = True
        holders.count += 1

    def commit(self) -> None:
        """Commit once the last holder commits (unless another holder rolled back).

        :raises cliquet.storage.StorageError: the commit failed; nothing was written.
        """
        holders = self._holders
        if holders.count == 0:
            return
        holders.count -= 1
        if holders.count == 0 and holders.owned:
            holders.owned = False
            txn = self.transaction()
            if txn is None:
                return
            if txn.isDoomed():
                txn.abort()
                return
            try:
                txn.commit()
            except BaseException:
                txn.abort()
                raise

    def rollback(self) -> None:
        """Undo the calling thread's unit of work; never raises."""
        holders = self._holders
        txn = self.transaction()
        if holders.count == 0:
            return
        owned, holders.count, holders.owned = holders.owned, 0, False
        if txn is None:
            return
        if owned:
            txn.abort()
        else:
            txn.doom()  # pyramid_tm's: it aborts it

    def _joined(self, txn: Any) -> sqlalchemy.engine.Connection:
        """The connection of ``txn`` on this engine, opened and joined on first use."""
        try:
            connection: sqlalchemy.engine.Connection = txn.data(self)
            return connection
        except KeyError:
            pass
        session = Session(bind=self._writer)
        try:
            connection = session.connection()
            # Joined as changed: its commit commits (a joined session deemed unchanged
            # would be rolled back, and the backends write through Core, which
            # zope.sqlalchemy does not watch).
            _SessionDataManager(session, connection, self.manager)
        except BaseException:
            session.close()
            raise
        txn.set_data(self, connection)
        return connection

    @contextmanager
    def _held_read(self) -> Iterator[sqlalchemy.engine.Connection]:
        """The thread's held read connection on this engine (see :func:`held_reads`)."""
        connections = _held.connections
        connection = connections.get(self)
        if connection is None:
            connection = connections[self] = self._reader.connect()
        try:
            yield connection
        except BaseException:
            # Not reused: broken, or in a state nobody checked.
            if connections.get(self) is connection:
                del connections[self]
            try:
                connection.close()
            except Exception:
                pass
            raise

    @contextmanager
    def connect(
        self, *, writes: bool = False, one_read: bool = False
    ) -> Iterator[sqlalchemy.engine.Connection]:
        """The unit of work's connection when one is open, else a transaction of its own.

        ``writes``: that transaction of its own is a writer's (on SQLite: ``BEGIN IMMEDIATE``,
        after this process's other writers, as a unit of work's), not a deferred one, whose
        write could lose the lock to every other writer until its busy timeout passed.
        ``one_read``: the caller runs one query and writes nothing, which needs no
        transaction of its own (PostgreSQL: autocommit).
        """
        txn = self.transaction()
        if txn is None and one_read:
            if self._holds_reads and _held.depth:
                with self._held_read() as connection:
                    yield connection
                return
            with self._reader.connect() as connection:
                yield connection
            return
        if txn is None:
            with self.engine.connect() as connection:
                if writes:
                    connection.info[IMMEDIATE] = True  # read by SQLite's begin hook
                with connection.begin():
                    yield connection
            return
        yield self._joined(txn)


def unit_of_work(engine: Engine, manager: Any = None) -> UnitOfWork:
    """The :class:`UnitOfWork` of ``engine`` (one per engine, shared by its backends).

    :param manager: the transaction manager of its units of work (a registry's: see
        :func:`cliquet.unit_of_work.transaction_manager`); the first call decides.
    """
    units: UnitOfWork | None = getattr(engine, "cliquet_unit_of_work", None)
    if units is None:
        units = UnitOfWork(engine, manager)
        engine.cliquet_unit_of_work = units  # type: ignore[attr-defined]
    return units


def engine_from_config(config: Any, prefix: str) -> Engine:
    """The engine of ``cliquet.<prefix>_url``, shared with the app's other backends on that URL.

    Sharing the engine shares the unit of work, so a request's writes to storage and
    permissions on one database commit or roll back together. Pool settings are those of
    the first backend built on the URL.
    """
    settings = engine_settings(config.get_settings(), prefix)
    registry = config.registry
    engines: dict[str, Engine] | None = getattr(registry, "cliquet_sql_engines", None)
    if engines is None:
        engines = {}
        registry.cliquet_sql_engines = engines
    url = settings["url"]
    if url not in engines:
        engines[url] = create_engine_from_url(**settings)
        # Its units of work are the registry's transactions (pyramid_tm's).
        unit_of_work(engines[url], transaction_manager(registry))
    return engines[url]


_POSTGRESQL_URL_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def require_postgresql(config: Any, component: str) -> None:
    """Refuse a ``cliquet.<component>_url`` that is not PostgreSQL (the alias modules' promise).

    ``cliquet.<component>.postgresql`` is what older services name; it builds the SQL backend.

    :raises pyramid.exceptions.ConfigurationError: the URL is set and is not PostgreSQL.
    """
    key = f"cliquet.{component}_url"
    url = str(config.get_settings().get(key) or "")
    if url and not url.startswith(_POSTGRESQL_URL_PREFIXES):
        raise ConfigurationError(
            f"Invalid value for setting {key!r}: {url!r}; "
            f"cliquet.{component}.postgresql expects a postgresql:// URL."
        )
