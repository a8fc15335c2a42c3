"""Turning a resource class into its two Cornice services (collection and record)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import venusian
from pyramid.exceptions import ConfigurationError

from cliquet.authorization import DYNAMIC, RouteFactory

__all__ = ["ResourceInfo", "register", "register_resource"]

COLLECTION_METHODS = ("GET", "POST", "DELETE")
RECORD_METHODS = ("GET", "PUT", "PATCH", "DELETE")
ACTIONS = ("read", "write", "create")


@dataclass
class ResourceInfo:
    """What start-up settled about one registered resource."""

    name: str
    collection_path: str
    record_path: str
    shareable: bool
    principals: dict[str, set[str]] = field(default_factory=dict)
    # The registered class: its schema and ids describe the service (cliquet.openapi).
    resource_cls: type | None = None

    def object_uri(self, matchdict: Mapping[str, Any], record_id: str) -> str:
        """The record's URI without the version prefix: its permission object id."""
        return self.record_path.format(**{**matchdict, "id": record_id})

    def collection_uri(self, matchdict: Mapping[str, Any]) -> str:
        return self.collection_path.format(**matchdict)


def _route_pattern(path: str, name: str) -> str:
    # Braces doubled as in a format string (``{{id}}``, the old spelling) are still accepted.
    return path.replace("{resource_name}", name).replace("{{", "{").replace("}}", "}")


def register_resource(
    config: Any,
    resource_cls: Any,
    *,
    name: str | None = None,
    collection_path: str | None = None,
    record_path: str | None = None,
    collection_methods: tuple[str, ...] = COLLECTION_METHODS,
    record_methods: tuple[str, ...] = RECORD_METHODS,
) -> ResourceInfo:
    """Add the collection and record services of ``resource_cls`` to the configuration.

    Paths are route patterns in which ``{resource_name}`` is replaced by the name
    (``/{resource_name}s`` and ``/{resource_name}s/{id}`` by default); other placeholders are
    the route's (``/buckets/{bucket_id}/records/{id}``), and the record path must end in ``{id}``.
    The collection-wide principals of each action come from the settings
    ``cliquet.<name>_<action>_principals``.
    """
    from cliquet.resource import ShareableResource
    from cliquet.views import make_service

    name = name or resource_cls.__name__.lower()
    collection_path = _route_pattern(collection_path or "/{resource_name}s", name)
    record_path = _route_pattern(record_path or "/{resource_name}s/{id}", name)
    if not record_path.endswith("{id}"):
        raise ConfigurationError(f"record_path of resource {name!r} must end in {{id}}")
    shareable = issubclass(resource_cls, ShareableResource)
    settings = config.get_settings()
    defaults = resource_cls.default_principals
    principals = {}
    for action in ACTIONS:
        key = f"cliquet.{name}_{action}_principals"
        value = settings.get(key, defaults.get(action, ()))
        if isinstance(value, str):
            value = value.split()
        principals[action] = set(value)
    info = ResourceInfo(
        name, collection_path, record_path, shareable, principals, resource_cls=resource_cls
    )
    config.registry.setdefault("cliquet.resources", {})[name] = info
    _declare_indexed_fields(config, name, getattr(resource_cls, "indexed_fields", ()))

    for kind, path, methods in (
        ("collection", collection_path, collection_methods),
        ("record", record_path, record_methods),
    ):
        factory = functools.partial(RouteFactory, info=info, kind=kind)
        service = make_service(
            config,
            f"{name}-{kind}",
            path,
            factory=factory,
            description=f"{name} {kind}",
        )
        for method in methods:
            attr = f"collection_{method.lower()}" if kind == "collection" else method.lower()
            service.add_view(method, _resource_view(resource_cls, attr), permission=DYNAMIC)
        config.add_cornice_service(service)
    return info


def _declare_indexed_fields(config: Any, name: str, fields: Any) -> None:
    """Check a resource's ``indexed_fields``; once per configuration, give the storage
    every resource's when the configuration is committed (all resources registered)."""
    if isinstance(fields, str) or not all(
        isinstance(f, str) and f and all(f.split(".")) for f in fields
    ):
        raise ConfigurationError(
            f"indexed_fields of resource {name!r} must be a tuple of field names "
            f"(dotted for nested fields), not {fields!r}"
        )
    registry = config.registry
    if registry.get("cliquet.indexed_fields_declared"):
        return
    registry["cliquet.indexed_fields_declared"] = True

    def declare() -> None:
        storage = getattr(registry, "storage", None)
        if storage is None:
            return
        resources = registry.get("cliquet.resources", {}).values()
        declared = {
            f for info in resources for f in getattr(info.resource_cls, "indexed_fields", ())
        }
        storage.declare_indexed_fields(sorted(declared))
        if registry.settings.get("cliquet.migrate_on_startup"):
            done = storage.initialize_schema()  # the indexes, once the resources are known
            logger = getattr(registry, "logger", None)
            if isinstance(done, str) and logger is not None:
                logger.info(done)

    config.action(None, declare)


def _resource_view(resource_cls: Any, attr: str) -> Any:
    """A view building the resource as ``resource_cls(request)`` (the seed's signature)."""

    def view(request: Any) -> Any:
        return getattr(resource_cls(request), attr)()

    view.__name__ = f"{resource_cls.__name__}.{attr}"
    return view


def register(depth: int = 1, **route_kwargs: Any) -> Any:
    """Class decorator: the resource is registered when its module is ``config.scan()``ed.

    ``route_kwargs`` are those of :func:`register_resource` (``name``, ``collection_path``,
    ``record_path``...).
    """

    def wrapper(resource_cls: type) -> type:
        def callback(context: Any, name: str, ob: Any) -> None:
            register_resource(context.config, resource_cls, **route_kwargs)

        venusian.attach(resource_cls, callback, category="pyramid", depth=depth)
        return resource_cls

    return wrapper
