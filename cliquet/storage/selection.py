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
import heapq
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Reversible, Sequence, ValuesView
from typing import Any, Final, cast

from cliquet.storage import COMPARISON, DEFAULT_MODIFIED_FIELD, Filter, Sort

__all__ = [
    "MISSING",
    "OrderedParts",
    "compile_filter",
    "compile_filters",
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


Predicate = Callable[[dict[str, Any]], bool]

_COMPARE: Final = {
    COMPARISON.EQ: operator.eq,
    COMPARISON.NOT: operator.ne,
    COMPARISON.LT: operator.lt,
    COMPARISON.GT: operator.gt,
    COMPARISON.MIN: operator.ge,
    COMPARISON.MAX: operator.le,
}


def _getter(path: str) -> Callable[[dict[str, Any]], Any]:
    if "." in path:
        return lambda record: extract_field(record, path)
    return lambda record: record.get(path, MISSING)


def compile_filter(condition: Filter) -> Predicate:
    """A function telling whether a record satisfies ``condition`` (see :func:`matches`).

    What depends only on the filter (the key of its value, its pattern, its set) is worked
    out once, so that testing many records costs one call each.

    :param condition: the filter.
    :returns: a function of a record, ``True`` when the record is kept.
    """
    get, op, wanted = _getter(condition.field), condition.operator, condition.value
    if op is COMPARISON.HAS:
        return lambda record: (get(record) not in (MISSING, None)) is wanted
    negation = op in (COMPARISON.NOT, COMPARISON.EXCLUDE)
    if op is COMPARISON.LIKE:
        regex = _like_regex(wanted)

        def like_(record: dict[str, Any]) -> bool:
            value = get(record)
            return isinstance(value, str) and regex.fullmatch(value) is not None

        return like_
    if op in (COMPARISON.IN, COMPARISON.EXCLUDE):
        keys = frozenset(order_key(v) for v in wanted)

        def in_(record: dict[str, Any]) -> bool:
            value = get(record)
            if value is MISSING:
                return negation
            return (order_key(value) in keys) is not negation

        return in_
    if op is COMPARISON.EQ and isinstance(wanted, str) and "." not in condition.field:
        # Only a string equals a string (JSON has no other kind of text): one lookup.
        field = condition.field
        return lambda record: record.get(field, MISSING) == wanted
    compare, right = _COMPARE[op], order_key(wanted)
    # Values of the filter's own JSON type compare as they are; any other through their keys.
    kind = (int, float) if right[0] == _NUMBER else str if right[0] == _STRING else None

    def compare_(record: dict[str, Any]) -> bool:
        value = get(record)
        if value is MISSING:
            return negation
        if kind is not None and isinstance(value, kind) and not isinstance(value, bool):
            return bool(compare(value, wanted))
        return bool(compare(order_key(value), right))

    return compare_


def compile_filters(filters: Iterable[Filter] | None) -> Predicate:
    """A function telling whether a record satisfies every one of ``filters`` (none: it does).

    :param filters: the filters, all of which must hold.
    :returns: a function of a record.
    """
    tests = [compile_filter(f) for f in filters or ()]
    if not tests:
        return lambda record: True
    if len(tests) == 1:
        return tests[0]
    return lambda record: all(test(record) for test in tests)


def matches(record: dict[str, Any], condition: Filter) -> bool:
    """Whether ``record`` satisfies one filter (see :class:`~cliquet.storage.Filter`).

    :param record: the record.
    :param condition: the filter.
    :returns: ``True`` when the record is kept.
    """
    return compile_filter(condition)(record)


def matches_all(record: dict[str, Any], filters: Iterable[Filter] | None) -> bool:
    """Whether ``record`` satisfies every one of ``filters`` (none: it does).

    :param record: the record.
    :param filters: the filters, all of which must hold.
    :returns: ``True`` when the record is kept.
    """
    return compile_filters(filters)(record)


def _sort(records: list[dict[str, Any]], sorting: Sequence[Sort]) -> None:
    # Stable sorts applied from the least significant key give a multi-key order.
    for rule in reversed(sorting):

        def key(record: dict[str, Any], field: str = rule.field) -> tuple[Any, ...]:
            value = extract_field(record, field)
            return order_key(None if value is MISSING else value)

        records.sort(key=key, reverse=rule.direction == -1)


class _Range:
    """What filters on the modified field allow of its value, as tests that hold, then fail
    for good, as the walk goes one way: a conservative bound (a record it does not exclude
    may still fail its filters, which are checked too)."""

    def __init__(self, filters: Sequence[Filter], modified_field: str) -> None:
        self.empty = False
        self.lower: list[Callable[[int], bool]] = []
        self.upper: list[Callable[[int], bool]] = []
        for condition in filters:
            if condition.field != modified_field:
                continue
            value, op = condition.value, condition.operator
            if op is COMPARISON.HAS:
                # Every record of an ordered walk has an integer timestamp.
                self.empty = self.empty or value is False
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if op in (COMPARISON.GT, COMPARISON.MIN, COMPARISON.EQ):
                self.lower.append(functools.partial(_LOWER[op], value))
            if op in (COMPARISON.LT, COMPARISON.MAX, COMPARISON.EQ):
                self.upper.append(functools.partial(_UPPER[op], value))

    def above_lower(self, value: int) -> bool:
        return not self.empty and all(test(value) for test in self.lower)

    def below_upper(self, value: int) -> bool:
        return not self.empty and all(test(value) for test in self.upper)


# Bound tests, the filter's value first (functools.partial): value OP timestamp.
_LOWER: Final = {
    COMPARISON.GT: operator.lt,
    COMPARISON.MIN: operator.le,
    COMPARISON.EQ: operator.le,
}
_UPPER: Final = {
    COMPARISON.LT: operator.gt,
    COMPARISON.MAX: operator.ge,
    COMPARISON.EQ: operator.ge,
}


def _walk(
    records: Reversible[dict[str, Any]],
    descending: bool,
    keep: Predicate,
    filters: Sequence[Filter],
    pagination_rules: Sequence[Sequence[Filter]],
    limit: int | None,
    modified_field: str,
) -> list[dict[str, Any]]:
    """The page of records ordered by ``modified_field``, walked in that order: records the
    bounds exclude are passed over, the walk ends at the page's end or past the last
    timestamp the filters allow."""
    bound = _Range(filters, modified_field)
    rules = [_Range(rule, modified_field) for rule in pagination_rules]
    ahead, behind = (
        (bound.below_upper, bound.above_lower)
        if descending
        else (bound.above_lower, bound.below_upper)
    )
    if rules:
        # A record is passed over when no rule can still take it, the walk ends when none
        # ever will again.
        ahead_rules = [r.below_upper if descending else r.above_lower for r in rules]
        behind_rules = [r.above_lower if descending else r.below_upper for r in rules]
    selected: list[dict[str, Any]] = []
    if limit is not None and limit <= 0:
        return selected

    def started(stamp: int) -> bool:  # false, then true for good, along the walk
        return ahead(stamp) and (not rules or any(test(stamp) for test in ahead_rules))

    def bisected(records: list[dict[str, Any]] | ValuesView[dict[str, Any]]) -> Iterable[Any]:
        # Indexable (a dict's values, copied in one go): find where the walk starts by
        # bisection rather than by passing over every newer record of a deep page.
        sequence = list(records)
        low, high = 0, len(sequence)
        while low < high:
            middle = (low + high) // 2
            index = len(sequence) - 1 - middle if descending else middle
            if started(sequence[index][modified_field]):
                high = middle
            else:
                low = middle + 1
        return itertools.islice(reversed(sequence) if descending else sequence, low, None)

    walk: Iterable[dict[str, Any]] = reversed(records) if descending else records
    begun = False  # past the records the bounds pass over
    if isinstance(records, (list, ValuesView)):
        walk, begun = bisected(records), True
    elif isinstance(records, OrderedParts) and all(
        isinstance(part, (list, ValuesView)) for part in records.parts
    ):
        # Each part from its own start, merged from there.
        starts = [bisected(cast("list[dict[str, Any]]", part)) for part in records.parts]
        walk, begun = heapq.merge(*starts, key=records.stamp, reverse=descending), True
    # Whether some bound can end the walk before the collection's end.
    ends = bound.empty or bool(bound.lower if descending else bound.upper) or bool(rules)
    for record in walk:
        if ends or not begun:
            stamp = record[modified_field]
            if ends and (
                not behind(stamp) or (rules and not any(test(stamp) for test in behind_rules))
            ):
                break
            if not begun:
                if not started(stamp):
                    continue
                begun = True
        if keep(record):
            selected.append(record)
            if limit is not None and len(selected) >= limit:
                break
    return selected


class OrderedParts:
    """Sequences of records, each in increasing order of ``modified_field`` (a collection's
    records and its tombstones), as one reversible sequence in that order, for
    ``select(..., ordered=True)``; neither is copied, and a walk bisects each of them."""

    def __init__(self, parts: Sequence[Reversible[dict[str, Any]]], modified_field: str) -> None:
        self.parts, self.field = tuple(parts), modified_field

    def stamp(self, record: dict[str, Any]) -> Any:
        return record[self.field]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return heapq.merge(*self.parts, key=self.stamp)

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        parts = (reversed(part) for part in self.parts)
        return heapq.merge(*parts, key=self.stamp, reverse=True)


def select(
    records: Iterable[dict[str, Any]],
    *,
    filters: Sequence[Filter] | None = None,
    sorting: Sequence[Sort] | None = None,
    pagination_rules: Sequence[Sequence[Filter]] | None = None,
    limit: int | None = None,
    modified_field: str = DEFAULT_MODIFIED_FIELD,
    ordered: bool = False,
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
    :param ordered: ``records`` is a reversible sequence (a ``dict``'s values, a list) in
        increasing order of ``modified_field``, every record holding a distinct integer
        there, as a collection's timestamps are. A listing sorted by that field first (or
        not sorted) then walks it in order and stops at the page's end: its cost follows
        the page and the filters' selectivity, not the collection's size.
    :returns: the selected records (the same dicts), in order.
    """
    keep = compile_filters(filters)
    first = sorting[0] if sorting else Sort(modified_field, -1)
    if ordered and first.field == modified_field:
        return _walk(
            cast("Reversible[dict[str, Any]]", records),
            first.direction == -1,
            keep if not pagination_rules else _page_rules(keep, pagination_rules),
            filters or (),
            pagination_rules or (),
            limit,
            modified_field,
        )
    selected = [r for r in records if keep(r)] if filters else list(records)
    if not sorting or not any(rule.field == modified_field for rule in sorting):
        # Start newest first so that ties of an explicit sorting stay in a stable order
        # (needless when the sorting holds the timestamp, unique in a collection).
        _sort(selected, [Sort(modified_field, -1)])
    if sorting:
        _sort(selected, sorting)
    if pagination_rules:
        after = _page_rules(lambda record: True, pagination_rules)
        selected = [r for r in selected if after(r)]
    if limit is not None:
        selected = selected[:limit]
    return selected


def _page_rules(keep: Predicate, pagination_rules: Sequence[Sequence[Filter]]) -> Predicate:
    """``keep`` and any one of the pagination rules (an OR of ANDs)."""
    rules = [compile_filters(rule) for rule in pagination_rules]
    return lambda record: keep(record) and any(rule(record) for rule in rules)
