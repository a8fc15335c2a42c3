"""What a listing selects, in Python: the reference semantics of filters, sorting and paging.

:meth:`cliquet.storage.StorageBase.get_all` specifies which records a :class:`Filter` keeps,
how a :class:`Sort` orders them and how pagination rules cut a page; this module is that
specification as code, over plain ``dict`` records. The memory and Redis backends select with
it, and so may any backend that filters in Python (a key-value store that can only hand back a
whole collection): ``cliquet new backend --kind storage`` generates one that does. Backends
that filter in their database (SQL) translate the same rules and the conformance suite
(:class:`cliquet.testing.storage.StorageTest`) holds every backend to them.

The rules, in short:

- JSON values compare in one total order over types, null < booleans < numbers < strings <
  arrays < objects (:func:`order_key`), so that a filter never fails on a value of another
  type; within a type the natural order applies, numbers compared exactly (``2**64`` equals
  ``float(2**64)``, ``2**64 + 1`` does not) and strings by code point.
- A record missing a field matches only ``NOT``, ``EXCLUDE`` and ``HAS false``, and sorts as
  if the field were null.
- ``LIKE`` matches strings only, ``*`` being any run of characters, a pattern without ``*``
  meaning "contains", letters compared without case in any script (``HÉLLO`` is ``héllo``),
  accents kept (``é`` is not ``e``): :func:`like`.
- Without a sort on the modified field, records start newest first, so that records tied by
  the sort keys keep one stable order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cliquet.storage import COMPARISON, DEFAULT_MODIFIED_FIELD, Filter, Sort

__all__ = [
    "MISSING",
    "extract_field",
    "like",
    "matches",
    "matches_all",
    "order_key",
    "select",
]


class _Missing:
    """The type of :data:`MISSING`."""

    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`extract_field` returns for a field a record does not have (unlike ``None``,
#: which is a JSON null the record holds).
MISSING: Final = _Missing()

# Rank of each JSON type in the total order used to compare values of different types.
_NULL, _BOOL, _NUMBER, _STRING, _ARRAY, _OBJECT = range(6)

# Compiled LIKE patterns kept: a service's listings use a few patterns again and again.
_CACHED_PATTERNS = 256


def order_key(value: Any) -> tuple[Any, ...]:
    """A sort key of a JSON value: null < booleans < numbers < strings < arrays < objects.

    Within a type the natural order applies (arrays element-wise, objects by sorted items).
    Keys are hashable and equal only for equal JSON values, so ``1 == 1.0`` but ``1 != True``:
    compare keys, never raw values, to test two JSON values for equality as filters do.

    :param value: any JSON value (a value of another type ranks last, by its text).
    :returns: a tuple to compare or hash.
    """
    if value is None:
        return (_NULL,)
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, (int, float)):
        return (_NUMBER, value)
    if isinstance(value, str):
        return (_STRING, value)
    if isinstance(value, (list, tuple)):
        return (_ARRAY, tuple(order_key(v) for v in value))
    if isinstance(value, dict):
        return (_OBJECT, tuple(sorted((str(k), order_key(v)) for k, v in value.items())))
    # Not JSON: rank it last, compared by text, rather than failing a listing.
    return (_OBJECT + 1, str(value))


def extract_field(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``record`` (``author.name``), or :data:`MISSING`.

    Each part of the path names a member of an object; a path through a value that is not
    an object is missing.

    :param record: the record.
    :param path: field names joined by dots.
    :returns: the value, which may be ``None`` (a null), or :data:`MISSING`.
    """
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


@functools.lru_cache(maxsize=_CACHED_PATTERNS)
def _like_regex(pattern: str) -> re.Pattern[str]:
    if "*" not in pattern:
        pattern = f"*{pattern}*"
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def like(value: str, pattern: str) -> bool:
    """Whether the string ``value`` matches the ``LIKE`` ``pattern`` of a :class:`Filter`.

    ``*`` matches any run of characters (newlines too); a pattern without ``*`` matches the
    strings containing it. Case is ignored for every letter with a case, in any script, by
    Unicode's case-insensitive matching (Python's ``re.IGNORECASE``); nothing else is folded.

    :param value: the string to test.
    :param pattern: the filter's value.
    :returns: ``True`` when it matches.
    """
    return _like_regex(pattern).fullmatch(value) is not None


def matches(record: dict[str, Any], condition: Filter) -> bool:
    """Whether ``record`` satisfies one filter (see :class:`~cliquet.storage.Filter`).

    :param record: the record.
    :param condition: the filter.
    :returns: ``True`` when the record is kept.
    """
    value = extract_field(record, condition.field)
    operator = condition.operator
    if operator is COMPARISON.HAS:
        present = value is not MISSING and value is not None
        return present is condition.value
    if value is MISSING:
        return operator in (COMPARISON.NOT, COMPARISON.EXCLUDE)
    if operator is COMPARISON.LIKE:
        return isinstance(value, str) and like(value, condition.value)
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        found = order_key(value) in {order_key(v) for v in condition.value}
        return found if operator is COMPARISON.IN else not found
    left, right = order_key(value), order_key(condition.value)
    if operator is COMPARISON.EQ:
        return left == right
    if operator is COMPARISON.NOT:
        return left != right
    if operator is COMPARISON.LT:
        return left < right
    if operator is COMPARISON.GT:
        return left > right
    if operator is COMPARISON.MIN:
        return left >= right
    return left <= right  # COMPARISON.MAX


def matches_all(record: dict[str, Any], filters: Iterable[Filter] | None) -> bool:
    """Whether ``record`` satisfies every one of ``filters`` (none: it does).

    :param record: the record.
    :param filters: the filters, all of which must hold.
    :returns: ``True`` when the record is kept.
    """
    return all(matches(record, f) for f in filters or ())


def _sort(records: list[dict[str, Any]], sorting: Sequence[Sort]) -> None:
    # Stable sorts applied from the least significant key give a multi-key order.
    for rule in reversed(sorting):

        def key(record: dict[str, Any], field: str = rule.field) -> tuple[Any, ...]:
            value = extract_field(record, field)
            return order_key(None if value is MISSING else value)

        records.sort(key=key, reverse=rule.direction == -1)


def select(
    records: Iterable[dict[str, Any]],
    *,
    filters: Sequence[Filter] | None = None,
    sorting: Sequence[Sort] | None = None,
    pagination_rules: Sequence[Sequence[Filter]] | None = None,
    limit: int | None = None,
    modified_field: str = DEFAULT_MODIFIED_FIELD,
) -> list[dict[str, Any]]:
    """Filter, sort, paginate and limit records as :meth:`StorageBase.get_all` specifies.

    :param records: the candidates: a collection's live records, with its tombstones for a
        listing that includes them. They are neither copied nor changed.
    :param filters: conditions that must all hold.
    :param sorting: sort keys, most significant first; records tied on them (or all, without
        any) are ordered newest first by ``modified_field``.
    :param pagination_rules: where the previous page ended: a record is kept when all the
        filters of any one rule hold (an OR of ANDs).
    :param limit: at most this many records.
    :param modified_field: the field holding each record's timestamp.
    :returns: the selected records (the same dicts), in order.
    """
    selected = [r for r in records if matches_all(r, filters)] if filters else list(records)
    if not sorting or not any(rule.field == modified_field for rule in sorting):
        # Start newest first so that ties of an explicit sorting stay in a stable order
        # (needless when the sorting holds the timestamp, unique in a collection).
        _sort(selected, [Sort(modified_field, -1)])
    if sorting:
        _sort(selected, sorting)
    if pagination_rules:
        selected = [r for r in selected if any(matches_all(r, rule) for rule in pagination_rules)]
    if limit is not None:
        selected = selected[:limit]
    return selected
