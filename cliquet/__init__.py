"""cliquet: the runtime of cliquet services (Pyramid + Cornice).

A service's ``main()`` calls :func:`initialize` once; extensions are packages with an
``includeme(config)`` that may call :func:`load_default_settings` and add endpoints built with
:func:`make_service`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyramid.exceptions import ConfigurationError

from cliquet.settings import (
    DEFAULT_SETTINGS,
    SettingError,
    load_default_settings,
    override_from_environment,
)
from cliquet.startup import app_factory

if TYPE_CHECKING:
    from cornice import Service

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "DEFAULT_SETTINGS",
    "initialize",
    "includeme",
    "load_default_settings",
    "make_service",
]


def make_service(
    config: Any, name: str, path: str, *, media_type: str = "application/json", **kwargs: Any
) -> Service:
    """A Cornice service for an endpoint of one's own, answering with the service's CORS policy.

    The way an extension (or a service) adds an endpoint that is not a resource: build it in
    ``includeme``, give it views, register it with Cornice's directive::

        def includeme(config):
            status = cliquet.make_service(config, "status", "/status", description="Status")
            status.add_view("GET", get_status, permission=NO_PERMISSION_REQUIRED)
            config.add_cornice_service(status)

    Its path lives under the API prefix (``/v1/status``) when ``includeme`` runs from
    ``cliquet.includes`` or after :func:`initialize`; its errors are cliquet's JSON errors.
    Built at start-up rather than at import time, so that the settings apply: a
    ``cornice.Service`` defined at module level and found by ``config.scan()`` also works,
    without ``cliquet.cors_origins`` and ``cliquet.cors_max_age_seconds``.

    :param config: the configurator passed to ``includeme``.
    :param name: the service's name, unique in the application (its route's name).
    :param path: its path, a Pyramid route pattern (``/search/{collection_id}``).
    :param media_type: what its views answer when they succeed, as ``/__api__`` says
        (``text/html`` for a page, say): JSON by default.
    :param kwargs: any other argument of ``cornice.Service`` (``description``, ``factory``,
        ``validators``...); ``cors_origins`` and ``cors_max_age`` default to the settings'.
    :returns: the service, to which views are added before ``config.add_cornice_service``.
    """
    from cornice import Service

    settings = config.get_settings()
    kwargs.setdefault("cors_origins", tuple(settings["cliquet.cors_origins"]))
    kwargs.setdefault("cors_max_age", settings["cliquet.cors_max_age_seconds"])
    service = Service(name=name, path=path, **kwargs)
    service.cliquet_media_type = media_type
    return service


def _add_api_capability(
    config: Any,
    identifier: str,
    *,
    description: str = "",
    url: str = "",
    **kwargs: Any,
) -> None:
    """Advertise a feature in the hello view's ``capabilities`` (a configurator directive).

    :raises pyramid.exceptions.ConfigurationError: the identifier is already taken.
    """
    capabilities = config.registry.api_capabilities
    if identifier in capabilities:
        raise ConfigurationError(f"The API capability {identifier!r} is already registered.")
    capabilities[identifier] = {"description": description, "url": url, **kwargs}


def _api_prefix(api_version: str) -> str:
    major = str(api_version).split(".")[0]
    if not major.isdigit():
        raise SettingError(
            "cliquet.http_api_version", f"is {api_version!r}", expected="a version such as 1.0"
        )
    return f"v{major}"


def includeme(config: Any) -> None:
    """Wire cliquet into a Pyramid app: Cornice, the start-up steps, service and error views.

    :func:`initialize` is the usual door; ``config.include("cliquet")`` alone also works.
    """
    from cliquet.initialization import run_initialization_sequence

    load_default_settings(config, DEFAULT_SETTINGS)
    settings = config.get_settings()
    registry = config.registry
    if getattr(registry, "route_prefix", None) is None:
        registry.route_prefix = _api_prefix(settings["cliquet.http_api_version"])
    registry.api_capabilities = {}
    registry.heartbeats = {}
    registry.startup_warnings = []
    registry.startup_messages = []
    config.add_directive("add_api_capability", _add_api_capability)

    # Our exception views replace Cornice's.
    config.add_settings(handle_exceptions=False)
    config.include("cornice")
    # Included from here (cornice's includer) so that it overrides cornice's renderer.
    from cliquet.views.errors import ErrorRenderer

    config.add_renderer("cornicejson", ErrorRenderer())
    run_initialization_sequence(config)
    config.include("cliquet.views")
    logger = getattr(registry, "logger", None)
    if logger is not None:
        for message in registry.startup_messages:
            logger.info(message)
        for warning in registry.startup_warnings:
            logger.warning(warning)


def initialize(
    config: Any,
    version: str | None = None,
    project_name: str = "",
    default_settings: Mapping[str, Any] | None = None,
) -> None:
    """Make ``config`` a cliquet service: call once in the service's ``main()``.

    Applies the defaults (cliquet's, then ``default_settings``), lets environment variables
    override any setting, runs the start-up steps, serves everything under ``/v{major}`` with
    ``/`` redirecting there, then includes the packages of ``cliquet.includes``.

    :param config: the Pyramid ``Configurator`` of the service.
    :param version: the service's own version (hello view).
    :param project_name: used unless ``cliquet.project_name`` is set.
    :param default_settings: the service's defaults for its own or cliquet's settings.
    :raises pyramid.exceptions.ConfigurationError: a setting is invalid (the message names it).
    """
    override_from_environment(config)
    defaults = dict(DEFAULT_SETTINGS)
    defaults["cliquet.project_name"] = project_name
    defaults.update(default_settings or {})
    load_default_settings(config, defaults)
    if version is not None:
        config.add_settings({"cliquet.project_version": str(version)})

    settings = config.get_settings()
    prefix = _api_prefix(settings["cliquet.http_api_version"])
    config.registry.route_prefix = prefix
    config.include("cliquet", route_prefix=prefix)
    # Routes the service adds from now on live under the prefix too.
    config.route_prefix = prefix
    _add_version_redirection(config, prefix)

    for package in settings["cliquet.includes"]:
        try:
            config.include(package)
        except ImportError as e:
            raise SettingError(
                "cliquet.includes",
                f"names {package!r}, which cannot be imported ({e})",
                expected="importable packages with an includeme(config)",
            ) from None


def _add_version_redirection(config: Any, prefix: str) -> None:
    from pyramid.httpexceptions import HTTPTemporaryRedirect
    from pyramid.security import NO_PERMISSION_REQUIRED

    def with_query(request: Any, location: str) -> str:
        return f"{location}?{request.query_string}" if request.query_string else location

    def redirect(request: Any) -> Any:
        from urllib.parse import quote

        # Percent-encoded again: a decoded LF or CR would split the Location header.
        path = quote(request.matchdict["path"], safe="/~!$&'()*+,;=:@")
        raise HTTPTemporaryRedirect(
            with_query(request, f"{request.application_url}/{prefix}/{path}")
        )

    saved, config.route_prefix = config.route_prefix, None
    try:
        config.add_route("cliquet.redirect_to_version", r"/{path:(?!v[0-9]+(/|$))[^\r]*}")
        config.add_view(
            redirect, route_name="cliquet.redirect_to_version", permission=NO_PERMISSION_REQUIRED
        )
        # The bare prefix (``/v1``) goes to the hello view (``/v1/``).
        config.add_route("cliquet.redirect_to_hello", f"/{prefix}")
        config.add_view(
            lambda request: HTTPTemporaryRedirect(with_query(request, request.route_url("hello"))),
            route_name="cliquet.redirect_to_hello",
            permission=NO_PERMISSION_REQUIRED,
        )
    finally:
        config.route_prefix = saved


@app_factory
def main(global_config: Mapping[str, Any] | None = None, **settings: Any) -> Any:
    """A bare cliquet service (``use = egg:cliquet-kit`` in an ``.ini``): service views only.

    Handy to try settings or smoke-test a deployment; real services have their own ``main``.
    """
    from pyramid.config import Configurator

    config = Configurator(settings=settings)
    initialize(config, __version__, project_name="cliquet")
    return config.make_wsgi_app()
