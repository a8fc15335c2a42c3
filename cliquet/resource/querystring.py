"""Reading a collection's querystring: filters, sorting, limit, sync bounds and page tokens.

Every bad value is refused (400 errno 107 naming the parameter), never ignored nor left to
fail deeper down. Page tokens carry the sort values of the last record served (keyset
pagination: a page costs the same whatever its depth) and the first page's timestamp (later
pages leave out what was written since, so that nothing comes twice), and are signed for the
user and the query that made them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from cliquet.errors import raise_invalid
from cliquet.json_body import InvalidJSON, text_problem
from cliquet.storage import COMPARISON, Filter, Sort, selection
from cliquet.utils import json_value

__all__ = [
    "Query",
    "Limits",
    "request_params",
    "undecodable_parameter",
    "parse_query",
    "build_pagination_rules",
    "PageToken",
    "encode_token",
    "decode_token",
    "extract_field",
]

_FIELD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")

_PREFIXES = (
    ("min_", COMPARISON.MIN),
    ("max_", COMPARISON.MAX),
    ("lt_", COMPARISON.LT),
    ("gt_", COMPARISON.GT),
    ("in_", COMPARISON.IN),
    ("not_", COMPARISON.NOT),
    ("exclude_", COMPARISON.EXCLUDE),
    ("has_", COMPARISON.HAS),
    ("like_", COMPARISON.LIKE),
)

_RESERVED = {"_limit", "_sort", "_token", "_since", "_before", "_fields"}
# Cache-busters, harmless: jQuery's, and the one Kinto's JavaScript client sends.
_IGNORED = {"_", "_expected"}
# A sync bound as an ETag quotes it (``_since="123"``, copied from the header).
_QUOTED_TIMESTAMP = re.compile(r'"([0-9]+)"')

_MISSING = object()
_HAS_VALUES = {"true": True, "false": False, "1": True, "0": False}
# What is trimmed around each entry of ``_sort`` and ``_fields``: spaces (``+``) and tabs.
_OWS = " \t"

# What a storage backend compares exactly (SQLite's and PostgreSQL's BIGINT).
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Limits:
    """The most a querystring may ask of one request (settings ``cliquet.max_*``).

    Each filter, sort key and ``in_`` value adds to the one statement a listing runs, and
    pagination rules grow with the square of the sort keys: unbounded, one cheap request
    costs seconds of database time.
    """

    filters: int = 50
    sort_fields: int = 10
    in_values: int = 500

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        return cls(
            filters=settings["cliquet.max_filters"],
            sort_fields=settings["cliquet.max_sort_fields"],
            in_values=settings["cliquet.max_in_values"],
        )


def undecodable_parameter(query_string: str) -> str | None:
    """The first parameter whose value is not UTF-8 once percent-decoded (None: its name)."""
    pairs = parse_qsl(query_string, keep_blank_values=True, errors="surrogateescape")
    for name, value in pairs:
        if text_problem(name):
            return None
        if text_problem(value):
            return name
    return None


def request_params(request: Any) -> Mapping[str, str]:
    """``request.GET``; 400 errno 107 naming the parameter that is not UTF-8."""
    try:
        return request.GET  # type: ignore[no-any-return]
    except UnicodeDecodeError:
        raise_invalid(
            location="querystring",
            name=undecodable_parameter(request.query_string),
            description="Not valid UTF-8 once percent-decoded.",
        )


@dataclass
class Query:
    """What a collection request asks for."""

    filters: list[Filter] = field(default_factory=list)
    sorting: list[Sort] = field(default_factory=list)
    limit: int | None = None
    token: str | None = None
    fields: list[str] | None = None
    include_deleted: bool = False


def extract_field(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path``, or None when missing (missing sorts as null)."""
    value = selection.extract_field(dict(record), path)
    return None if value is selection.MISSING else value


def _check_field(name: str, param: str, known: Any) -> None:
    if not _FIELD.match(name):
        raise_invalid(location="querystring", name=param, description="Invalid field name.")
    if known is not None and name not in ("id", "last_modified") and not known(name):
        raise_invalid(location="querystring", name=param, description=f"Unknown field {name!r}.")


def _json(param: str, raw: str) -> Any:
    """``raw`` read as JSON where it is JSON (``NaN`` is not: it stays text), else the text.

    JSON holding what bodies may not hold (an integer past 64 bits, ``1e400``, a lone
    surrogate escaped) is refused as it would be in a body: no backend is handed a value it
    cannot store or compare.
    """
    try:
        return json_value(raw)
    except InvalidJSON as e:
        raise_invalid(location="querystring", name=param, description=e.description)


def _integer(param: str, raw: str) -> int:
    value = _json(param, raw)
    if isinstance(value, bool) or not isinstance(value, int):
        raise_invalid(location="querystring", name=param, description="Must be an integer.")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise_invalid(
            location="querystring", name=param, description="Out of the signed 64-bit range."
        )
    return value


def _sync_bound(param: str, raw: str) -> int:
    """``_since`` / ``_before``: a timestamp, bare (``123``) or quoted as an ETag (``"123"``)."""
    quoted = _QUOTED_TIMESTAMP.fullmatch(raw)
    if quoted is None and raw.startswith('"'):
        raise_invalid(
            location="querystring",
            name=param,
            description='Must be an integer, or one quoted as an ETag ("123").',
        )
    return _integer(param, quoted.group(1) if quoted else raw)


def _filter_value(
    param: str, name: str, operator: COMPARISON, raw: str, limits: Limits
) -> Any:
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        texts = raw.split(",")
        if len(texts) > limits.in_values:
            raise_invalid(
                location="querystring",
                name=param,
                description=f"More than {limits.in_values} values.",
            )
        if name == "last_modified":
            return [_integer(param, v) for v in texts]
        return [_json(param, v) for v in texts]
    if operator is COMPARISON.HAS:
        # As /__api__ says: these four texts (``1.0`` or ``-0`` equal 1 and 0, and are no
        # booleans).
        if raw not in _HAS_VALUES:
            raise_invalid(location="querystring", name=param, description="Must be a boolean.")
        return _HAS_VALUES[raw]
    if operator is COMPARISON.LIKE:
        return raw
    if name == "last_modified":
        return _integer(param, raw)
    return _json(param, raw)


def _parse_sort(raw: str, known: Any, limits: Limits) -> list[Sort]:
    sorting = []
    entries = raw.split(",")
    if len(entries) > limits.sort_fields:
        raise_invalid(
            location="querystring",
            name="_sort",
            description=f"More than {limits.sort_fields} sort fields.",
        )
    for entry in entries:
        entry = entry.strip(_OWS)
        direction = -1 if entry.startswith("-") else 1
        # One sign at most: "--title" is malformed, not "-title".
        name = entry[1:] if entry[:1] in ("-", "+") else entry
        if not name:
            raise_invalid(location="querystring", name="_sort", description="Empty sort field.")
        _check_field(name, "_sort", known)
        sorting.append(Sort(name, direction))
    return sorting


def parse_query(
    params: Mapping[str, str],
    *,
    known_field: Any = None,
    max_limit: int,
    default_limit: int | None = None,
    limits: Limits | None = None,
) -> Query:
    """Turn a collection's querystring into storage terms.

    :param params: the querystring (``request.GET``).
    :param known_field: ``callable(name) -> bool``; filters and sorts on other fields are
        refused. ``None`` accepts every field.
    :param max_limit: largest page size (``_limit`` is capped to it).
    :param default_limit: page size when ``_limit`` is absent (``max_limit`` if None).
    :param limits: most filters, sort fields and ``in_`` values (:class:`Limits` defaults).
    :raises pyramid.httpexceptions.HTTPBadRequest: a parameter is invalid (errno 107).
    """
    limits = limits or Limits()
    query = Query()
    for param, raw in params.items():
        problem = text_problem(param) or text_problem(raw)
        if problem:
            name = param if not text_problem(param) else None
            raise_invalid(location="querystring", name=name, description=problem)
    for param, raw in params.items():
        if param in _IGNORED:
            continue
        if param.startswith("_"):
            if param not in _RESERVED:
                raise_invalid(location="querystring", name=param, description="Unknown parameter.")
            continue
        operator = COMPARISON.EQ
        name = param
        for prefix, prefix_operator in _PREFIXES:
            if param.startswith(prefix):
                operator, name = prefix_operator, param[len(prefix) :]
                break
        _check_field(name, param, known_field)
        if len(query.filters) == limits.filters:
            raise_invalid(
                location="querystring",
                name=param,
                description=f"More than {limits.filters} filters.",
            )
        value = _filter_value(param, name, operator, raw, limits)
        query.filters.append(Filter(name, value, operator))

    for param, operator in (("_since", COMPARISON.GT), ("_before", COMPARISON.LT)):
        if param in params:
            bound = _sync_bound(param, params[param])
            query.filters.append(Filter("last_modified", bound, operator))
            query.include_deleted = True

    if "_sort" in params:
        query.sorting = _parse_sort(params["_sort"], known_field, limits)
    else:
        query.sorting = [Sort("last_modified", -1)]
    if not any(s.field in ("id", "last_modified") for s in query.sorting):
        # Ties broken by what no write changes (timestamps, also unique, move on each write):
        # editing a record keeps its place, so a walk's cursor stays where it was.
        query.sorting.append(Sort("id", 1))

    limit = default_limit or max_limit
    if "_limit" in params:
        requested = _integer("_limit", params["_limit"])
        if requested < 1:
            raise_invalid(location="querystring", name="_limit", description="Must be >= 1.")
        limit = requested
    query.limit = min(limit, max_limit)

    if "_fields" in params:
        names = [n.strip(_OWS) for n in params["_fields"].split(",") if n.strip(_OWS)]
        for name in names:
            _check_field(name, "_fields", known_field)
        query.fields = names
    query.token = params.get("_token")
    return query


def build_pagination_rules(
    sorting: Sequence[Sort], last_record: Mapping[str, Any], *, until: int | None = None
) -> list[list[Filter]]:
    """Filters (OR of ANDs) selecting what comes strictly after ``last_record`` in ``sorting``.

    Missing and null values sort first, as the storage orders them. With ``until`` (the
    walk's first timestamp), records written since are left out: a write may have moved
    one from before the cursor to after it, and it must not come twice.
    """
    rules: list[list[Filter]] = []
    for i, sort in enumerate(sorting):
        same: list[Filter] = []
        for previous in sorting[:i]:
            value = last_record.get(previous.field)
            if value is None:
                same.append(Filter(previous.field, False, COMPARISON.HAS))
            else:
                same.append(Filter(previous.field, value, COMPARISON.EQ))
        value = last_record.get(sort.field)
        if sort.direction == 1:
            if value is None:
                rules.append([*same, Filter(sort.field, True, COMPARISON.HAS)])
            else:
                rules.append([*same, Filter(sort.field, value, COMPARISON.GT)])
        elif value is not None:
            rules.append([*same, Filter(sort.field, value, COMPARISON.LT)])
            rules.append([*same, Filter(sort.field, False, COMPARISON.HAS)])
    if until is not None:
        bound = Filter("last_modified", until, COMPARISON.MAX)
        rules = [[*rule, bound] for rule in rules]
    return rules


def _signature(secret: str, scope: str, data: str) -> str:
    message = f"{scope}\n{data}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def query_scope(params: Mapping[str, str], userid: str | None, collection: str) -> str:
    """What a token is valid for: the user, the collection and the query (not its page)."""
    kept = sorted((k, v) for k, v in params.items() if k not in ("_token", "_limit", "_fields"))
    return json.dumps([userid, collection, kept])


@dataclass(frozen=True)
class PageToken:
    """Where a walk is: the sort values of the last record served (``last_record``), and
    the collection timestamp its first page answered (``until``, that page's ETag)."""

    last_record: dict[str, Any]
    until: int


def encode_token(secret: str, scope: str, page: PageToken) -> str:
    payload = {"last": page.last_record, "until": page.until}
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    encoded = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
    return f"{encoded}.{_signature(secret, scope, data)}"


def decode_token(secret: str, scope: str, token: str) -> PageToken:
    """The walk a token continues; 400 errno 107 if the token is forged or foreign."""
    try:
        encoded, signature = token.split(".")
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        if not hmac.compare_digest(signature, _signature(secret, scope, data)):
            raise ValueError("bad signature")
        payload = json.loads(data)
        last, until = payload["last"], payload["until"]
        if not isinstance(last, dict) or type(until) is not int:
            raise ValueError("not a page token")
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise_invalid(
            location="querystring", name="_token", description="Invalid or expired token."
        )
    return PageToken(last, until)
