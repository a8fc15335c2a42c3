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

from cliquet.json_schema import json_value
from cliquet.openapi.components import HEADERS, components_responses, error_schema
from cliquet.openapi.resources import (
    PERMISSIONS,
    resource_list_parameters,
    resource_operation,
    resource_schemas,
)
from cliquet.openapi.services import cornice_operation
from cliquet.resource.querystring import Limits

__all__ = ["OPENAPI_VERSION", "build_document", "document"]

OPENAPI_VERSION = "3.1.0"

# What Cornice may register besides the views (CORS preflights): not part of the protocol.
_DOCUMENTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# What a path parameter may hold: a path with a control character is refused before routing.
_NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*$"
_PLACEHOLDER = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")


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
        # No control character: a path holding one is refused before routing (400).
        schema: dict[str, Any] = {"type": "string", "pattern": _NO_CONTROL}
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
    schemas: dict[str, Any] = {
        "Error": error_schema(),
        "Permissions": PERMISSIONS,
        "Value": json_value("#/components/schemas/Value"),
    }
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
            schemas.update(resource_schemas(info, id_pattern))
            for p in resource_list_parameters(info, Limits.from_settings(settings)):
                parameters[f"{info.name}.{p['name']}"] = p
        if path_parameters:
            item["parameters"] = path_parameters
        for method, _view, args in service.definitions:
            method = method.upper()
            if method not in _DOCUMENTED_METHODS or method.lower() in item:
                continue
            if resource is not None:
                operation = resource_operation(resource[0], resource[1], method)
            else:
                operation = cornice_operation(registry, service, method, args)
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
            "headers": HEADERS,
            "responses": components_responses(),
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
