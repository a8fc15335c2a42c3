"""The SQL of the storage backend: its tables, and the statements its calls run.

Nothing here touches a connection; :mod:`cliquet.storage.sql` runs these statements.

Filters and sorts keep the semantics of :mod:`cliquet.storage.selection` (``order_key``,
``matches``): JSON values compare in a total order over their types, null < booleans < numbers
< strings < arrays < objects, and a missing field sorts as null but matches only ``NOT``,
``EXCLUDE`` and ``HAS false``. Neither SQLite nor PostgreSQL orders JSON that way, so a field is
read as a *rank* (its type's place in that order, SQL NULL when missing) plus one *typed* value
per rank (the boolean, number, string... NULL when of another type); comparing with a value of
rank ``r`` is "rank below ``r``, or rank ``r`` and typed value below", evaluated by the
database on each row.

Within arrays and within objects the order is the database's (PostgreSQL's ``jsonb`` order,
SQLite's JSON text), not Python's element-wise one; equality of arrays and objects is exact on
PostgreSQL and compares canonical JSON text on SQLite, where ``[1]`` and ``[1.0]`` differ.

Numbers compare exactly, as Python compares an int with a float, whatever their size: on
PostgreSQL every number is a ``numeric`` holding its exact value (see :func:`jsonb_text`); on
SQLite, whose numbers are 64-bit integers and doubles (compared with each other exactly), a
filter value beyond 64 bits becomes the comparison with the nearest double that selects the
same records (:func:`_sqlite_bound`). ``LIKE`` folds case as
:func:`cliquet.storage.selection.like` does: on SQLite by calling it (the function
:data:`SQLITE_LIKE`, registered on each connection by :mod:`cliquet.storage.sql`), on
PostgreSQL with ``ILIKE``, which folds every letter in a UTF-8 database (its ``LC_CTYPE``
decides: a ``C`` database folds ASCII letters only).
"""

from __future__ import annotations

import json
import math
import operator as op
from collections.abc import Callable, Hashable, Mapping, MutableMapping, Sequence
from dataclasses import KW_ONLY, dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY as SQL_ARRAY
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import expression
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from cliquet.sql import bytewise_text, epoch_now, upsert
from cliquet.storage import COMPARISON, Filter, Sort

__all__ = [
    "Document",
    "Key",
    "RecordColumns",
    "RecordQueries",
    "bump_statement",
    "canonical_json",
    "in_collection",
    "live",
    "metadata",
    "record_counts",
    "records",
    "Selection",
    "SQLITE_LIKE",
    "Statements",
    "timestamps",
    "tombstones_statement",
    "write_statement",
]

Key = tuple[str, str]  # (collection_id, parent_id)

# A JSON value's rank in the cross-type order (as in cliquet.storage.selection.order_key).
NULL, BOOLEAN, NUMBER, STRING, ARRAY, OBJECT, OTHER = range(7)

# The type names of each rank: SQLite's json_type(), PostgreSQL's jsonb_typeof().
_SQLITE_TYPES: tuple[tuple[str, ...], ...] = (
    ("null",),
    ("true", "false"),
    ("integer", "real"),
    ("text",),
    ("array",),
    ("object",),
)
_POSTGRESQL_TYPES: tuple[tuple[str, ...], ...] = (
    ("null",),
    ("boolean",),
    ("number",),
    ("string",),
    ("array",),
    ("object",),
)
_INT64 = 2**63
# Beyond it, a double is an integer that its shortest text (repr) may not spell exactly.
_EXACT_DOUBLE_INTEGERS = 2**53
#: The SQL function of SQLite connections that tells whether a text matches a LIKE pattern
#: (``cliquet_like(text, pattern)``), as :func:`cliquet.storage.selection.like` says.
SQLITE_LIKE = "cliquet_like"
# Filters, page rules and sort keys of a listing whose statement (and compiled form) is kept
# (the plain listing, a page of it, a few filters); bigger shapes are built for each request.
_CACHED_TERMS = 8

# The SQL types of bound values (types hold no state: one instance serves every statement).
_TEXT = sa.Text()
_BIGINT = sa.BigInteger()
_INTEGER = sa.Integer()
_NUMERIC = sa.Numeric()
_FLOAT = sa.Float()
_BOOLEAN = sa.Boolean()

#: A value as a statement binds it: its SQL type and the value given to the driver.
Bound = tuple[Any, Any]
#: How a bound value comes from its filter's value (plain Python, no SQL expression).
Derive = Callable[[Any], Bound]
# Values of one rank of an IN, by their SQL type's class: (the type, their bound values).
_Groups = dict[type, tuple[Any, list[Any]]]


class _Binder:
    """Makes the parameters of the filters' values while their conditions are built.

    Each parameter comes from its filter's value by a :data:`Derive` function, which is
    applied to the value at once. Anonymous by default (the statement holds the values);
    ``named``, the parameters are ``v0``, ``v1``... whose values are in :attr:`values`, not
    in the statement, and :attr:`slots` remembers which filter and function each comes from,
    so that a statement of the same shape (see :func:`shape_of`) takes another request's
    values without being built again (only the functions run), and keeps none of the
    values of the request that built it.
    """

    def __init__(self, *, named: bool = False) -> None:
        self.named = named
        #: ``(name, filter's index, derive)`` of each named parameter.
        self.slots: list[tuple[str, int, Derive]] = []
        #: The values of the named parameters.
        self.values: dict[str, Any] = {}
        self._index = -1
        self._value: Any = None

    def next(self, value: Any) -> None:
        """The next filter's conditions are built: ``value`` is its value."""
        self._index += 1
        self._value = value

    def __call__(self, derive: Derive) -> BindParameter[Any]:
        type_, value = derive(self._value)
        if not self.named:
            return sa.bindparam(None, value, type_=type_)
        name = f"v{len(self.slots)}"
        self.slots.append((name, self._index, derive))
        self.values[name] = value
        return sa.bindparam(name, type_=type_)


def _value_kind(value: Any, sqlite: bool) -> Hashable:
    """What of one value decides the conditions built for it, besides the value itself.

    Its rank, and how it is bound: a float that is an integer compares with a column as an
    integer; a 64-bit integer or not; a string with NUL or a float that is not finite is
    left out of a jsonpath. SQLite compares an integer beyond 64 bits through a double
    chosen by its value (see :func:`_sqlite_bound`): such a value is its own kind.
    """
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return "i"
        return ("I", value) if sqlite else "I"
    if isinstance(value, float):
        return ("f", value.is_integer() and abs(value) < _INT64, math.isfinite(value))
    if isinstance(value, str):
        return ("s", "\x00" in value)
    if value is None:
        return "n"
    if isinstance(value, (list, tuple)):
        return "a"
    if isinstance(value, dict):
        return "o"
    return ("x", type(value))


def _filter_shape(condition: Filter, sqlite: bool) -> Hashable:
    operator, value = condition.operator, condition.value
    if operator is COMPARISON.HAS:
        kind: Hashable = bool(value)
    elif operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        # Distinct kinds in the order they come: the order of the groups of _in_groups.
        kind = tuple(dict.fromkeys(_value_kind(v, sqlite) for v in value))
    else:
        kind = _value_kind(value, sqlite)
    return condition.field, operator, kind


def shape_of(filters: Sequence[Filter], *, dialect_name: str) -> tuple[Hashable, ...]:
    """What of ``filters`` decides the text of their conditions: fields, operators and the
    kinds of the values; two lists of one shape differ only by their parameters' values."""
    sqlite = dialect_name != "postgresql"
    return tuple(_filter_shape(f, sqlite) for f in filters)


def canonical_json(value: Any) -> str:
    """The JSON text SQLite stores: compact, sorted keys, so that equal objects are equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _numeric(number: float) -> Decimal:
    """The decimal PostgreSQL holds for a float: its exact value when it is a big integer.

    Below 2**53 the shortest text (``0.1``) is kept: no integer lies between it and the
    float's exact binary value, so it compares with integers and other floats as the float
    does. Above, floats are integers that their shortest text may miss (``2**64`` prints as
    18446744073709552000): the exact value keeps comparisons with integers exact.
    """
    if abs(number) >= _EXACT_DOUBLE_INTEGERS:
        return Decimal(number)
    return Decimal(repr(number))


def _positional(number: float) -> str:
    text = repr(number)
    if "e" not in text and abs(number) < _EXACT_DOUBLE_INTEGERS:
        return text  # "100.0", "0.001": a fraction part already
    # ``1e+16`` would come back from JSONB as the integer 10000000000000000.
    text = format(_numeric(number), "f")
    return text if "." in text else f"{text}.0"


def jsonb_text(value: Any) -> str:
    """JSON text that PostgreSQL's ``jsonb`` gives back as the same value, of the same type.

    ``jsonb`` keeps numbers as ``numeric``, which prints without an exponent: ``1e300`` as
    written by ``json.dumps`` would come back as an integer of 301 digits. Written out in
    positional notation with a fraction part, a float comes back as the very same float; a
    float of 2**53 or more is written as its exact (integer) value (see :func:`_numeric`).
    """
    if isinstance(value, float):
        return _positional(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{jsonb_text(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(jsonb_text(v) for v in value) + "]"
    return json.dumps(value)


def _document(engine: Engine, data: dict[str, Any]) -> ColumnElement[Any]:
    """A record's fields as a value of the ``data`` column."""
    if engine.dialect.name == "postgresql":
        return sa.cast(sa.literal(jsonb_text(data), sa.Text()), JSONB())
    return sa.literal(data, Document())


class Document(sa.types.TypeDecorator[dict[str, Any]]):
    """A record's fields: JSONB on PostgreSQL, canonical JSON text (JSON1) on SQLite."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value  # JSONB serializes
        return canonical_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.loads(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # psycopg parses JSONB itself: nothing left to call for each row read.
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


metadata = sa.MetaData()

records = sa.Table(
    "records",
    metadata,
    sa.Column("parent_id", sa.Text(), primary_key=True),
    sa.Column("collection_id", sa.Text(), primary_key=True),
    # Code point order, as the memory backend sorts ids.
    sa.Column("id", bytewise_text(), primary_key=True),
    # The fields but the id and last_modified; {deleted_field: true} for a tombstone.
    sa.Column("data", Document(), nullable=False),
    sa.Column("last_modified", sa.BigInteger(), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Serves _since/_before (records and tombstones) and tombstone purges.
    sa.Index(
        "idx_records_parent_id_collection_id_last_modified",
        "parent_id",
        "collection_id",
        "last_modified",
    ),
    # Serves the default order (newest first) of the live records, and their count.
    sa.Index(
        "idx_records_live_parent_id_collection_id_last_modified",
        "parent_id",
        "collection_id",
        "last_modified",
        postgresql_where=sa.text("NOT deleted"),
        sqlite_where=sa.text("deleted = 0"),
    ),
    # Equality filters on fields (data @> ...), on PostgreSQL only.
    sa.Index(
        "idx_records_data_jsonb_path_ops",
        "data",
        postgresql_using="gin",
        postgresql_ops={"data": "jsonb_path_ops"},
    ).ddl_if(dialect="postgresql"),
)

# Each collection's number of live records, kept by triggers on the records table (see the
# revision storage_0002): an unfiltered count reads one row.
record_counts = sa.Table(
    "record_counts",
    metadata,
    sa.Column("parent_id", sa.Text(), primary_key=True),
    sa.Column("collection_id", sa.Text(), primary_key=True),
    sa.Column("live_records", sa.BigInteger(), nullable=False),
)

# Each collection's current timestamp: survives purges, stays put while empty.
timestamps = sa.Table(
    "timestamps",
    metadata,
    sa.Column("parent_id", sa.Text(), primary_key=True),
    sa.Column("collection_id", sa.Text(), primary_key=True),
    sa.Column("last_modified", sa.BigInteger(), nullable=False),
    # What last_modified was before the last bump (revision storage_0003): RETURNING gives
    # the row as updated, so the bump that reserves a writer's timestamp tells it the one it
    # replaced through this column. Read by nobody but the transaction that set it.
    sa.Column("previous", sa.BigInteger(), nullable=True),
)


def in_collection(key: Key) -> ColumnElement[bool]:
    collection_id, parent_id = key
    return sa.and_(records.c.parent_id == parent_id, records.c.collection_id == collection_id)


def live(key: Key) -> ColumnElement[bool]:
    return sa.and_(in_collection(key), sa.not_(records.c.deleted))


# The columns a query reads (id, data, last_modified): the records table's, or a subquery's.
RecordColumns = ReadOnlyColumnCollection[str, Any]


_PYTHON_RANKS: tuple[tuple[type | tuple[type, ...], int], ...] = (
    (type(None), NULL),
    (bool, BOOLEAN),  # before int, its base class
    ((int, float), NUMBER),
    (str, STRING),
    ((list, tuple), ARRAY),
    (dict, OBJECT),
)


def _rank_of(value: Any) -> int:
    return next((rank for types, rank in _PYTHON_RANKS if isinstance(value, types)), OTHER)


class _Field:
    """One field of the records as the database sees it: a rank and typed values."""

    #: The rank as a SQL expression (NULL when the field is missing), or a constant.
    rank: ColumnElement[Any] | int
    #: The database's dialect: how LIKE folds case, how big numbers compare.
    dialect_name: str
    #: A declared field, whose rank and typed values have indexes (cliquet.storage.sql_indexes).
    indexed = False

    def typed(self, rank: int) -> ColumnElement[Any] | None:
        """The value when it has this rank (else SQL NULL); None when it never has it."""
        raise NotImplementedError

    def bound(self, rank: int, value: Any) -> Bound:
        """``value`` (of that rank) as a parameter: its SQL type and the value bound.

        Plain Python (no SQL expression): it runs again for each statement of a shape
        already built (see :class:`_Binder`).
        """
        raise NotImplementedError

    def wrap(self, rank: int, parameter: ColumnElement[Any]) -> ColumnElement[Any]:
        """The parameter of :meth:`bound` as a SQL value comparable with :meth:`typed`."""
        return parameter

    def literal(self, rank: int, value: Any) -> ColumnElement[Any]:
        """``value`` (of that rank) as a SQL value comparable with :meth:`typed`."""
        type_, bound = self.bound(rank, value)
        return self.wrap(rank, sa.bindparam(None, bound, type_=type_))

    def like_text(self) -> ColumnElement[Any] | None:
        return self.typed(STRING)

    def contained(self, value: Any, bind: _Binder) -> ColumnElement[bool] | None:
        """A condition that the field equal to ``value`` implies, answered by an index.

        Added to an equality so that the database reads only the records it may match
        (the equality itself still decides); None when there is no such index.
        """
        return None

    def contained_in(self, values: Sequence[Any], bind: _Binder) -> ColumnElement[bool] | None:
        """A condition that the field being one of ``values`` implies, answered by an index
        (as :meth:`contained` for an equality); None when there is no such index."""
        return None

    def like(self, bind: _Binder) -> ColumnElement[Any] | None:
        """The field (a string) matches the filter's pattern; None when it is never a string."""
        text = self.like_text()
        if text is None:
            return None
        if self.dialect_name == "sqlite":
            # SQLite's LIKE folds ASCII letters only: Python decides, as for memory.
            function = getattr(sa.func, SQLITE_LIKE)
            pattern = bind(lambda raw: (_TEXT, raw))
            return function(text, pattern, type_=sa.Boolean())
        # Typed as the text, as a plain string compared with it would be.
        text_type = text.type
        return text.ilike(bind(lambda raw: (text_type, _like_pattern(raw))), escape="\\")

    def equal_number(self, value: Any) -> Any:
        """The number to test equality with: ``value``, or None when none can equal it.

        Not ``value`` only on SQLite, for an integer beyond 64 bits (see :func:`_sqlite_bound`).
        """
        if self.dialect_name == "sqlite" and _beyond_64_bits(value):
            nearest = _nearest_double(value)
            return nearest if nearest == value else None
        return value

    def number_bound(self, operator: COMPARISON, value: Any) -> tuple[COMPARISON, Any]:
        """An inequality with a number that selects what ``operator`` with ``value`` does.

        Not ``(operator, value)`` only on SQLite, for an integer beyond 64 bits.
        """
        if self.dialect_name == "sqlite" and _beyond_64_bits(value):
            return _sqlite_bound(operator, value)
        return operator, value

    def in_(
        self, rank: int, groups: Mapping[type, tuple[Any, list[Any]]], bind: _Binder
    ) -> ColumnElement[bool] | None:
        """The field (of that rank) is one of the values ``groups`` holds (see
        :func:`_in_groups`, by SQL type); None when it never has the rank.

        One parameter per SQL type, whatever the number of values (see :func:`_one_of`).
        """
        typed = self.typed(rank)
        if typed is None:
            return None
        dialect_name = self.dialect_name
        tests = []
        for type_key, (type_, _) in groups.items():

            def derive(raw: Any, type_key: type = type_key, type_: Any = type_) -> Bound:
                values = _in_groups(self, raw)[rank][type_key][1]
                return _one_of_bound(type_, values, dialect_name=dialect_name)

            tests.append(_one_of(typed, bind(derive), dialect_name=dialect_name))
        return tests[0] if len(tests) == 1 else sa.or_(*tests)


def _one_of_bound(type_: Any, values: list[Any], *, dialect_name: str) -> Bound:
    """The one parameter of :func:`_one_of`: an array (PostgreSQL), a JSON text (SQLite)."""
    if dialect_name == "postgresql":
        if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
            values = [Decimal(v) for v in values]  # exact; psycopg dumps one type per array
        return SQL_ARRAY(type_), values
    return _TEXT, json.dumps(values, ensure_ascii=False, allow_nan=False)


def _one_of(
    expression: ColumnElement[Any], values: BindParameter[Any], *, dialect_name: str
) -> ColumnElement[bool]:
    """``expression IN values`` with one parameter (see :func:`_one_of_bound`): a PostgreSQL
    array (``= ANY``), a JSON array on SQLite (``IN (SELECT value FROM json_each(...))``).

    The statement's text then never depends on how many values a client sends. Caches keyed
    by that text (SQLAlchemy's compiled statements, psycopg's last 100 queries of each
    connection, the sqlite3 module's 128 prepared statements of each connection) kept one
    entry per length of list, megabytes each for lists of thousands of values: a process
    grew by gigabytes under lists of distinct lengths. SQLite reads the JSON numbers with
    the parser that reads the stored documents (``json_extract``): they compare as those do.
    """
    if dialect_name == "postgresql":
        return expression == sa.any_(values)
    items = sa.func.json_each(values).table_valued("value")
    return expression.in_(sa.select(items.c.value))


class _Column(_Field):
    """A real, indexed column (``id``, ``last_modified``): never missing, of one rank."""

    def __init__(self, column: ColumnElement[Any], rank: int, *, dialect_name: str) -> None:
        self.column = column
        self.rank = rank
        self.dialect_name = dialect_name

    def typed(self, rank: int) -> ColumnElement[Any] | None:
        return self.column if rank == self.rank else None

    def bound(self, rank: int, value: Any) -> Bound:
        if rank == STRING:
            return _TEXT, value
        if isinstance(value, float) and value.is_integer() and abs(value) < _INT64:
            value = int(value)  # so that the comparison stays on the column's index
        if isinstance(value, int) and -_INT64 <= value < _INT64:
            return _BIGINT, value
        return (_NUMERIC if isinstance(value, int) else _FLOAT), value


class _JSONPath(_Field):
    """A path into the JSON document, typed by the database's name for each value's type."""

    TYPES: tuple[tuple[str, ...], ...]

    def __init__(self, type_name: ColumnElement[str]) -> None:
        self.type = type_name
        ranks = {name: rank for rank, names in enumerate(self.TYPES) for name in names}
        self.rank = sa.case(ranks, value=type_name)

    def _when(self, *ranks: int, then: ColumnElement[Any]) -> ColumnElement[Any]:
        # CASE, so that a cast or an extraction is never tried on a value of another type.
        names = [name for rank in ranks for name in self.TYPES[rank]]
        return sa.case((_one_of_constants(self.type, names), then))


class _PostgreSQLPath(_JSONPath):
    """A path into the JSONB document; ``->`` with text keys only descends into objects."""

    TYPES = _POSTGRESQL_TYPES
    dialect_name = "postgresql"

    def __init__(self, data: ColumnElement[Any], parts: Sequence[str]) -> None:
        self.data: ColumnElement[Any] = sa.type_coerce(data, JSONB)
        self.parts = tuple(parts)
        value: ColumnElement[Any] = self.data
        for part in parts:
            value = value.op("->", return_type=JSONB())(sa.literal(part, sa.Text()))
        self.value = value
        super().__init__(sa.func.jsonb_typeof(value, type_=sa.Text()))

    def contained(self, value: Any, bind: _Binder) -> ColumnElement[bool] | None:
        """``data @> '{"a": {"b": value}}'``, which the GIN index (``jsonb_path_ops``) of the
        records' data answers: only the records it finds are compared exactly.

        Implied by the equality: the path descends into objects only, as ``->`` does, and
        ``jsonb`` compares numbers by value (``1`` contains ``1.0``) and strings byte by
        byte. Scalars only: arrays and objects contain more than what equals them, and an
        empty one would make the index scan all of itself.
        """
        if _rank_of(value) not in (NULL, BOOLEAN, NUMBER, STRING):
            return None
        parts = self.parts

        def derive(raw: Any) -> Bound:
            document = raw
            for part in reversed(parts):
                document = {part: document}
            return _TEXT, jsonb_text(document)

        pattern = sa.cast(bind(derive), JSONB())
        return self.data.op("@>", return_type=sa.Boolean())(pattern)

    def contained_in(self, values: Sequence[Any], bind: _Binder) -> ColumnElement[bool] | None:
        """``data @? 'strict $."a"."b" ? (@ == 1 || @ == "x")'``, which the GIN index of the
        records' data answers (``jsonb_path_ops`` serves ``@?`` as it serves ``@>``).

        The path is one parameter, so that the statement's text never depends on the values
        (see :func:`_one_of`). Implied by the ``IN``: strict mode never looks into arrays,
        ``==`` compares numbers by value and strings byte by byte, and descends into objects
        only, as ``->`` does. Scalars only, as :meth:`contained` (None when any value is an
        array or an object, or when no value could be held).
        """
        parts = self.parts
        if _jsonpath_one_of(parts, values) is None:
            return None
        pattern = sa.cast(bind(lambda raw: (_TEXT, _jsonpath_one_of(parts, raw))), JSONPATH())
        return self.data.op("@?", return_type=sa.Boolean())(pattern)

    def typed(self, rank: int) -> ColumnElement[Any] | None:
        if rank == BOOLEAN:
            return self._when(BOOLEAN, then=sa.cast(self.value, sa.Boolean()))
        if rank == NUMBER:
            return self._when(NUMBER, then=sa.cast(self.value, sa.Numeric()))
        if rank == STRING:
            return sa.collate(self.like_text(), "C")  # code point order, as Python's
        if rank in (ARRAY, OBJECT):
            return self._when(ARRAY, OBJECT, then=self.value)
        return None

    def like_text(self) -> ColumnElement[Any]:
        # Without COLLATE "C", so that ILIKE folds the case of any letter, not only ASCII.
        text = self.value.op("#>>", return_type=sa.Text())(sa.literal_column("'{}'"))
        return self._when(STRING, then=text)

    def bound(self, rank: int, value: Any) -> Bound:
        if rank == BOOLEAN:
            return _BOOLEAN, value
        if rank == NUMBER:
            # Exact, as Python compares ints with floats: no float8 rounding of big ints,
            # and a float as the data holds it (see _numeric).
            return _NUMERIC, (_numeric(value) if isinstance(value, float) else value)
        if rank == STRING:
            return _TEXT, value
        return _TEXT, jsonb_text(value)

    def wrap(self, rank: int, parameter: ColumnElement[Any]) -> ColumnElement[Any]:
        if rank in (ARRAY, OBJECT):
            return sa.cast(parameter, JSONB())
        return parameter

    def in_(
        self, rank: int, groups: Mapping[type, tuple[Any, list[Any]]], bind: _Binder
    ) -> ColumnElement[bool] | None:
        if rank not in (ARRAY, OBJECT):
            return super().in_(rank, groups, bind)

        # jsonb values: one text[] parameter cast to jsonb[] (see _Field.in_); their texts
        # are what bound() gives, all of one type.
        def derive(raw: Any) -> Bound:
            (_, texts), *_ = _in_groups(self, raw)[rank].values()
            return SQL_ARRAY(sa.Text()), texts

        return self._when(ARRAY, OBJECT, then=self.value) == sa.any_(
            sa.cast(bind(derive), SQL_ARRAY(JSONB()))
        )


def _jsonpath_one_of(parts: Sequence[str], values: Sequence[Any]) -> str | None:
    """A strict jsonpath selecting the documents whose field at ``parts`` is one of the
    scalar ``values``; None when one is not a scalar or none could be held.

    Values no ``jsonb`` holds (a text with NUL, an infinite float) are left out: they equal
    no record's value.
    """
    literals: dict[str, None] = {}
    for value in values:
        if _rank_of(value) not in (NULL, BOOLEAN, NUMBER, STRING):
            return None
        if (isinstance(value, str) and "\x00" in value) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            continue
        literals[jsonb_text(value)] = None
    if not literals:
        return None
    path = "".join(f".{json.dumps(part)}" for part in parts)
    return f"strict ${path} ? ({' || '.join(f'@ == {v}' for v in literals)})"


class _SQLitePath(_JSONPath):
    """A path into the JSON text, read with ``json_type``/``json_extract`` (JSON1)."""

    TYPES = _SQLITE_TYPES
    dialect_name = "sqlite"

    def __init__(self, data: ColumnElement[Any], parts: Sequence[str]) -> None:
        # Quoted labels only address object members, whatever the key holds ("0", "a.b"...);
        # SQLite cannot quote a key containing a double quote: such a field reads as missing.
        path = sa.literal("$" + "".join(f'."{part}"' for part in parts), sa.Text())
        self.value = sa.func.json_extract(data, path)
        super().__init__(sa.func.json_type(data, path, type_=sa.Text()))

    def typed(self, rank: int) -> ColumnElement[Any] | None:
        if rank == BOOLEAN:
            return sa.case({"true": 1, "false": 0}, value=self.type)
        if rank in (NUMBER, STRING):
            return self._when(rank, then=self.value)
        if rank in (ARRAY, OBJECT):
            return self._when(ARRAY, OBJECT, then=self.value)  # compact JSON text
        return None

    def bound(self, rank: int, value: Any) -> Bound:
        if rank == BOOLEAN:
            return _INTEGER, int(value)
        if rank == NUMBER:
            # 64-bit int or float (see _Field.number_bound), typed as SQLAlchemy types them.
            return (_FLOAT if isinstance(value, float) else _INTEGER), value
        if rank == STRING:
            return _TEXT, value
        return _TEXT, canonical_json(value)


def _one_of_constants(
    expression: ColumnElement[Any], constants: Sequence[str | int]
) -> ColumnElement[bool]:
    """``expression IN (...)`` of constants of the code (type names, ranks) written into the
    text, as a statement compiled with its values written in shows them (the indexes of
    cliquet.storage.sql_indexes): a list parameter would be rendered at each execution."""
    written: list[ColumnElement[Any]] = [
        sa.literal_column(str(c) if isinstance(c, int) else "'" + c.replace("'", "''") + "'")
        for c in constants
    ]
    return expression.in_(written)


def _beyond_64_bits(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64


def _nearest_double(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _sqlite_bound(operator: COMPARISON, value: int) -> tuple[COMPARISON, float]:
    """An inequality with a double that selects the numbers SQLite holds as one with ``value``.

    SQLite holds 64-bit integers and doubles, and compares them with each other exactly; an
    integer beyond 64 bits would be bound as the nearest double, and ``x > 2**64 - 1`` would
    then miss ``float(2**64)``. No SQLite number lies strictly between such an integer and
    its neighbouring doubles, so "above it" is "at least the double next above it" (and
    likewise below). An integer a double equals is that double.
    """
    nearest = _nearest_double(value)
    if nearest == value:
        return operator, nearest
    if nearest < value:
        below, above = nearest, math.nextafter(nearest, math.inf)
    else:
        below, above = math.nextafter(nearest, -math.inf), nearest
    if operator in (COMPARISON.LT, COMPARISON.MAX):
        return COMPARISON.MAX, below
    return COMPARISON.MIN, above


def _like_pattern(pattern: str) -> str:
    if "*" not in pattern:
        pattern = f"*{pattern}*"
    escaped = (
        part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for part in pattern.split("*")
    )
    return "%".join(escaped)


def _constant(value: bool) -> ColumnElement[bool]:
    return sa.true() if value else sa.false()


def _rank_test(field: _Field, operator: str, rank: int) -> ColumnElement[bool]:
    """``field.rank <operator> rank``, folded to a constant for a column."""
    compare = {"<": op.lt, ">": op.gt, "==": op.eq}[operator]
    if isinstance(field.rank, int):
        return _constant(compare(field.rank, rank))
    result: ColumnElement[bool] = compare(field.rank, rank)
    return result


def _never_null(field: _Field, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    # A missing field makes JSON conditions NULL; NOT NULL would be NULL too, not true.
    if isinstance(field.rank, int):
        return condition
    return sa.func.coalesce(condition, sa.false(), type_=sa.Boolean())


class RecordQueries:
    """Builds the conditions and sort keys of one call over some record columns.

    Fields named like the call's ``id_field`` and ``modified_field`` are the real columns, so
    that their filters and sorts use the indexes; any other field is a dotted path into the
    JSON document.
    """

    def __init__(
        self,
        dialect_name: str,
        columns: RecordColumns,
        *,
        id_field: str,
        modified_field: str,
        indexed_fields: frozenset[str] = frozenset(),
    ) -> None:
        self._path = _PostgreSQLPath if dialect_name == "postgresql" else _SQLitePath
        self._indexed_fields = indexed_fields
        self._dialect_name = "postgresql" if dialect_name == "postgresql" else "sqlite"
        self._columns = columns
        self._id_field = id_field
        self._modified_field = modified_field

    def _field(self, parts: Sequence[str]) -> _Field:
        if len(parts) == 1 and parts[0] == self._id_field:
            return _Column(self._columns.id, STRING, dialect_name=self._dialect_name)
        if len(parts) == 1 and parts[0] == self._modified_field:
            return _Column(self._columns.last_modified, NUMBER, dialect_name=self._dialect_name)
        dotted = ".".join(parts)
        postgresql = self._dialect_name == "postgresql"
        if postgresql and dotted in self._indexed_fields and self._columns.data is records.c.data:
            from cliquet.storage.sql_indexes import indexed_field  # (it builds on this module)

            return indexed_field(self._dialect_name, dotted)
        return self._path(self._columns.data, parts)

    def filter(self, condition: Filter, bind: _Binder | None = None) -> ColumnElement[bool]:
        """The SQL form of :func:`cliquet.storage.selection.matches`.

        :param bind: makes the parameters of the filter's values (anonymous by default);
            each filter of a statement is built in the order of :meth:`Selection.statement`.
        """
        bind = _Binder() if bind is None else bind
        field = self._field(condition.field.split("."))
        bind.next(condition.value)
        return _condition(field, condition.operator, condition.value, bind)

    def all_of(
        self, filters: Sequence[Filter] | None, bind: _Binder | None = None
    ) -> list[ColumnElement[bool]]:
        bind = _Binder() if bind is None else bind
        return [self.filter(f, bind) for f in filters or ()]

    def any_of(
        self, rules: Sequence[Sequence[Filter]] | None, bind: _Binder | None = None
    ) -> ColumnElement[bool] | None:
        """Pagination rules: a record is kept when all filters of any rule match."""
        if not rules:
            return None
        bind = _Binder() if bind is None else bind
        return sa.or_(*(sa.and_(*self.all_of(rule, bind)) for rule in rules))

    def equals(self, top_level_field: str, value: Any) -> ColumnElement[bool]:
        """Equality on a top-level field (dots included), as unique fields are checked."""
        bind = _Binder()
        bind.next(value)
        return _condition(self._field([top_level_field]), COMPARISON.EQ, value, bind)

    def order_by(self, sorting: Sequence[Sort]) -> list[ColumnElement[Any]]:
        """Sort keys, then newest first and the id, as the memory backend's stable sorts.

        A key on ``last_modified`` or the id, unique in a collection, ends the keys: what
        follows could not change the order, and the order is then one an index of the
        records (collection, ``last_modified``) or their primary key serves at any depth.
        """
        keys: list[ColumnElement[Any]] = []
        for rule in sorting:
            field = self._field(rule.field.split("."))
            if isinstance(field, _Column):
                keys.append(field.column.asc() if rule.direction == 1 else field.column.desc())
                return keys
            assert not isinstance(field.rank, int)
            # Missing sorts as null; within a rank, only that rank's typed value is set.
            parts: list[ColumnElement[Any]] = [sa.func.coalesce(field.rank, NULL)]
            typed = (field.typed(r) for r in (BOOLEAN, NUMBER, STRING, ARRAY))
            parts += [t for t in typed if t is not None]
            keys += [part.asc() if rule.direction == 1 else part.desc() for part in parts]
        keys += [self._columns.last_modified.desc()]
        return keys


def _condition(
    field: _Field, operator: COMPARISON, value: Any, bind: _Binder
) -> ColumnElement[bool]:
    """The condition of a filter; its values are ``bind``'s parameters (see :class:`_Binder`).

    What it builds depends on the filter's value only through :func:`shape_of`'s kinds.
    """
    if operator is COMPARISON.HAS:
        present = _never_null(field, _rank_test(field, ">", NULL))
        return present if value else sa.not_(present)
    if operator is COMPARISON.LIKE:
        test = field.like(bind)
        if test is None:
            return sa.false()
        return _indexed(field, test)
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        found = _never_null(field, _in(field, value, bind))
        if operator is COMPARISON.EXCLUDE:
            return sa.not_(found)
        contained = field.contained_in(value, bind)
        return found if contained is None else sa.and_(contained, found)
    equal = _never_null(field, _equal(field, value, bind))
    if operator is COMPARISON.EQ:
        contained = field.contained(value, bind)
        return equal if contained is None else sa.and_(contained, equal)
    if operator is COMPARISON.NOT:
        return sa.not_(equal)
    return _indexed(field, _inequality(field, operator, value, bind))


def _indexed(field: _Field, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition``, never NULL; for a declared field, also bare: an index answers it as
    written, not within ``COALESCE`` (and NULL or false, a record is not kept either way)."""
    exact = _never_null(field, condition)
    return sa.and_(condition, exact) if field.indexed else exact


def _equal(field: _Field, value: Any, bind: _Binder) -> ColumnElement[bool]:
    rank = _rank_of(value)
    if rank in (NULL, OTHER):
        return _rank_test(field, "==", rank)
    typed = field.typed(rank)
    if typed is None:
        return sa.false()
    if rank == NUMBER:
        if field.equal_number(value) is None:
            return sa.false()
        literal = bind(lambda raw: field.bound(NUMBER, field.equal_number(raw)))
    else:
        literal = bind(lambda raw: field.bound(rank, raw))
    # Each typed value is set only for its own rank: equal values imply equal ranks.
    return typed == field.wrap(rank, literal)


def _in_groups(field: _Field, values: Sequence[Any]) -> dict[int, _Groups]:
    """The values of an ``IN`` by rank, in the order they come, then by SQL type: ``{rank:
    {type's class: (type, bound values)}}`` (no type for nulls and other values)."""
    by_rank: dict[int, _Groups] = {}
    for value in values:
        rank = _rank_of(value)
        if rank == NUMBER:
            value = field.equal_number(value)
            if value is None:
                continue  # equal to no number the database holds
        by_type = by_rank.setdefault(rank, {})
        if rank not in (NULL, OTHER):
            type_, bound = field.bound(rank, value)
            by_type.setdefault(type(type_), (type_, []))[1].append(bound)
    return by_rank


def _in(field: _Field, values: Sequence[Any], bind: _Binder) -> ColumnElement[bool]:
    clauses = []
    for rank, groups in _in_groups(field, values).items():
        if rank in (NULL, OTHER):
            clauses.append(_rank_test(field, "==", rank))
        elif (found := field.in_(rank, groups, bind)) is not None:
            clauses.append(found)
    return sa.or_(sa.false(), *clauses)


def _inequality(
    field: _Field, operator: COMPARISON, value: Any, bind: _Binder
) -> ColumnElement[bool]:
    rank = _rank_of(value)
    below = operator in (COMPARISON.LT, COMPARISON.MAX)
    other_ranks = _rank_test(field, "<" if below else ">", rank)
    if field.indexed and not isinstance(field.rank, int):
        # As a list: SQLite would merge "rank < r OR rank = r AND ..." into "rank <= r".
        ranks = [r for r in range(NULL, OTHER) if (r < rank if below else r > rank)]
        other_ranks = _one_of_constants(field.rank, ranks) if ranks else sa.false()
    typed = field.typed(rank)
    if rank == NULL or typed is None:
        # Nulls are all equal; ranks no record value has are compared as ranks only.
        inclusive = operator in (COMPARISON.MIN, COMPARISON.MAX)
        same = _rank_test(field, "==", rank) if inclusive and rank == NULL else sa.false()
        return sa.or_(other_ranks, same)
    asked = operator
    if rank == NUMBER:
        operator = field.number_bound(asked, value)[0]
        parameter = bind(lambda raw: field.bound(NUMBER, field.number_bound(asked, raw)[1]))
    else:
        parameter = bind(lambda raw: field.bound(rank, raw))
    literal = field.wrap(rank, parameter)
    same_rank = {
        COMPARISON.LT: lambda: typed < literal,
        COMPARISON.MAX: lambda: typed <= literal,
        COMPARISON.GT: lambda: typed > literal,
        COMPARISON.MIN: lambda: typed >= literal,
    }[operator]()
    if field.indexed and not isinstance(field.rank, int):
        # "typed < v AND rank = r": a range of the index on (collection, rank, typed), where
        # the typed value alone, its second column, would be a scan of the collection's
        # entries; the rank second, so that a record the value rules out costs no more.
        same_rank = sa.and_(same_rank, _rank_test(field, "==", rank))
    return sa.or_(other_ranks, same_rank)


# Statements


class _greatest(expression.FunctionElement[int]):
    """``GREATEST(a, b, ...)``; SQLite spells it ``MAX(a, b, ...)`` (two arguments or more)."""

    type = sa.BigInteger()
    name = "greatest"
    inherit_cache = True


@compiles(_greatest)
def _compile_greatest(element: _greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(_greatest, "sqlite")
def _compile_greatest_sqlite(element: _greatest, compiler: Any, **kw: Any) -> str:
    return f"MAX({compiler.process(element.clauses, **kw)})"


def _now_ms() -> ColumnElement[int]:
    """The database's clock in epoch milliseconds: one clock for every worker."""
    return sa.cast(epoch_now() * 1000, sa.BigInteger())


def _stamp(value: int) -> ColumnElement[int]:
    return sa.literal(value, sa.BigInteger())


def _insert(
    engine: Engine, table: sa.Table, row: dict[str, Any], where: ColumnElement[bool] | None
) -> Any:
    """``INSERT INTO table SELECT row WHERE where``: an insert that may insert nothing."""
    values = sa.select(*row.values()).where(sa.true() if where is None else where)
    return upsert(engine, table).from_select(list(row), values)


def bump_statement(
    engine: Engine,
    key: Key,
    *,
    count: int = 1,
    wished: int | None = None,
    condition: ColumnElement[bool] | None = None,
) -> Any:
    """Reserve ``count`` timestamps for a collection; the statement returns the highest.

    An atomic upsert of the collection's timestamps row to ``max(now_ms, previous + count)``
    (or ``wished`` when above the previous one), which locks the row until the transaction
    ends. The common case (one timestamp, none wished) is :attr:`Statements.reserve`.

    :param condition: bump only if this holds, in the same statement; else no row returned.
    """
    collection_id, parent_id = key
    previous = timestamps.c.last_modified
    now = _now_ms()
    initial: ColumnElement[int]
    updated: ColumnElement[int]
    if wished is not None:
        initial = _stamp(wished)
        updated = sa.case((previous < wished, initial), else_=_greatest(now, previous + 1))
    else:
        initial = now + (count - 1) if count > 1 else now
        updated = _greatest(initial, previous + count)
    row = {
        "parent_id": sa.literal(parent_id, sa.Text()),
        "collection_id": sa.literal(collection_id, sa.Text()),
        "last_modified": initial,
    }
    insert = _insert(engine, timestamps, row, condition)
    return insert.on_conflict_do_update(
        index_elements=[timestamps.c.parent_id, timestamps.c.collection_id],
        set_={"last_modified": updated, "previous": previous},
    ).returning(previous)


def write_statement(
    engine: Engine,
    key: Key,
    object_id: str,
    data: dict[str, Any],
    stamp: int,
    *,
    guard: ColumnElement[bool] | None,
    replace_live: bool,
) -> Any:
    """Store a live record; the statement returns its id, or no row when not written.

    :param guard: write only if this holds (no unique value taken).
    :param replace_live: replace a live record with this id (else only a tombstone).
    """
    collection_id, parent_id = key
    row = {
        "parent_id": sa.literal(parent_id, sa.Text()),
        "collection_id": sa.literal(collection_id, sa.Text()),
        "id": sa.literal(object_id, sa.Text()),
        "data": _document(engine, data),
        "last_modified": _stamp(stamp),
        "deleted": sa.false(),
    }
    insert = _insert(engine, records, row, guard)
    return insert.on_conflict_do_update(
        index_elements=[records.c.parent_id, records.c.collection_id, records.c.id],
        set_={
            "data": insert.excluded.data,
            "last_modified": insert.excluded.last_modified,
            "deleted": sa.false(),
        },
        where=None if replace_live else records.c.deleted,
    ).returning(records.c.id)


def tombstones_statement(
    key: Key, stamps: Mapping[str, int], *, deleted_field: str, with_deleted: bool
) -> Any:
    """Turn live records into tombstones, each with its stamp; returns their ids."""
    # Padded to a power of two (repeating the last pair changes nothing): a few statement
    # texts whatever the number of records, as SQLAlchemy and the drivers cache one per text.
    items = list(stamps.items())
    items += items[-1:] * ((1 << (len(items) - 1).bit_length()) - len(items))
    where = sa.and_(live(key), records.c.id.in_([object_id for object_id, _ in items]))
    if not with_deleted:
        return sa.delete(records).where(where).returning(records.c.id)
    whens: list[Any] = [(i, _stamp(s)) for i, s in items]
    stamp = sa.case(*whens, value=records.c.id)
    return (
        sa.update(records)
        .where(where)
        .values(deleted=True, data={deleted_field: True}, last_modified=stamp)
        .returning(records.c.id)
    )


def _key_params() -> tuple[BindParameter[str], BindParameter[str]]:
    # Not named as columns: an UPDATE may not bind a column's name in its WHERE.
    return sa.bindparam("collection", type_=sa.Text()), sa.bindparam("parent", type_=sa.Text())


class Statements:
    """The statements of every call's common case, built once per storage.

    Values are bound parameters (``collection``, ``parent``, ``object_id``, ...), so
    each statement is one Python object whose cache key SQLAlchemy computes once and whose
    compiled form it then finds at once: no clause is rebuilt per call. Listings, counts and
    bulk deletes are kept by shape (:meth:`Selection.statement`); unique fields' checks are
    built by the functions above.
    """

    def __init__(self, engine: Engine) -> None:
        collection_id, parent_id = _key_params()
        key = sa.and_(
            timestamps.c.parent_id == parent_id, timestamps.c.collection_id == collection_id
        )
        record_key = sa.and_(
            records.c.parent_id == parent_id, records.c.collection_id == collection_id
        )
        now = _now_ms()
        previous = timestamps.c.last_modified
        new_row = {"parent_id": parent_id, "collection_id": collection_id}
        reserve = upsert(engine, timestamps).values(**new_row, last_modified=now, previous=None)
        #: Lock the collection, reserve its next timestamp, tell the one it replaced (NULL:
        #: the collection had none): ``(previous, last_modified)``, in one round trip.
        self.reserve = reserve.on_conflict_do_update(
            index_elements=[timestamps.c.parent_id, timestamps.c.collection_id],
            set_={"previous": previous, "last_modified": _greatest(now, previous + 1)},
        ).returning(timestamps.c.previous, timestamps.c.last_modified)
        #: Move the row of a collection this transaction locked (``from_stamp``) to
        #: ``to_stamp``: the last timestamp its writes took, or back before an unused one.
        self.move = (
            sa.update(timestamps)
            .where(key, timestamps.c.last_modified == sa.bindparam("from_stamp"))
            .values(last_modified=sa.bindparam("to_stamp"))
        )
        #: The collection's timestamp (no row: it has none yet).
        self.timestamp = sa.select(timestamps.c.last_modified).where(key)
        #: A first timestamp for a collection that has none; no row when one exists.
        self.create_timestamp = (
            upsert(engine, timestamps)
            .values(**new_row, last_modified=now)
            .on_conflict_do_nothing()
            .returning(timestamps.c.last_modified)
        )
        one_live = sa.and_(
            record_key,
            sa.not_(records.c.deleted),
            records.c.id == sa.bindparam("object_id", type_=sa.Text()),
        )
        #: One live record, by ``object_id``.
        self.get = sa.select(records.c.id, records.c.data, records.c.last_modified).where(one_live)
        #: Turn one live record (``object_id``) into a tombstone (``tombstone``: its data)
        #: dated ``stamp``; returns its id, or no row when it is not there.
        self.tombstone = (
            sa.update(records)
            .where(one_live)
            .values(
                deleted=True,
                data=sa.bindparam("tombstone", type_=Document()),
                last_modified=sa.bindparam("stamp", type_=sa.BigInteger()),
            )
            .returning(records.c.id)
        )
        #: Delete one live record, leaving no tombstone; returns its id, or no row.
        self.remove = sa.delete(records).where(one_live).returning(records.c.id)
        data: ColumnElement[Any]
        if engine.dialect.name == "postgresql":
            data = sa.cast(sa.bindparam("document", type_=sa.Text()), JSONB())
        else:
            data = sa.bindparam("document", type_=Document())
        insert = upsert(engine, records).values(
            **new_row,
            id=sa.bindparam("object_id", type_=sa.Text()),
            data=data,
            last_modified=sa.bindparam("stamp", type_=sa.BigInteger()),
            deleted=False,
        )
        excluded = insert.excluded
        replaced = {
            "data": excluded.data,
            "last_modified": excluded.last_modified,
            "deleted": sa.false(),
        }
        index = [records.c.parent_id, records.c.collection_id, records.c.id]
        #: Store a live record (over a tombstone of its id only); returns its id, or no row.
        self.create = insert.on_conflict_do_update(
            index_elements=index, set_=replaced, where=records.c.deleted
        ).returning(records.c.id)
        #: Store a live record over whatever has its id; returns its id.
        self.replace = insert.on_conflict_do_update(index_elements=index, set_=replaced).returning(
            records.c.id
        )
        self._postgresql = engine.dialect.name == "postgresql"

    def document(self, data: dict[str, Any]) -> Any:
        """The value of the ``document`` parameter of :attr:`create` and :attr:`replace`."""
        return jsonb_text(data) if self._postgresql else data


#: Operators whose filters a declared field's index serves, but whose matches' place in the
#: collection's order the planner cannot tell (see :attr:`Selection.planner_may_walk`).
_RANGE_OPERATORS = frozenset({COMPARISON.LT, COMPARISON.GT, COMPARISON.MIN, COMPARISON.MAX})

#: A page of a range on a declared field that the planner expects to match at most this many
#: records is found by filtering first, then sorting the matches (see
#: :attr:`Selection.planner_may_walk`): at most about this many records read and sorted.
FILTERED_FIRST_MATCHES = 50_000


class Explain(expression.Executable, expression.ClauseElement):
    """``EXPLAIN (FORMAT JSON) <statement>`` (PostgreSQL): its plan, as one JSON value."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def estimated_rows(plan: Any) -> float:
    """The planner's estimate of the rows of the statement of an :class:`Explain`."""
    return float(plan[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class Selection:
    """The records a ``get_all`` or ``delete_all`` call selects, and their order."""

    dialect_name: str
    key: Key
    _: KW_ONLY
    id_field: str
    modified_field: str
    filters: Sequence[Filter] | None = None
    sorting: Sequence[Sort] | None = None
    pagination_rules: Sequence[Sequence[Filter]] | None = None
    limit: int | None = None
    include_deleted: bool = False
    #: Where its small compiled statements are kept (see :attr:`execution_options`).
    compiled_cache: MutableMapping[Any, Any] | None = None
    #: The declared fields, whose filters read indexes (see cliquet.storage.sql_indexes).
    indexed_fields: frozenset[str] = frozenset()
    #: Where its small statements are kept by shape, a bounded LRU (see :meth:`statement`).
    statements: MutableMapping[Any, Any] | None = None

    @property
    def _small(self) -> bool:
        rules = self.pagination_rules or ()
        terms = len(self.filters or ()) + sum(len(r) for r in rules) + len(self.sorting or ())
        return terms <= _CACHED_TERMS

    @property
    def execution_options(self) -> dict[str, Any]:
        """How to run its statements: compiled once per shape only for small shapes.

        Their shape is the client's choice (filters, sorts, pages), and compiled statements
        are cached by shape: a fuzzer sending many large shapes filled the engine's cache
        with entries of megabytes. Small ones go to ``compiled_cache`` (a bounded LRU);
        large ones, rarer and costlier to keep than to compile again, are not kept.
        """
        if not self._small:
            return {"compiled_cache": None}
        if self.compiled_cache is not None:
            return {"compiled_cache": self.compiled_cache}
        return {}

    def _queries(self, columns: RecordColumns) -> RecordQueries:
        return RecordQueries(
            self.dialect_name,
            columns,
            id_field=self.id_field,
            modified_field=self.modified_field,
            indexed_fields=self.indexed_fields,
        )

    def statement(self, kind: str) -> tuple[Any, dict[str, Any]]:
        """A statement and its parameters: ``"listing"`` (``list_all``: rows ``(id, data,
        last_modified)`` of the page, in order), ``"ids"`` (the selected ids, in order) or
        ``"count"`` (``count_all``, see :meth:`_count`).

        Its values are parameters (the collection, the filters' values, the limit), so a
        small statement is built once per shape (the kind, the fields, operators and kinds
        of values of the filters and page rules, the sort, whether there is a limit: see
        :func:`shape_of`) and kept in :attr:`statements`; a request of a shape seen before
        builds no SQL expression, and SQLAlchemy finds its compiled form at once.
        """
        rules = self.pagination_rules or ()
        filters = [*(self.filters or ()), *(f for rule in rules for f in rule)]
        collection_id, parent_id = self.key
        params: dict[str, Any] = {"collection": collection_id, "parent": parent_id}
        if self.limit is not None:
            params["limit"] = self.limit
        cache = self.statements if self._small else None
        shape: Any = None
        if cache is not None:
            dialect_name = self.dialect_name
            shape = (
                kind,
                dialect_name,
                self.include_deleted,
                self.limit is None,
                self.id_field,
                self.modified_field,
                self.indexed_fields,
                shape_of(self.filters or (), dialect_name=dialect_name),
                tuple(shape_of(rule, dialect_name=dialect_name) for rule in rules),
                tuple((s.field, s.direction) for s in self.sorting or ()),
            )
            found = cache.get(shape)
            if found is not None:
                statement, slots = found
                for name, index, derive in slots:
                    params[name] = derive(filters[index].value)[1]
                return statement, params
        bind = _Binder(named=cache is not None)
        if kind == "count":
            statement = self._count(bind)
        elif kind == "estimate":
            where = sa.and_(*self._where(bind, include_deleted=self.include_deleted))
            statement = Explain(sa.select(records.c.id).where(where))
        else:
            columns = [records.c.id]
            if kind in ("listing", "filtered listing"):
                columns += [records.c.data, records.c.last_modified]
            statement = self._page(columns, bind, filtered_first=kind == "filtered listing")
        if cache is not None:
            cache[shape] = (statement, bind.slots)
        params.update(bind.values)
        return statement, params

    def _where(self, bind: _Binder, *, include_deleted: bool) -> list[ColumnElement[bool]]:
        """The collection (``collection`` and ``parent`` parameters), filters, page rules."""
        collection_id, parent_id = _key_params()
        where = [records.c.parent_id == parent_id, records.c.collection_id == collection_id]
        if not include_deleted:
            where.append(sa.not_(records.c.deleted))
        queries = self._queries(records.c)
        where += queries.all_of(self.filters, bind)  # first: the order of statement()'s
        rules = queries.any_of(self.pagination_rules, bind)
        return where if rules is None else [*where, rules]

    @property
    def planner_may_walk(self) -> bool:
        """Whether the planner may walk the whole collection in its order to find a page
        that a declared field's index finds at once.

        PostgreSQL's planner assumes that the matches of a filter spread evenly in the
        collection: for a page sorted by timestamp it walks the timestamp index until it has
        the page, which reads every newer record first when the matches of a range are the
        oldest records (a range on a field that grows with time: a number, a date). For a
        range (``min_``, ``max_``, ``lt_``, ``gt_``) on a declared field (whose expressions
        have statistics, see :mod:`cliquet.storage.sql_indexes`), ``list_all`` asks the
        planner how many records match (``"estimate"``): up to
        :data:`FILTERED_FIRST_MATCHES`, the matches are found first through the field's
        index, then sorted (``"filtered listing"``); more, and the walk finds a page soon.
        """
        if self.dialect_name != "postgresql" or self.limit is None or not self.indexed_fields:
            return False
        return any(
            f.field in self.indexed_fields and f.operator in _RANGE_OPERATORS
            for f in self.filters or ()
        )

    def _page(
        self, columns: list[Any], bind: _Binder, *, filtered_first: bool = False
    ) -> sa.Select[Any]:
        where = sa.and_(*self._where(bind, include_deleted=self.include_deleted))
        if filtered_first:
            # The matches first (a materialized CTE, which the planner cannot fold into a
            # walk of the timestamp index), then their order.
            found = sa.select(records.c.id, records.c.data, records.c.last_modified).where(where)
            matches = found.cte("matches").prefix_with("MATERIALIZED")
            page = sa.select(*(matches.c[column.name] for column in columns))
            order = self._queries(matches.c).order_by(self.sorting or ())
        else:
            page = sa.select(*columns).where(where)
            order = self._queries(records.c).order_by(self.sorting or ())
        page = page.order_by(*order)
        if self.limit is not None:
            page = page.limit(sa.bindparam("limit", type_=sa.Integer()))
        return page

    def _count(self, bind: _Binder) -> sa.Select[Any]:
        """The number of live records matching the filters.

        Without filters, the collection's row of ``record_counts`` (no row: 0), which costs
        the same whatever the collection holds; with filters, a count of the matches, which
        reads the records that the indexes cannot rule out.
        """
        if not self.filters:
            collection_id, parent_id = _key_params()
            kept = sa.select(record_counts.c.live_records).where(
                record_counts.c.parent_id == parent_id,
                record_counts.c.collection_id == collection_id,
            )
            return sa.select(sa.func.coalesce(kept.scalar_subquery(), 0))
        where = self._where(bind, include_deleted=False)
        return sa.select(sa.func.count()).select_from(records).where(sa.and_(*where))
