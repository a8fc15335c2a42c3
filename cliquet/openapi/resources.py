"""The operations of a resource: its collection and record endpoints, their bodies (the
colander schema as JSON Schema), the list parameters and the answers."""

from __future__ import annotations

import re
from typing import Any

from cliquet.json_schema import json_schema
from cliquet.openapi.components import (
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

__all__ = ["PERMISSIONS", "resource_schemas", "resource_operation", "resource_list_parameters"]

_FILTER_PREFIXES = ("", "min_", "max_", "lt_", "gt_", "not_", "in_", "exclude_", "like_", "has_")
_INTEGER_TEXT = "-?[0-9]+"
PERMISSIONS = {
    "type": "object",
    "properties": {
        action: {"type": "array", "items": {"type": "string"}} for action in ("read", "write")
    },
    "additionalProperties": False,
}
_JSON_PATCH_SCHEMA = {
    "type": "array",
    "description": "RFC 6902 operations on {data, permissions}.",
    "items": {
        "type": "object",
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
        "required": ["op", "path"],
    },
}


def _query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


# A field name as a querystring may give it (``querystring._FIELD``), dotted into objects.
_ANY_FIELD = r"[A-Za-z0-9_][A-Za-z0-9_-]*"


def _list_parameters(fields: list[str], *, open_schema: bool) -> list[dict[str, Any]]:
    """What ``cliquet.resource.querystring.parse_query`` reads, for these fields (any field
    of a schemaless resource may be sorted and filtered on: only the declared are listed)."""
    name = _ANY_FIELD if open_schema else "(?:" + "|".join(map(re.escape, fields)) + ")"
    name += r"(?:\.[A-Za-z0-9_-]+)*"
    sort = {"type": "string", "pattern": f"^[-+]?{name}(?:,[-+]?{name})*$"}
    shown = {"type": "string", "pattern": f"^{name}(?:,{name})*$"}
    since = {"type": "string", "pattern": f'^(?:{_INTEGER_TEXT}|"[0-9]+")$'}
    parameters = [
        _query_parameter("_limit", {"type": "integer", "minimum": 1}, "Page size (capped)."),
        _query_parameter("_sort", sort, "Fields, comma-separated; -field: descending."),
        _query_parameter("_fields", shown, "Fields to answer, comma-separated."),
        _query_parameter("_since", since, "Changes after this timestamp, tombstones included."),
        _query_parameter("_before", since, "Changes before this timestamp."),
        _query_parameter("_token", {"type": "string"}, "The page a Next-Page URL continues."),
        _query_parameter("_expected", {"type": "string"}, "Ignored (a cache-buster)."),
    ]
    for field in fields:
        for prefix in _FILTER_PREFIXES:
            parameters.append(_filter_parameter(prefix, field))
    return parameters


def _filter_parameter(prefix: str, field: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if prefix == "has_":
        schema = {"type": "string", "enum": ["true", "false", "1", "0"]}
    elif prefix in ("in_", "exclude_"):
        if field == "last_modified":
            schema = {"type": "string", "pattern": f"^{_INTEGER_TEXT}(,{_INTEGER_TEXT})*$"}
    elif field == "last_modified" and prefix != "like_":
        schema = {"type": "integer"}
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
    sent = json_schema(node)
    ids = {
        "id": {"type": "string", "pattern": id_pattern},
        "last_modified": {"type": "integer", "description": "Ignored: the server's."},
    }
    sent["properties"] = {**ids, **sent["properties"]}
    patch = json_schema(node, partial=True)
    patch["properties"] = {**ids, **patch["properties"]}
    record = _loose(sent)
    record["properties"]["deleted"] = {"const": True, "description": "On tombstones."}
    record["properties"]["last_modified"] = {"type": "integer"}
    record["required"] = ["id", "last_modified"]
    return {info.name: sent, f"{info.name}.patch": patch, f"{info.name}.record": record}


def _body(info: Any, data_schema: str, *, required: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {"data": ref(data_schema)}
    if info.shareable:
        properties["permissions"] = ref("Permissions")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required or not info.shareable:
        schema["required"] = ["data"]
    else:
        schema["minProperties"] = 1
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
        {"name": h, "in": "header", "schema": {"type": "string"}, "description": text}
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


def resource_list_parameters(info: Any) -> list[dict[str, Any]]:
    node = info.resource_cls.schema()
    fields = list(dict.fromkeys(["id", "last_modified", *(c.name for c in node.children)]))
    return _list_parameters(fields, open_schema=bool(node.get_option("preserve_unknown")))
