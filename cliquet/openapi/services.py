"""The operations of the Cornice services that are not resources: the service views, the
batch and extensions' endpoints."""

from __future__ import annotations

import re
from typing import Any

import colander

from cliquet.json_schema import json_schema
from cliquet.openapi.components import JSON, error_responses, json_response, ref

__all__ = ["cornice_operation"]

_ANY_OBJECT = {"type": "object"}
_SERVICE_ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "hello": ("The service, its settings and capabilities, the user.", _ANY_OBJECT),
    "heartbeat": (
        "Each backend's health (503 when one fails).",
        {"type": "object", "additionalProperties": {"type": "boolean"}},
    ),
    "lbheartbeat": ("Always {} while the process serves.", _ANY_OBJECT),
    "version": ("The deployed version.", _ANY_OBJECT),
    "openapi": ("This document.", _ANY_OBJECT),
}
# A percent-encoded byte sequence that is UTF-8 (RFC 3629 section 4): what the batch
# decodes a subrequest's path and query with.
_HEX = "[0-9A-Fa-f]"
_TAIL = f"%[89ABab]{_HEX}"
_UTF8 = "|".join(
    [
        f"%[0-7]{_HEX}",
        f"%[Cc][2-9A-Fa-f]{_TAIL}",
        f"%[Dd]{_HEX}{_TAIL}",
        f"%[Ee]0%[ABab]{_HEX}{_TAIL}",
        f"%[Ee][1-9A-Ca-c]{_TAIL}{_TAIL}",
        f"%[Ee][Dd]%[89]{_HEX}{_TAIL}",
        f"%[Ee][EFef]{_TAIL}{_TAIL}",
        f"%[Ff]0%[9ABab]{_HEX}{_TAIL}{_TAIL}",
        f"%[Ff][1-3]{_TAIL}{_TAIL}{_TAIL}",
        f"%[Ff]4%8{_HEX}{_TAIL}{_TAIL}",
    ]
)
# Printable ASCII as in a request line, each % starting UTF-8 bytes.
_SUBREQUEST_PATH = f"^/(?:[!-$&-~]|{_UTF8})*$"


def _recursive_batch(prefix: str) -> str:
    """The paths that the batch refuses as itself, however they are percent-encoded."""
    encoded = "".join(f"(?:{c}|%{ord(c):02x})" for c in "batch")
    return f"^(?:/{re.escape(prefix)})?/{encoded}(?:/|%2[Ff])*(?:[?].*)?$"


def _batch_body(prefix: str, max_requests: int) -> dict[str, Any]:
    """What ``cliquet.views.batch`` reads: each field of a subrequest as it checks it, and a
    path in each subrequest or in the defaults."""
    from cliquet.views.batch import HEADER_NAME, METHODS

    any_case = "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS)
    subrequest = {
        "type": "object",
        "properties": {
            "method": {"type": "string", "pattern": f"^(?:{any_case})$"},
            "path": {
                "type": "string",
                "pattern": _SUBREQUEST_PATH,
                "not": {"pattern": _recursive_batch(prefix)},
            },
            "headers": {
                "type": "object",
                "propertyNames": {"pattern": f"^{HEADER_NAME}$"},
                # Latin-1 text on one line.
                "additionalProperties": {"type": "string", "pattern": "^[\\t -~\\x80-\\xff]*$"},
            },
            "body": ref("Value"),
        },
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "defaults": subrequest,
            "requests": {"type": "array", "items": subrequest, "maxItems": max_requests},
        },
        "required": ["requests"],
        "additionalProperties": False,
        "anyOf": [
            {"properties": {"defaults": {"required": ["path"]}}, "required": ["defaults"]},
            {"properties": {"requests": {"items": {"required": ["path"]}}}},
        ],
    }


_BATCH_ANSWER = {
    "type": "object",
    "properties": {
        "responses": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "path": {"type": "string"},
                    "headers": {"type": "object"},
                    "body": {},
                },
            },
        }
    },
}


def cornice_operation(
    registry: Any, service: Any, method: str, args: dict[str, Any]
) -> dict[str, Any]:
    """The operation of a Cornice service that is not a resource: the service views, the
    batch, and extensions' endpoints (their colander ``schema``, when they give one)."""
    description, answer = _SERVICE_ANSWERS.get(service.name, ("", {}))
    operation: dict[str, Any] = {
        "tags": [
            "service"
            if service.name in _SERVICE_ANSWERS or service.name == "batch"
            else service.name
        ]
    }
    if service.description:
        operation["summary"] = str(service.description)
    ok = json_response(description or "Success.", answer)
    media_type = getattr(service, "cliquet_media_type", JSON)
    if media_type != JSON:
        ok["content"] = {media_type: {"schema": {"type": "string"}}}
    if service.name == "batch":
        ok = json_response("Each subrequest's answer, in order.", _BATCH_ANSWER)
        body = _batch_body(registry.route_prefix, registry.settings["cliquet.batch_max_requests"])
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    responses = {"200": ok}
    if service.name == "heartbeat":
        responses["503"] = json_response("A backend failed.", answer, "Retry-After")
    parameters, body = _cornice_schema(args.get("schema"), method)
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    if method == "HEAD":
        ok.pop("content", None)
    responses.update(error_responses(writes=False))
    operation["responses"] = responses
    return operation


def _cornice_schema(schema: Any, method: str) -> tuple[list[dict[str, Any]], Any]:
    """Parameters and body of a Cornice ``schema`` (a mapping of body, querystring, headers,
    path; or a body alone, as Cornice's colander_body_validator reads it)."""
    if schema is None:
        return [], None
    node = schema() if isinstance(schema, type) else schema
    if not isinstance(node, colander.SchemaNode):
        return [], None
    parts = {child.name: child for child in node.children}
    locations = {"querystring": "query", "headers": "header", "header": "header", "path": "path"}
    if not parts.keys() & {"body", *locations}:
        whole = json_schema(node, any_value=ref("Value"))
        return [], whole if method in ("POST", "PUT", "PATCH") else None
    parameters = []
    for part, location in locations.items():
        for child in parts[part].children if part in parts else ():
            parameters.append(
                {
                    "name": child.name,
                    "in": location,
                    "required": bool(child.required) or location == "path",
                    "schema": json_schema(child, any_value=ref("Value")),
                }
            )
    body = json_schema(parts["body"], any_value=ref("Value")) if "body" in parts else None
    return parameters, body
