"""Reading a collection's querystring: filters, sorting, limit, sync bounds and page tokens.

Every bad value is refused (400 errno 107 naming the parameter), never ignored nor left to
fail deeper down. Page tokens carry the sort values of the last record served (keyset
pagination: a page costs the same whatever its depth, and concurrent inserts neither shift
nor repeat records) and are signed for the user and the query that made them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cliquet.errors import raise_invalid
from cliquet.storage import COMPARISON, Filter, Sort
from cliquet.utils import json_value

__all__ = [
    "Query",
    "parse_query",
    "build_pagination_rules",
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
# jQuery's cache-buster; harmless.
_IGNORED = {"_"}

_MISSING = object()


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
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _check_field(name: str, param: str, known: Any) -> None:
    if not _FIELD.match(name):
        raise_invalid(location="querystring", name=param, description="Invalid field name.")
    if known is not None and name not in ("id", "last_modified") and not known(name):
        raise_invalid(location="querystring", name=param, description=f"Unknown field {name!r}.")


def _json(raw: str) -> Any:
    """``raw`` read as JSON, where it parses as strict JSON; else the text itself.

    ``NaN`` and ``Infinity`` are not JSON (Python's parser accepts them): they stay text, so
    that no backend is handed a number it cannot store or compare.
    """
    value = json_value(raw)
    if isinstance(value, float) and not math.isfinite(value):
        return raw
    return value


def _integer(param: str, raw: str) -> int:
    value = _json(raw)
    if isinstance(value, bool) or not isinstance(value, int):
        raise_invalid(location="querystring", name=param, description="Must be an integer.")
    return value


def _filter_value(param: str, name: str, operator: COMPARISON, raw: str) -> Any:
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        values = [_json(v) for v in raw.split(",")]
        if name == "last_modified":
            return [_integer(param, str(v)) for v in values]
        return values
    if operator is COMPARISON.HAS:
        value = _json(raw)
        if value in (0, 1) and not isinstance(value, bool):
            value = bool(value)
        if not isinstance(value, bool):
            raise_invalid(location="querystring", name=param, description="Must be a boolean.")
        return value
    if operator is COMPARISON.LIKE:
        return raw
    if name == "last_modified":
        return _integer(param, raw)
    return _json(raw)


def _parse_sort(raw: str, known: Any) -> list[Sort]:
    sorting = []
    for entry in raw.split(","):
        entry = entry.strip()
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
) -> Query:
    """Turn a collection's querystring into storage terms.

    :param params: the querystring (``request.GET``).
    :param known_field: ``callable(name) -> bool``; filters and sorts on other fields are
        refused. ``None`` accepts every field.
    :param max_limit: largest page size (``_limit`` is capped to it).
    :param default_limit: page size when ``_limit`` is absent (``max_limit`` if None).
    :raises pyramid.httpexceptions.HTTPBadRequest: a parameter is invalid (errno 107).
    """
    query = Query()
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
        query.filters.append(Filter(name, _filter_value(param, name, operator, raw), operator))

    for param, operator in (("_since", COMPARISON.GT), ("_before", COMPARISON.LT)):
        if param in params:
            query.filters.append(Filter("last_modified", _integer(param, params[param]), operator))
            query.include_deleted = True

    query.sorting = _parse_sort(params["_sort"], known_field) if "_sort" in params else []
    if not any(s.field == "last_modified" for s in query.sorting):
        # Timestamps are unique in a collection: a total order, and a default one.
        query.sorting.append(Sort("last_modified", -1))

    limit = default_limit or max_limit
    if "_limit" in params:
        requested = _integer("_limit", params["_limit"])
        if requested < 1:
            raise_invalid(location="querystring", name="_limit", description="Must be >= 1.")
        limit = requested
    query.limit = min(limit, max_limit)

    if "_fields" in params:
        names = [n.strip() for n in params["_fields"].split(",") if n.strip()]
        for name in names:
            _check_field(name, "_fields", known_field)
        query.fields = names
    query.token = params.get("_token")
    return query


def build_pagination_rules(
    sorting: Sequence[Sort], last_record: Mapping[str, Any]
) -> list[list[Filter]]:
    """Filters (OR of ANDs) selecting what comes strictly after ``last_record`` in ``sorting``.

    Missing and null values sort first, as the storage orders them.
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
    return rules


def _signature(secret: str, scope: str, data: str) -> str:
    message = f"{scope}\n{data}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def query_scope(params: Mapping[str, str], userid: str | None, collection: str) -> str:
    """What a token is valid for: the user, the collection and the query (not its page)."""
    kept = sorted((k, v) for k, v in params.items() if k not in ("_token", "_limit", "_fields"))
    return json.dumps([userid, collection, kept])


def encode_token(secret: str, scope: str, last_record: Mapping[str, Any]) -> str:
    data = json.dumps(dict(last_record), sort_keys=True, separators=(",", ":"))
    encoded = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
    return f"{encoded}.{_signature(secret, scope, data)}"


def decode_token(secret: str, scope: str, token: str) -> dict[str, Any]:
    """The last record's sort values; 400 errno 107 if the token is forged or foreign."""
    try:
        encoded, signature = token.split(".")
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        if not hmac.compare_digest(signature, _signature(secret, scope, data)):
            raise ValueError("bad signature")
        last_record = json.loads(data)
        if not isinstance(last_record, dict):
            raise ValueError("not an object")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise_invalid(
            location="querystring", name="_token", description="Invalid or expired token."
        )
    return last_record
