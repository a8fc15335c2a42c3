"""What the operations of the document share: media types, headers, error answers."""

from __future__ import annotations

from typing import Any

__all__ = [
    "JSON",
    "MERGE_PATCH",
    "JSON_PATCH",
    "HEADERS",
    "PRECONDITIONS",
    "ENTITY_TAGS",
    "TIMESTAMPED",
    "ref",
    "error_schema",
    "header_refs",
    "error_responses",
    "components_responses",
    "json_response",
]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error_schema() -> dict[str, Any]:
    from cliquet.errors import ERRORS

    return {
        "type": "object",
        "description": "Every error, from every layer (docs/PROTOCOL.md, Errors).",
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status."},
            "errno": {"type": "integer", "enum": [int(e) for e in ERRORS]},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "info": {"type": ["string", "null"]},
            "details": {},
        },
        "required": ["code", "errno", "error"],
    }


HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "The timestamp of the record or list, quoted.",
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Last-Modified": {
        "description": "The same timestamp as an HTTP date.",
        "schema": {"type": "string"},
    },
    "Total-Records": {
        "description": "How many records match the filters (not the page).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Next-Page": {
        "description": "The URL of the next page; absent on the last one.",
        "schema": {"type": "string", "format": "uri"},
    },
    "Backoff": {
        "description": "Seconds a client should wait before its next request.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds after which the request may be tried again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Alert": {
        "description": "End of service: JSON with code, message and url.",
        "schema": {"type": "string"},
    },
}

# Which headers each kind of answer may carry (Backoff and Alert: every answer).
_EVERY_ANSWER = ("Backoff", "Alert")
TIMESTAMPED = ("ETag", "Last-Modified")

PRECONDITIONS = {
    "If-Match": "Proceed only if the current ETag is one of these (else 412 errno 114).",
    "If-None-Match": "Proceed only if no listed ETag matches: 304 on reads, 412 on writes; "
    "`*`: only if the record does not exist.",
}

# What ``cliquet.resource.preconditions`` reads: ``*``, or a list of entity tags, strong or
# weak, with optional white space and empty elements (RFC 9110 sections 5.6.1, 8.8.3).
_TAG = '(?:W/)?"[0-9]+"'
_OWS = "[ \\t]*"
ENTITY_TAGS = {
    "type": "string",
    "pattern": f"^{_OWS}(?:\\*|(?:,{_OWS})*{_TAG}(?:{_OWS},(?:{_OWS},)*{_OWS}{_TAG})*"
    f"(?:{_OWS},)*){_OWS}$",
}

# The answers any request may get (docs/PROTOCOL.md): status -> description.
_COMMON_ERRORS = {
    "400": "Invalid request (errno 107 names the parameter, 106 bad JSON...).",
    "401": "Credentials absent or invalid (errno 104, 105).",
    "403": "Not allowed (errno 121).",
    "404": "No such URL or record (errno 111, 110).",
    "405": "Method not allowed, or the service is read-only (errno 115).",
    "406": "The client does not accept JSON.",
    "410": "Past the end of service (errno 202).",
    "413": "Body over the limit (errno 113).",
    "415": "The body is not JSON.",
    "429": "Too many requests (errno 117).",
    "503": "A backend failed (errno 201).",
}
_WRITE_ERRORS = {
    "409": "Conflict with a unique field, or a JSON Patch that does not apply (errno 122).",
    "412": "A precondition failed (errno 114).",
}


def header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in (*names, *_EVERY_ANSWER)}


def error_responses(*, writes: bool) -> dict[str, Any]:
    errors = {**_COMMON_ERRORS, **(_WRITE_ERRORS if writes else {})}
    responses = {status: {"$ref": f"#/components/responses/{status}"} for status in errors}
    responses["default"] = {"$ref": "#/components/responses/default"}
    return responses


def components_responses() -> dict[str, Any]:
    content = {JSON: {"schema": ref("Error")}}
    responses: dict[str, Any] = {}
    for status, description in {**_COMMON_ERRORS, **_WRITE_ERRORS}.items():
        names: tuple[str, ...] = ("Retry-After",) if status in ("429", "503") else ()
        names += TIMESTAMPED if status == "412" else ()
        responses[status] = {
            "description": description,
            "headers": header_refs(*names),
            "content": content,
        }
    responses["default"] = {
        "description": "Any other error (500 errno 999).",
        "headers": header_refs(),
        "content": content,
    }
    return responses


def json_response(description: str, schema: Any, *headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": header_refs(*headers),
        "content": {JSON: {"schema": schema}},
    }
