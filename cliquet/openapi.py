"""The OpenAPI 3.1 document of a running service, served at ``/v1/__api__``.

Built from what the service registered, so that it cannot drift from the code: the Cornice
services (resources, service views, extensions' endpoints), each resource's colander schema as
JSON Schema 2020-12 and the query parameters its lists accept. Built once per registry, when
the application is created, and answered as it is afterwards.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import colander

from cliquet.json_schema import json_schema

__all__ = ["OPENAPI_VERSION", "build_document", "document"]

OPENAPI_VERSION = "3.1.0"

_JSON = "application/json"
_MERGE_PATCH = "application/merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
# What Cornice may register besides the views (CORS preflights): not part of the protocol.
_DOCUMENTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# Shared components ---------------------------------------------------------------------------


def _error_schema() -> dict[str, Any]:
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


_HEADERS: dict[str, dict[str, Any]] = {
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
_TIMESTAMPED = ("ETag", "Last-Modified")

_PRECONDITIONS = {
    "If-Match": "Proceed only if the current ETag is one of these (else 412 errno 114).",
    "If-None-Match": "Proceed only if no listed ETag matches: 304 on reads, 412 on writes; "
    "`*`: only if the record does not exist.",
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


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in (*names, *_EVERY_ANSWER)}


def _error_responses(*, writes: bool) -> dict[str, Any]:
    errors = {**_COMMON_ERRORS, **(_WRITE_ERRORS if writes else {})}
    responses = {status: {"$ref": f"#/components/responses/{status}"} for status in errors}
    responses["default"] = {"$ref": "#/components/responses/default"}
    return responses


def _components_responses() -> dict[str, Any]:
    content = {_JSON: {"schema": _ref("Error")}}
    responses: dict[str, Any] = {}
    for status, description in {**_COMMON_ERRORS, **_WRITE_ERRORS}.items():
        names: tuple[str, ...] = ("Retry-After",) if status in ("429", "503") else ()
        names += _TIMESTAMPED if status == "412" else ()
        responses[status] = {
            "description": description,
            "headers": _headers(*names),
            "content": content,
        }
    responses["default"] = {
        "description": "Any other error (500 errno 999).",
        "headers": _headers(),
        "content": content,
    }
    return responses


def _json_response(description: str, schema: Any, *headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _headers(*headers),
        "content": {_JSON: {"schema": schema}},
    }


# Resources -----------------------------------------------------------------------------------

_FILTER_PREFIXES = ("", "min_", "max_", "lt_", "gt_", "not_", "in_", "exclude_", "like_", "has_")
_INTEGER_TEXT = "-?[0-9]+"
_PERMISSIONS = {
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


def _resource_schemas(info: Any, id_pattern: str) -> dict[str, Any]:
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
    properties: dict[str, Any] = {"data": _ref(data_schema)}
    if info.shareable:
        properties["permissions"] = _ref("Permissions")
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
    record = _ref(f"{info.name}.record")
    properties: dict[str, Any] = {"data": {"type": "array", "items": record} if many else record}
    if info.shareable and not many:
        properties["permissions"] = _ref("Permissions")
    return {"type": "object", "properties": properties, "required": ["data"]}


def _resource_operation(info: Any, kind: str, method: str) -> dict[str, Any]:
    """The operation of a resource's collection or record endpoint for ``method``."""
    name = info.name
    parameters: list[dict[str, Any]] = [
        {"name": h, "in": "header", "schema": {"type": "string"}, "description": text}
        for h, text in _PRECONDITIONS.items()
    ]
    many = kind == "collection" and method != "POST"
    if method in ("GET", "HEAD") or many:
        # Lists (and a collection's DELETE) read the whole querystring, a record `_fields`.
        parameters += [
            {"$ref": f"#/components/parameters/{name}.{p['name']}"}
            for p in _resource_list_parameters(info)
            if many or p["name"] == "_fields"
        ]
    headers: tuple[str, ...] = _TIMESTAMPED
    if many and method != "DELETE":
        headers += ("Total-Records", "Next-Page")
    ok = _json_response("The records." if many else "The record.", _answer(info, many), *headers)
    responses: dict[str, Any] = {"200": ok}
    operation: dict[str, Any] = {"tags": [name], "parameters": parameters}
    if method in ("GET", "HEAD"):
        responses["304"] = {
            "description": "Not modified (If-None-Match).",
            "headers": _headers(*_TIMESTAMPED),
        }
    if method == "HEAD":
        del ok["content"]
    if method in ("POST", "PUT"):
        responses["201"] = {**ok, "description": "Created."}
        operation["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": _body(info, name)}},
        }
    if method == "PATCH":
        changes = {"schema": _body(info, f"{name}.patch", required=False)}
        operation["requestBody"] = {
            "required": True,
            "content": {
                _JSON: changes,
                _MERGE_PATCH: changes,
                _JSON_PATCH: {"schema": _JSON_PATCH_SCHEMA},
            },
        }
    responses.update(_error_responses(writes=True))
    operation["responses"] = responses
    return operation


def _resource_list_parameters(info: Any) -> list[dict[str, Any]]:
    node = info.resource_cls.schema()
    fields = list(dict.fromkeys(["id", "last_modified", *(c.name for c in node.children)]))
    return _list_parameters(fields, open_schema=bool(node.get_option("preserve_unknown")))


# Other services -------------------------------------------------------------------------------

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


def _cornice_operation(service: Any, method: str, args: dict[str, Any]) -> dict[str, Any]:
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
    ok = _json_response(description or "Success.", answer)
    if service.name == "batch":
        ok = _json_response("Each subrequest's answer, in order.", _BATCH_ANSWER)
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": _BATCH}}}
    responses = {"200": ok}
    if service.name == "heartbeat":
        responses["503"] = _json_response("A backend failed.", answer, "Retry-After")
    parameters, body = _cornice_schema(args.get("schema"), method)
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    if method == "HEAD":
        ok.pop("content", None)
    responses.update(_error_responses(writes=False))
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


# Security ---------------------------------------------------------------------------------------


def _security_schemes(registry: Any) -> dict[str, Any]:
    """One scheme per authentication policy of ``multiauth.policies``.

    A policy may describe itself with an ``openapi_security_scheme`` attribute (an OpenAPI
    Security Scheme Object); basic auth is known; any other is said as a credential in the
    ``Authorization`` header, naming its class.
    """
    from pyramid.authentication import BasicAuthAuthenticationPolicy
    from pyramid.interfaces import ISecurityPolicy

    policy = registry.queryUtility(ISecurityPolicy)
    if policy is None:
        return {}
    policies = policy.get_policies() if hasattr(policy, "get_policies") else [(None, policy)]
    schemes: dict[str, Any] = {}
    for index, (name, each) in enumerate(policies):
        key = re.sub(r"[^A-Za-z0-9._-]", "_", name or f"policy{index}")
        described = getattr(each, "openapi_security_scheme", None)
        cls = type(each)
        if isinstance(described, dict):
            schemes[key] = described
        elif isinstance(each, BasicAuthAuthenticationPolicy):
            schemes[key] = {"type": "http", "scheme": "basic"}
        else:
            schemes[key] = {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": f"Policy {cls.__module__}.{cls.__qualname__}.",
            }
    return schemes


# The document ----------------------------------------------------------------------------------


def _route_path(registry: Any, service: Any) -> tuple[str, list[dict[str, Any]]]:
    """The service's path under the version prefix, in OpenAPI's spelling, and its path
    parameters (a placeholder's regular expression becomes its pattern)."""
    from pyramid.interfaces import IRoutesMapper

    pattern = service.path
    mapper = registry.queryUtility(IRoutesMapper)
    route = mapper.get_route(service.name) if mapper is not None else None
    if route is not None:
        pattern = "/" + route.pattern.lstrip("/")
    prefix = f"/{registry.route_prefix}"
    if pattern == prefix or pattern.startswith(prefix + "/"):
        pattern = pattern[len(prefix) :] or "/"
    parameters = []
    for match in _PLACEHOLDER.finditer(pattern):
        schema: dict[str, Any] = {"type": "string"}
        if match.group(2):
            schema["pattern"] = f"^(?:{match.group(2)})$"
        parameters.append(
            {"name": match.group(1), "in": "path", "required": True, "schema": schema}
        )
    return _PLACEHOLDER.sub(lambda m: "{" + m.group(1) + "}", pattern), parameters


def _operation_id(service: Any, method: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{method.lower()}-{service.name}")


def build_document(registry: Any) -> dict[str, Any]:
    """The OpenAPI document of everything the registry serves (see :func:`document`)."""
    settings = registry.settings
    resources = {}
    for info in (registry.get("cliquet.resources") or {}).values():
        if info.resource_cls is not None:
            for kind in ("collection", "record"):
                resources[f"{info.name}-{kind}"] = (info, kind)
    schemas: dict[str, Any] = {"Error": _error_schema(), "Permissions": _PERMISSIONS}
    parameters: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for service in sorted(registry.cornice_services.values(), key=lambda s: s.name):
        path, path_parameters = _route_path(registry, service)
        resource = resources.get(service.name)
        item: dict[str, Any] = {}
        if resource is not None:
            info, kind = resource
            id_pattern = info.resource_cls.id_generator.regexp
            for p in path_parameters:
                if p["name"] == "id" and kind == "record":
                    p["schema"] = {"type": "string", "pattern": id_pattern}
            schemas.update(_resource_schemas(info, id_pattern))
            for p in _resource_list_parameters(info):
                parameters[f"{info.name}.{p['name']}"] = p
        if path_parameters:
            item["parameters"] = path_parameters
        for method, _view, args in service.definitions:
            method = method.upper()
            if method not in _DOCUMENTED_METHODS or method.lower() in item:
                continue
            if resource is not None:
                operation = _resource_operation(resource[0], resource[1], method)
            else:
                operation = _cornice_operation(service, method, args)
            operation["operationId"] = _operation_id(service, method)
            item[method.lower()] = operation
        if any(m.lower() in item for m in _DOCUMENTED_METHODS):
            paths[path] = item
    schemes = _security_schemes(registry)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": settings.get("cliquet.project_name") or "cliquet service",
            "version": str(settings.get("cliquet.project_version") or "unknown"),
        },
        "servers": [{"url": f"/{registry.route_prefix}"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "headers": _HEADERS,
            "responses": _components_responses(),
            "securitySchemes": schemes,
        },
        # Anonymous requests too: the permissions decide (docs/PROTOCOL.md).
        "security": [*({name: []} for name in schemes), {}],
    }
    if settings.get("cliquet.project_docs"):
        document["externalDocs"] = {"url": settings["cliquet.project_docs"]}
    # A copy of its own, and proof at start-up that it is JSON.
    loaded: dict[str, Any] = json.loads(json.dumps(document))
    return loaded


_LOCK = threading.Lock()


def document(registry: Any) -> dict[str, Any]:
    """The registry's document, built on first use (the application's creation) and kept:
    the same object afterwards."""
    built: dict[str, Any] | None = getattr(registry, "cliquet_openapi", None)
    if built is None:
        with _LOCK:
            built = getattr(registry, "cliquet_openapi", None)
            if built is None:
                built = registry.cliquet_openapi = build_document(registry)
    return built
