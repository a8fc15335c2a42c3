"""The operations of a resource: its collection and record endpoints, their bodies (the
colander schema as JSON Schema), the list parameters and the answers."""

from __future__ import annotations

import re
from typing import Any

from cliquet.json_schema import INTEGER, TEXT, json_schema
from cliquet.openapi.components import (
    ENTITY_TAGS,
    JSON,
    JSON_PATCH,
    MERGE_PATCH,
    PRECONDITIONS,
    TIMESTAMPED,
    error_responses,
    header_refs,
    json_response,
    ref,
)
from cliquet.resource.querystring import Limits
from cliquet.resource.schema import PermissionsSchema

__all__ = ["PERMISSIONS", "resource_schemas", "resource_operation", "resource_list_parameters"]

_FILTER_PREFIXES = ("", "min_", "max_", "lt_", "gt_", "not_", "in_", "exclude_", "like_", "has_")
# What is trimmed around each entry of ``_sort`` and ``_fields``.
_SPACE = "[ \\t]*"
_VALUE = ref("Value")
# As ``cliquet.resource.schema.PermissionsSchema`` reads them: lists of principals.
_PRINCIPAL = json_schema(PermissionsSchema().children[0].children[0])
PERMISSIONS = {
    "type": "object",
    "properties": {action: {"type": "array", "items": _PRINCIPAL} for action in ("read", "write")},
    "additionalProperties": False,
}
_JSON_PATCH_SCHEMA = {
    "type": "array",
    "description": "RFC 6902 operations on {data, permissions}.",
    "items": {
        "type": "object",
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": TEXT,
            "from": TEXT,
            "value": _VALUE,
        },
        "required": ["op", "path"],
    },
}


def _up_to(bound: str) -> str:
    """A regular expression of the decimal numbers of ``len(bound)`` digits up to ``bound``."""
    choices = []
    for i, digit in enumerate(bound):
        if digit != "0":
            lower = "0" if i else "1"
            if int(digit) - 1 >= int(lower):
                rest = len(bound) - i - 1
                choices.append(f"{bound[:i]}[{lower}-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(bound)
    return "|".join(choices)


# A JSON integer (no leading zero) within the signed 64-bit range, as the querystring reads
# it (``cliquet.resource.querystring``), with or without its sign.
_MAX = str(2**63 - 1)
_NATURAL = f"(?:0|[1-9][0-9]{{0,{len(_MAX) - 2}}}|{_up_to(_MAX)})"
_INTEGER_TEXT = f"(?:{_NATURAL}|-(?:0|[1-9][0-9]{{0,{len(_MAX) - 2}}}|{_up_to(str(2**63))}))"


def _query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


# A field name as a querystring may give it (``querystring._FIELD``), dotted into objects.
_ANY_FIELD = r"[A-Za-z0-9_][A-Za-z0-9_-]*"


def _list_parameters(
    fields: list[str], *, open_schema: bool, limits: Limits
) -> list[dict[str, Any]]:
    """What ``cliquet.resource.querystring.parse_query`` reads, for these fields (any field
    of a schemaless resource may be sorted and filtered on: only the declared are listed)."""
    # Dotted into a field's objects, but for id and last_modified (never objects).
    declared = [f for f in fields if f not in ("id", "last_modified")]
    nested = r"(?:\.[A-Za-z0-9_-]+)*"
    name = _ANY_FIELD if open_schema else "(?:" + "|".join(map(re.escape, declared)) + ")"
    name = f"(?:id|last_modified|{name}{nested})"
    key = f"{_SPACE}[-+]?{name}{_SPACE}"
    more = limits.sort_fields - 1
    sort = {"type": "string", "pattern": f"^{key}(?:,{key}){{0,{more}}}$"}
    shown = f"{_SPACE}(?:{name})?{_SPACE}"
    since = {"type": "string", "pattern": f'^(?:{_INTEGER_TEXT}|"{_NATURAL}")$'}
    limit = {**INTEGER, "minimum": 1}
    parameters = [
        _query_parameter("_limit", limit, "Page size (capped)."),
        _query_parameter("_sort", sort, "Fields, comma-separated; -field: descending."),
        _query_parameter(
            "_fields",
            {"type": "string", "pattern": f"^{shown}(?:,{shown})*$"},
            "Fields to answer, comma-separated.",
        ),
        _query_parameter("_since", since, "Changes after this timestamp, tombstones included."),
        _query_parameter("_before", since, "Changes before this timestamp."),
        _query_parameter("_token", TEXT, "The page a Next-Page URL continues."),
        _query_parameter("_expected", TEXT, "Ignored (a cache-buster)."),
    ]
    for field in fields:
        for prefix in _FILTER_PREFIXES:
            parameters.append(_filter_parameter(prefix, field, limits))
    return parameters


def _filter_parameter(prefix: str, field: str, limits: Limits) -> dict[str, Any]:
    schema: dict[str, Any] = TEXT
    more = limits.in_values - 1
    if prefix == "has_":
        schema = {"type": "string", "enum": ["true", "false", "1", "0"]}
    elif prefix in ("in_", "exclude_"):
        value = _INTEGER_TEXT if field == "last_modified" else "[^,\\x00]*"
        schema = {"type": "string", "pattern": f"^{value}(?:,{value}){{0,{more}}}$"}
    elif field == "last_modified" and prefix != "like_":
        schema = INTEGER
    what = {
        "": "equal to",
        "min_": "at least",
        "max_": "at most",
        "lt_": "less than",
        "gt_": "greater than",
        "not_": "other than",
        "in_": "one of (comma-separated)",
        "exclude_": "none of (comma-separated)",
        "like_": "matching (* is any text)",
        "has_": "present (true) or absent (false)",
    }[prefix]
    return _query_parameter(f"{prefix}{field}", schema, f"Records whose {field} is {what}.")


def _loose(schema: Any) -> Any:
    """What an answer may hold of a record: partial (``_fields``), and fields an older schema
    kept are still read."""
    if isinstance(schema, dict):
        loose = {k: _loose(v) for k, v in schema.items() if k != "required"}
        if "additionalProperties" in loose:
            loose["additionalProperties"] = True
        return loose
    if isinstance(schema, list):
        return [_loose(v) for v in schema]
    return schema


def resource_schemas(info: Any, id_pattern: str) -> dict[str, Any]:
    """The component schemas of one resource: what is sent (``<name>``, ``<name>.patch``)
    and what is answered (``<name>.record``)."""
    node = info.resource_cls.schema()
    sent = json_schema(node, any_value=_VALUE)
    # A record as it was read may be sent back: its id is the URL's (if any), its timestamp
    # is ignored; null is absent.
    ids = {
        "id": {"type": ["string", "null"], "pattern": id_pattern},
        "last_modified": {
            **INTEGER,
            "type": ["integer", "null"],
            "description": "Ignored: the server's.",
        },
    }
    sent["properties"] = {**ids, **sent["properties"]}
    patch = json_schema(node, partial=True, any_value=_VALUE)
    # A PATCH ignores the id it is sent (the URL says which record).
    ignored_id = {**_VALUE, "description": "Ignored: the URL's."}
    patch["properties"] = {**ids, "id": ignored_id, **patch["properties"]}
    record = _loose(sent)
    record["properties"]["deleted"] = {"const": True, "description": "On tombstones."}
    record["properties"]["id"] = {"type": "string", "pattern": id_pattern}
    record["properties"]["last_modified"] = {"type": "integer"}
    record["required"] = ["id", "last_modified"]
    return {info.name: sent, f"{info.name}.patch": patch, f"{info.name}.record": record}


def _body(info: Any, data_schema: str, *, required: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {"data": ref(data_schema)}
    if info.shareable:
        # null: none given (a PATCH's null empties them all).
        properties["permissions"] = {"anyOf": [ref("Permissions"), {"type": "null"}]}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required or not info.shareable:
        schema["required"] = ["data"]
    else:
        # Changes: the data, or permissions that are not null (none given).
        schema["anyOf"] = [
            {"required": ["data"]},
            {"required": ["permissions"], "properties": {"permissions": {"type": "object"}}},
        ]
    return schema


def _answer(info: Any, many: bool) -> dict[str, Any]:
    record = ref(f"{info.name}.record")
    properties: dict[str, Any] = {"data": {"type": "array", "items": record} if many else record}
    if info.shareable and not many:
        properties["permissions"] = ref("Permissions")
    return {"type": "object", "properties": properties, "required": ["data"]}


def resource_operation(info: Any, kind: str, method: str) -> dict[str, Any]:
    """The operation of a resource's collection or record endpoint for ``method``."""
    name = info.name
    parameters: list[dict[str, Any]] = [
        {"name": h, "in": "header", "schema": ENTITY_TAGS, "description": text}
        for h, text in PRECONDITIONS.items()
    ]
    many = kind == "collection" and method != "POST"
    if method in ("GET", "HEAD") or many:
        # Lists (and a collection's DELETE) read the whole querystring, a record `_fields`.
        parameters += [
            {"$ref": f"#/components/parameters/{name}.{p['name']}"}
            for p in resource_list_parameters(info)
            if many or p["name"] == "_fields"
        ]
    headers: tuple[str, ...] = TIMESTAMPED
    if many and method == "GET":
        headers += ("Next-Page",)
    if many and method == "HEAD":  # the count is paid for only there
        headers += ("Total-Records",)
    ok = json_response("The records." if many else "The record.", _answer(info, many), *headers)
    responses: dict[str, Any] = {"200": ok}
    operation: dict[str, Any] = {"tags": [name], "parameters": parameters}
    if method in ("GET", "HEAD"):
        responses["304"] = {
            "description": "Not modified (If-None-Match).",
            "headers": header_refs(*TIMESTAMPED),
        }
    if method == "HEAD":
        del ok["content"]
    if method in ("POST", "PUT"):
        responses["201"] = {**ok, "description": "Created."}
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _body(info, name)}},
        }
    if method == "PATCH":
        changes = {"schema": _body(info, f"{name}.patch", required=False)}
        operation["requestBody"] = {
            "required": True,
            "content": {
                JSON: changes,
                MERGE_PATCH: changes,
                JSON_PATCH: {"schema": _JSON_PATCH_SCHEMA},
            },
        }
    responses.update(error_responses(writes=True))
    operation["responses"] = responses
    return operation


def resource_list_parameters(info: Any, limits: Limits | None = None) -> list[dict[str, Any]]:
    node = info.resource_cls.schema()
    fields = list(dict.fromkeys(["id", "last_modified", *(c.name for c in node.children)]))
    return _list_parameters(
        fields, open_schema=bool(node.get_option("preserve_unknown")), limits=limits or Limits()
    )
