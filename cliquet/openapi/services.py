"""The operations of the Cornice services that are not resources: the service views, the
batch and extensions' endpoints."""

from __future__ import annotations

from typing import Any

import colander

from cliquet.json_schema import json_schema
from cliquet.openapi.components import JSON, error_responses, json_response

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
_BATCH_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"type": "string"},
        "path": {"type": "string", "pattern": "^/"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {},
    },
    "additionalProperties": False,
}
_BATCH = {
    "type": "object",
    "properties": {
        "defaults": _BATCH_REQUEST,
        "requests": {"type": "array", "items": {**_BATCH_REQUEST, "required": ["path"]}},
    },
    "required": ["requests"],
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


def cornice_operation(service: Any, method: str, args: dict[str, Any]) -> dict[str, Any]:
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
    if service.name == "batch":
        ok = json_response("Each subrequest's answer, in order.", _BATCH_ANSWER)
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": _BATCH}}}
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
        return [], json_schema(node) if method in ("POST", "PUT", "PATCH") else None
    parameters = []
    for part, location in locations.items():
        for child in parts[part].children if part in parts else ():
            parameters.append(
                {
                    "name": child.name,
                    "in": location,
                    "required": bool(child.required) or location == "path",
                    "schema": json_schema(child),
                }
            )
    return parameters, json_schema(parts["body"]) if "body" in parts else None
