"""Indexes of the fields a service declares: what ``like_`` and range filters read.

A resource names the fields its clients filter on (``indexed_fields = ("title", "rank")``,
see :class:`cliquet.resource.UserResource`); the SQL storage learns them at start-up
(:meth:`cliquet.storage.sql.Storage.declare_indexed_fields`) and, on PostgreSQL, builds for
each indexes of the very expressions its filters compare (:mod:`cliquet.storage.sql_query`
reads a field as a *rank* and one typed value per rank):

- ``..._number``, ``..._string``: btrees of the live records on
  ``(parent_id, collection_id, rank, number)`` and ``(..., rank, text)``. A range filter
  (``min_``, ``max_``, ``lt_``, ``gt_``) is "one of the ranks below (or above) the value's,
  or its rank and a typed value below (above)": each half is a range of these indexes,
  which PostgreSQL reads as one bitmap.
- ``..._stats_rank``, ``..._stats_number``, ``..._stats_string``: statistics of those
  expressions (``CREATE STATISTICS``), which PostgreSQL keeps for no partial index: with them
  the planner knows how many records a range matches, which decides how a page of it is found
  (:attr:`cliquet.storage.sql_query.Selection.planner_may_walk`). Only the table's owner may
  create them: for another user a migration logs a warning and creates the indexes alone.
- ``..._trigrams`` (with the ``pg_trgm`` extension, created if the database allows it, else
  a logged warning and no such index): a GIN of the field's text with ``gin_trgm_ops``,
  which answers the ``ILIKE '%...%'`` of ``like_``.

An index is used only when the query spells its expression as the index does, constants
included: a declared field's expressions are written into the statements as SQL text
(:class:`IndexedField`), where other fields' names stay parameters (a client may name any
field; a developer declares few). Equality and ``in_`` filters need none of this: the GIN
index of the whole data answers them (revision ``storage_0002``).

SQLite gets none. Its planner does not read an expression index for a condition that is an
``OR`` (which the cross-type order makes of every range), and without ``STAT4`` it lists in
the order of ``last_modified`` rather than search another index: measured, such indexes
cost each write and served no listing.

The indexes are built by :func:`synchronize`, from ``initialize_schema()`` (``cliquet
migrate``, or start-up with ``cliquet.migrate_on_startup``), never at request time: in one
transaction holding the migrations' advisory lock, so that processes starting together
build them once; named after the field and a digest of it (deterministic), created when
missing and dropped once no resource declares the field (one service per database: the
records table is the service's). Not ``CONCURRENTLY``, which cannot run in a transaction
and leaves an invalid index behind when it fails: a build blocks writes to the records while
it runs, so on a large table run ``cliquet migrate`` when deploying the declaration.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import zlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from cliquet.sql import IMMEDIATE
from cliquet.storage.sql_query import (
    NUMBER,
    STRING,
    Bound,
    _Binder,
    _Field,
    _JSONPath,
    _PostgreSQLPath,
    _SQLitePath,
    records,
)

__all__ = [
    "IndexedField",
    "PREFIX",
    "existing",
    "index_definitions",
    "indexed_field",
    "synchronize",
]

logger = logging.getLogger(__name__)

#: Every index of a declared field is named so (and no other index is).
PREFIX = "idx_records_field_"
# Dialects compiling SQL text as the database reads it: no parameter style to escape ``%``
# for (a statement holding the text escapes it once, as its own parameter style needs).
_DIALECTS = {"postgresql": postgresql.dialect(paramstyle="named"), "sqlite": sqlite.dialect()}


def _sql(expression: ColumnElement[Any], dialect_name: str) -> str:
    """The SQL text of ``expression`` with its values written in (no parameter), as the
    database reads it (``%`` not escaped)."""
    compiled = expression.compile(
        dialect=_DIALECTS[dialect_name], compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def _path(dialect_name: str, data: ColumnElement[Any], field: str) -> _JSONPath:
    cls = _PostgreSQLPath if dialect_name == "postgresql" else _SQLitePath
    return cls(data, field.split("."))


def _written(text: str, type_: sa.types.TypeEngine[Any]) -> ColumnElement[Any]:
    # Coerced rather than typed: values compared with it get anonymous parameter names.
    return sa.type_coerce(sa.literal_column(text), type_)


class IndexedField(_Field):
    """A declared field: the expressions its indexes hold, written in as SQL text.

    Conditions on it are those of any other field (the same semantics, built by the same
    code); only the rank, the number, the text and the text ``like_`` reads come out as
    constant SQL, which the database matches against its indexes' expressions.
    """

    indexed = True

    def __init__(self, dialect_name: str, field: str, *, qualified: bool = True) -> None:
        # Queries name the table's column; CREATE INDEX names its columns alone.
        data = records.c.data if qualified else sa.column("data")
        self.inner = _path(dialect_name, data, field)
        self.dialect_name = dialect_name
        self.field = field
        number, text = self.inner.typed(NUMBER), self.inner.typed(STRING)
        like_text, rank = self.inner.like_text(), self.inner.rank
        assert number is not None and text is not None and like_text is not None
        assert not isinstance(rank, int)
        #: The SQL of the rank, the typed values and the text of LIKE, as indexes hold them.
        self.texts: dict[Any, str] = {
            "rank": _sql(rank, dialect_name),
            NUMBER: f"({_sql(number, dialect_name)})",
            STRING: f"({_sql(text, dialect_name)})",
            "like": f"({_sql(like_text, dialect_name)})",
        }
        self.rank = _written(self.texts["rank"], sa.Integer())
        self._typed = {
            NUMBER: _written(self.texts[NUMBER], sa.Numeric()),
            STRING: _written(self.texts[STRING], sa.Text()),
        }
        self._like_text = _written(self.texts["like"], sa.Text())

    def typed(self, rank: int) -> ColumnElement[Any] | None:
        if rank in self._typed:
            return self._typed[rank]
        return self.inner.typed(rank)

    def bound(self, rank: int, value: Any) -> Bound:
        return self.inner.bound(rank, value)

    def wrap(self, rank: int, parameter: ColumnElement[Any]) -> ColumnElement[Any]:
        return self.inner.wrap(rank, parameter)

    def like_text(self) -> ColumnElement[Any] | None:
        return self._like_text

    def contained(self, value: Any, bind: _Binder) -> ColumnElement[bool] | None:
        return self.inner.contained(value, bind)

    def contained_in(self, values: Any, bind: _Binder) -> ColumnElement[bool] | None:
        return self.inner.contained_in(values, bind)

    def in_(self, rank: int, groups: Any, bind: _Binder) -> ColumnElement[bool] | None:
        if rank in self._typed:
            return super().in_(rank, groups, bind)
        return self.inner.in_(rank, groups, bind)

    def __repr__(self) -> str:
        return f"<IndexedField {self.field!r} ({self.dialect_name})>"


@functools.lru_cache(maxsize=256)
def indexed_field(dialect_name: str, field: str) -> IndexedField:
    """The declared ``field`` as the records table's filters read it (built once)."""
    return IndexedField(dialect_name, field)


_STATISTICS = re.compile(r"_stats_[a-z]+$")


#: PostgreSQL cuts longer names short (NAMEDATALEN - 1): a cut name would not be found.
_NAME_BYTES = 63


def _name(field: str, kind: str) -> str:
    # Readable, deterministic, and within PostgreSQL's 63 bytes whatever the field's name:
    # 24 characters of it, fewer for the longest kinds (names of shorter ones unchanged).
    room = _NAME_BYTES - len(PREFIX) - len(kind) - len("_12345678_")
    slug = re.sub(r"[^a-z0-9]+", "_", field.lower()).strip("_")[: min(24, room)]
    digest = hashlib.sha1(field.encode()).hexdigest()[:8]
    return f"{PREFIX}{slug}_{digest}_{kind}"


def index_definitions(dialect_name: str, field: str, *, trigrams: bool = True) -> dict[str, str]:
    """``{name: CREATE INDEX ...}`` of the indexes of one declared field.

    :param trigrams: include the ``pg_trgm`` index of ``like_`` (PostgreSQL only).
    """
    if dialect_name != "postgresql":
        return {}  # see the module's docstring: SQLite would not read them
    unqualified = IndexedField(dialect_name, field, qualified=False)
    live = "NOT deleted"
    rank = unqualified.texts["rank"]
    definitions = {}
    typed_ranks = (("number", NUMBER), ("string", STRING))
    for kind, rank_of in typed_ranks:
        typed = unqualified.texts[rank_of]
        name = _name(field, kind)
        definitions[name] = (
            f"CREATE INDEX IF NOT EXISTS {name} ON records "
            f"(parent_id, collection_id, ({rank}), {typed}) WHERE {live}"
        )
    # Statistics of the expressions themselves: PostgreSQL keeps none for those of partial
    # indexes, and without them guesses that a range matches a fixed share of the records
    # (see cliquet.storage.sql_query.Selection.planner_may_walk, which asks it).
    for kind, text in (("rank", rank), *((k, unqualified.texts[r]) for k, r in typed_ranks)):
        name = _name(field, f"stats_{kind}")
        definitions[name] = f"CREATE STATISTICS IF NOT EXISTS {name} ON ({text}) FROM records"
    if trigrams:
        name = _name(field, "trigrams")
        text = unqualified.texts["like"]
        definitions[name] = (
            f"CREATE INDEX IF NOT EXISTS {name} ON records "
            f"USING gin ({text} gin_trgm_ops) WHERE {live}"
        )
    # Run by the driver (exec_driver_sql), whose parameter style reads "%%" as "%".
    return {name: sql.replace("%", "%%") for name, sql in definitions.items()}


def existing(conn: Connection) -> set[str]:
    """The names of the indexes (and statistics) of declared fields the records table has."""
    # From the catalogs: SQLAlchemy's reflection leaves SQLite's expression indexes out.
    if conn.dialect.name == "postgresql":
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = 'records'"
        )
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
    names = set(conn.exec_driver_sql(query).scalars())
    if conn.dialect.name == "postgresql":
        statistics = "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'records'::regclass"
        names |= set(conn.exec_driver_sql(statistics).scalars())
    return {name for name in names if name.startswith(PREFIX)}


def _trigrams(conn: Connection) -> bool:
    """Whether ``pg_trgm`` is there, created if need be; a logged warning when not allowed."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as e:
        logger.warning(
            "pg_trgm is not available (%s): like_ filters on declared fields read every "
            "record of their collection. A superuser may run CREATE EXTENSION pg_trgm.",
            str(e.orig).strip().splitlines()[0],
        )
        return False
    return True


def _statistics(conn: Connection, definitions: list[str]) -> bool:
    """Create statistics (``CREATE STATISTICS``), which only the table's owner may: for
    another user (a service's runtime user migrating at start-up, the indexes built by the
    owner before statistics existed), or on a PostgreSQL without statistics of expressions
    (before 14), a logged warning and none, the planner guessing."""
    try:
        with conn.begin_nested():
            for definition in definitions:
                conn.exec_driver_sql(definition)
    except sa.exc.DBAPIError as e:
        logger.warning(
            "CREATE STATISTICS of the declared fields failed (%s): the planner guesses how "
            "many records their ranges match. Run cliquet migrate as the owner of the "
            "records table.",
            str(e.orig).strip().splitlines()[0],
        )
        return False
    return True


def synchronize(engine: Engine, fields: Iterable[str], *, dry_run: bool = False) -> str | None:
    """Create the indexes of the declared ``fields`` that are missing; drop those of fields
    no longer declared. Idempotent; one process at a time.

    :returns: one line telling what was (or would be) done; None when nothing was to do.
    """
    fields = sorted(set(fields))
    dialect_name = engine.dialect.name
    with engine.connect() as conn:
        conn.info[IMMEDIATE] = True  # SQLite: the write lock from the start (see cliquet.sql)
        with conn.begin():
            if dialect_name == "postgresql":
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
                # The lock cliquet.migration takes: one process builds, the others find it done.
                key = zlib.crc32(b"cliquet.migrate.storage")
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            present = existing(conn)
            trigrams = (
                dialect_name == "postgresql" and bool(fields) and (dry_run or _trigrams(conn))
            )
            wanted: dict[str, str] = {}
            for field in fields:
                wanted.update(index_definitions(dialect_name, field, trigrams=trigrams))
            create = [name for name in wanted if name not in present]
            drop = sorted(present - set(wanted))
            if dry_run or not (create or drop):
                if not (create or drop):
                    return None
                return f"storage: would create {len(create)} and drop {len(drop)} field indexes"
            for name in drop:
                kind = "STATISTICS" if _STATISTICS.search(name) else "INDEX"
                conn.exec_driver_sql(f"DROP {kind} IF EXISTS {name}")
            for name in [n for n in create if not _STATISTICS.search(n)]:
                conn.exec_driver_sql(wanted[name])
            statistics = [n for n in create if _STATISTICS.search(n)]
            if statistics and not _statistics(conn, [wanted[n] for n in statistics]):
                create = [n for n in create if n not in statistics]
            if create:
                conn.exec_driver_sql("ANALYZE records")
    declared = ", ".join(fields) or "none declared"
    return f"storage: created {len(create)} and dropped {len(drop)} field indexes ({declared})"
