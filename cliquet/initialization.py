"""The start-up steps, run in the order of ``cliquet.initialization_sequence``.

Each step is a function taking the Pyramid ``Configurator``; a service may replace, drop or add
steps by listing other dotted paths in that setting. Everything a step needs from the settings
is read and checked here, once: request-time code only sees the values it closes over.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pyramid.events import NewRequest
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import (
    HTTPGone,
    HTTPMethodNotAllowed,
    HTTPNotAcceptable,
    HTTPRequestEntityTooLarge,
    HTTPTemporaryRedirect,
    HTTPUnsupportedMediaType,
)
from pyramid.interfaces import IRoutesMapper

from cliquet.cache import CacheBase
from cliquet.errors import ERRORS, Detail, http_error, invalid_request
from cliquet.permission import PermissionBase
from cliquet.settings import SettingError, read_int
from cliquet.storage import StorageBase

__all__ = [
    "load_backend",
    "run_initialization_sequence",
    "setup_storage",
    "setup_cache",
    "setup_permission",
    "setup_authentication",
    "setup_request_checks",
    "setup_response_headers",
    "setup_public_url",
    "setup_trailing_slash_redirect",
    "EXPOSED_HEADERS",
]

# Response headers a browser script may read (CORS).
EXPOSED_HEADERS = (
    "Alert",
    "Backoff",
    "ETag",
    "Last-Modified",
    "Next-Page",
    "Retry-After",
    "Total-Records",
)

_WRITE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))

# The only media type the service speaks, and the bodies each write method takes. Anything
# else is refused before any view runs: a page of another site can make a browser send
# text/plain or form bodies without a preflight, never application/json.
_JSON = "application/json"
_JSON_BODIES = frozenset((_JSON,))
_JSON_RANGES = {_JSON: 3, "application/*": 2, "*/*": 1}
_BODY_TYPES = {
    "PATCH": frozenset((_JSON, "application/merge-patch+json", "application/json-patch+json")),
}
# JSON between systems is UTF-8 (RFC 8259): a body said to be in another charset would be
# read as other text than its sender meant.
_BODY_CHARSETS = frozenset(("utf-8", "utf8"))

# What a Host header may be when it names the service (RFC 9112 section 3.2): a name (with
# the underscores of container networks and a root dot) or a bracketed IPv6 address, and an
# optional port. Anything else (userinfo, a path, spaces) would reach absolute URLs.
_REQUEST_HOST = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?", re.IGNORECASE
)

# Private answers must not be stored by browsers or proxies, and a cache that stores one
# must key it by the credentials and the origin that obtained it.
_NO_CACHE = "no-cache"
_VARY = ("Authorization", "Origin")
_CACHE_EXPIRES_SETTING = re.compile(r"cliquet\.(?P<resource>\w+)_cache_expires_seconds")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_ORIGIN_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")

_LOADER_EXPECTED = "a module with a load_from_config(config) function"

# What stays as is when a decoded path is percent-encoded again for a Location (RFC 3986
# pchar and "/"): a decoded CR, LF or "?" must not reach the header or become a query.
_PATH_SAFE = "/~!$&'()*+,;=:@"


def _resolve(config: Any, setting: str, value: Any, expected: str) -> Any:
    if not value:
        raise SettingError(setting, "is empty", expected=expected)
    try:
        return config.maybe_dotted(value)
    except (ImportError, AttributeError, ValueError) as e:
        raise SettingError(
            setting, f"is {value!r}, which cannot be imported ({e})", expected=expected
        ) from None


def load_backend(config: Any, setting: str, base: type) -> Any:
    """Build the backend named by the dotted module path in ``setting``.

    :param config: the Pyramid ``Configurator``.
    :param setting: e.g. ``"cliquet.storage_backend"``.
    :param base: the class every such backend must be an instance of.
    :returns: what the module's ``load_from_config(config)`` returned.
    :raises pyramid.exceptions.ConfigurationError: the module cannot be imported, has no
        ``load_from_config``, or builds something that is not a ``base``.
    """
    value = config.get_settings().get(setting)
    module = _resolve(config, setting, value, _LOADER_EXPECTED)
    loader = getattr(module, "load_from_config", None)
    if not callable(loader):
        raise SettingError(
            setting,
            f"is {value!r}, which has no load_from_config(config)",
            expected=_LOADER_EXPECTED,
        )
    backend = loader(config)
    if not isinstance(backend, base):
        raise SettingError(
            setting,
            f"is {value!r}, which built a {type(backend).__name__}",
            expected=f"an instance of {base.__module__}.{base.__qualname__}",
        )
    return backend


def _setup_backend(config: Any, name: str, base: type) -> None:
    backend = load_backend(config, f"cliquet.{name}_backend", base)
    if config.get_settings()["cliquet.migrate_on_startup"]:
        done = backend.initialize_schema()
        if isinstance(done, str):
            config.registry.startup_messages.append(done)
    setattr(config.registry, name, backend)
    config.registry.heartbeats[name] = lambda request: backend.heartbeat()


def setup_storage(config: Any) -> None:
    """Build ``registry.storage`` from ``cliquet.storage_backend``."""
    _setup_backend(config, "storage", StorageBase)


def setup_cache(config: Any) -> None:
    """Build ``registry.cache`` from ``cliquet.cache_backend``."""
    _setup_backend(config, "cache", CacheBase)


def setup_permission(config: Any) -> None:
    """Build ``registry.permission`` from ``cliquet.permission_backend``."""
    _setup_backend(config, "permission", PermissionBase)


def setup_authentication(config: Any) -> None:
    """Authenticate through the policies of ``multiauth.policies`` (pyramid_multiauth)."""
    from cliquet.authentication import configured_policies, weak_userid_hmac_secret

    settings = config.get_settings()
    required = bool(settings.get("cliquet.userid_hmac_secret_required"))
    problem = weak_userid_hmac_secret(settings, required=required)
    if problem and required:
        raise SettingError(
            "cliquet.userid_hmac_secret",
            f"{problem}, and basic auth is in multiauth.policies",
            expected="a long random string (or a provider instead of basic auth)",
        )
    if problem:
        config.registry.startup_warnings.append(
            f"cliquet.userid_hmac_secret {problem}: basic-auth user ids are guessable. Set it."
        )
    try:
        config.include("pyramid_multiauth")
    except (ImportError, ValueError) as e:
        raise ConfigurationError(
            f"Invalid value for setting 'multiauth.policies': "
            f"{settings.get('multiauth.policies')!r} ({e}); expected policy names, each "
            f"importable or defined by multiauth.policy.<name>.use."
        ) from None
    # A policy may say what is risky in its settings (an OpenID Connect issuer in plain http).
    for name, factory, options in configured_policies(settings):
        warn = getattr(factory, "settings_warnings", None)
        if callable(warn):
            config.registry.startup_warnings.extend(warn(name, options))


def setup_transactions(config: Any) -> None:
    """One unit of work per request (pyramid_tm), and the resource events that go with it."""
    config.include("cliquet.unit_of_work")


def setup_request_checks(config: Any) -> None:
    """Refuse requests the service must not serve: after end of service, writes when read-only."""
    settings = config.get_settings()
    eos: datetime.date | None = settings["cliquet.eos"]
    readonly: bool = settings["cliquet.readonly"]
    prefix = config.registry.route_prefix
    batch_paths = {f"/{prefix}/batch", f"/{prefix}/batch/"}
    eos_message = settings["cliquet.eos_message"] or "The service has reached its end of life."
    eos_url = settings["cliquet.eos_url"] or None

    max_body = settings["cliquet.max_request_body_bytes"]
    public_host: str = settings["cliquet.http_host"]

    def check_request(event: NewRequest) -> None:
        request = event.request
        if not public_host:
            _check_host(request)
        if (request.content_length or 0) > max_body:
            raise http_error(
                HTTPRequestEntityTooLarge(),
                errno=ERRORS.REQUEST_TOO_LARGE,
                message=f"The body is over {max_body} bytes.",
            )
        _check_media_types(request)
        if eos is not None and datetime.date.today() >= eos:
            error = http_error(
                HTTPGone(), errno=ERRORS.SERVICE_DEPRECATED, message=eos_message, info=eos_url
            )
            error.headers["Alert"] = json.dumps(
                {"code": "hard-eol", "message": eos_message, "url": eos_url}
            )
            raise error
        if readonly and request.method in _WRITE_METHODS and request.path not in batch_paths:
            raise http_error(
                HTTPMethodNotAllowed(),
                errno=ERRORS.METHOD_NOT_ALLOWED,
                message="The service is in read-only mode.",
            )

    config.add_subscriber(check_request, NewRequest)


def _check_host(request: Any) -> None:
    """400 for a ``Host`` that is not a host: absolute URLs are built on it."""
    host = request.environ.get("HTTP_HOST")
    if host is None or _REQUEST_HOST.fullmatch(host):
        return
    description = "Must be a host name or address, with an optional port."
    raise invalid_request([Detail(location="header", name="Host", description=description)])


def _has_body(request: Any) -> bool:
    return bool(request.content_length) or "Transfer-Encoding" in request.headers


def _accepts_json(request: Any) -> bool:
    """Whether the ``Accept`` header lets JSON through (absent, empty or unparsable: yes).

    The most specific range naming JSON decides (``application/json`` over ``application/*``
    over ``*/*``), whatever its parameters (``application/json; charset=utf-8``).
    """
    parsed = request.accept.parsed
    if not parsed:
        return True
    best = (0, 0.0)
    for media_range, quality, _params, _extensions in parsed:
        rank = _JSON_RANGES.get(media_range.split(";", 1)[0].strip().lower(), 0)
        if rank:
            best = max(best, (rank, quality))
    return best[1] > 0


def _check_media_types(request: Any) -> None:
    """406 unless the client takes JSON; 415 for a write whose body is not JSON."""
    if not _accepts_json(request):
        description = f"Must allow {_JSON}: the service only answers it."
        raise invalid_request(
            [Detail(location="header", name="Accept", description=description)],
            httpexception=HTTPNotAcceptable(),
        )
    if request.method not in _WRITE_METHODS or not _has_body(request):
        return
    allowed = _BODY_TYPES.get(request.method, _JSON_BODIES)
    charset = (request.charset or "utf-8").strip().lower()
    if (request.content_type or "").lower() not in allowed or charset not in _BODY_CHARSETS:
        expected = " or ".join(sorted(allowed)) + " (UTF-8)"
        description = f"A {request.method} body must be {expected}."
        raise invalid_request(
            [Detail(location="header", name="Content-Type", description=description)],
            httpexception=HTTPUnsupportedMediaType(),
        )


def _cache_expires(settings: Any) -> dict[str, int]:
    """Resource name → seconds, from the ``cliquet.<resource>_cache_expires_seconds`` settings."""
    expires = {}
    for key in settings:
        match = _CACHE_EXPIRES_SETTING.fullmatch(key)
        if match:
            expires[match.group("resource")] = read_int(settings, key, 0, minimum=0)
    return expires


def _merge_vary(headers: Any, names: tuple[str, ...]) -> None:
    present = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
    known = {v.lower() for v in present}
    merged = present + [n for n in names if n.lower() not in known]
    headers["Vary"] = ", ".join(merged)


def setup_response_headers(config: Any) -> None:
    """Add ``Backoff``, ``Retry-After``, the end-of-service ``Alert``, caching and CORS.

    Done through a response callback so that every response gets them, error pages included.
    Every answer is ``Cache-Control: no-cache`` and ``Vary: Authorization, Origin``, except
    anonymous reads of a resource that has a ``cliquet.<resource>_cache_expires_seconds``
    setting: their 200 and 304 answers may be kept that long (``max-age``). CORS origins may
    be globs (``https://*.example.com``), matched as Cornice matches them.
    """
    settings = config.get_settings()
    backoff: int | None = settings["cliquet.backoff"]
    retry_after = str(settings["cliquet.retry_after_seconds"])
    eos: datetime.date | None = settings["cliquet.eos"]
    soft_alert = None
    if eos is not None:
        soft_alert = json.dumps(
            {
                "code": "soft-eol",
                "message": settings["cliquet.eos_message"]
                or f"The service will reach its end of life on {eos.isoformat()}.",
                "url": settings["cliquet.eos_url"] or None,
            }
        )
    origins = settings["cliquet.cors_origins"]
    any_origin = "*" in origins
    allowed = re.compile("|".join(fnmatch.translate(o) for o in origins) or "(?!)")
    exposed = ", ".join(EXPOSED_HEADERS)
    cache_expires = _cache_expires(settings)

    def cache_control(request: Any, response: Any) -> str:
        if (
            cache_expires
            and request.method in ("GET", "HEAD")
            and response.status_code in (200, 304)
            and "Authorization" not in request.headers
        ):
            info = getattr(getattr(request, "context", None), "info", None)
            seconds = cache_expires.get(getattr(info, "name", None) or "")
            if seconds:
                return f"max-age={seconds}"
        return _NO_CACHE

    def add_headers(request: Any, response: Any) -> None:
        headers = response.headers
        if backoff is not None:
            headers["Backoff"] = str(backoff)
        if response.status_code in (429, 503) and "Retry-After" not in headers:
            headers["Retry-After"] = retry_after
        if soft_alert and eos is not None and datetime.date.today() < eos:
            headers.setdefault("Alert", soft_alert)
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = cache_control(request, response)
        _merge_vary(headers, _VARY)
        origin = request.headers.get("Origin")
        if origin and (any_origin or allowed.match(origin)):
            headers.setdefault("Access-Control-Allow-Origin", "*" if any_origin else origin)
            headers["Access-Control-Expose-Headers"] = exposed

    def on_new_request(event: NewRequest) -> None:
        event.request.add_response_callback(add_headers)

    config.add_subscriber(on_new_request, NewRequest)


def setup_public_url(config: Any) -> None:
    """Build every absolute URL on ``cliquet.http_scheme`` and ``cliquet.http_host``.

    Clients choose the ``Host`` header: left alone, it would be written back to them in the
    hello ``url``, ``Next-Page`` and redirects. Once set, these settings replace the
    request's scheme, host and port before routing, for every request and subrequest; empty,
    the request's own are kept (a batch's subrequests take the batch's).
    """
    settings = config.get_settings()
    scheme: str = settings["cliquet.http_scheme"]
    host: str = settings["cliquet.http_host"]
    server_name, port = host, ""
    if host and re.search(r":[0-9]+$", host):
        server_name, port = host.rsplit(":", 1)

    def on_new_request(event: NewRequest) -> None:
        environ = event.request.environ
        parent = environ.get("cliquet.parent_request")
        if parent is not None:
            for key in _ORIGIN_KEYS:
                if key in parent.environ:
                    environ[key] = parent.environ[key]
        if scheme:
            environ["wsgi.url_scheme"] = scheme
        if host:
            environ["HTTP_HOST"] = host
            environ["SERVER_NAME"] = server_name
            environ["SERVER_PORT"] = port or _DEFAULT_PORTS.get(environ["wsgi.url_scheme"], "80")
        elif scheme and not re.search(r":[0-9]+$", environ.get("HTTP_HOST", "")):
            # The port the server listens on is not the public one.
            environ["SERVER_PORT"] = _DEFAULT_PORTS[scheme]

    config.add_subscriber(on_new_request, NewRequest)


def setup_trailing_slash_redirect(config: Any) -> None:
    """Redirect a path with trailing slashes (``/v1/articles/``) to its route without them.

    Only a path that no route matches, and that one matches once stripped, is redirected: the
    hello view keeps ``/v1/``, and a path that is nowhere stays a JSON 404. The answer is a
    307 whatever the method: it keeps a write's method and body (a 301 or 302 may turn a
    POST into a GET), and it is not remembered as a permanent move. The ``Location`` is
    absolute, on the public URL of :func:`setup_public_url` (a step before this one), the
    query string kept: a path such as ``//host/`` can never make it point elsewhere.
    """
    public_host: str = config.get_settings()["cliquet.http_host"]

    def on_new_request(event: NewRequest) -> None:
        request = event.request
        if not request.environ.get("PATH_INFO", "").endswith("/"):
            return
        try:
            path = request.path_info
        except UnicodeDecodeError:
            return  # not UTF-8: the router refuses it
        stripped = path.rstrip("/")
        mapper = request.registry.queryUtility(IRoutesMapper)
        if not stripped or mapper is None:
            return
        routes = mapper.get_routes()
        if any(route.match(path) is not None for route in routes):
            return
        if not any(route.match(stripped) is not None for route in routes):
            return
        if not public_host:
            _check_host(request)  # the Location is built on it
        location = request.application_url + quote(stripped, safe=_PATH_SAFE)
        if request.query_string:
            location = f"{location}?{request.query_string}"
        raise HTTPTemporaryRedirect(location)

    config.add_subscriber(on_new_request, NewRequest)


def run_initialization_sequence(config: Any) -> None:
    """Run each step of ``cliquet.initialization_sequence`` in order."""
    setting = "cliquet.initialization_sequence"
    for dotted in config.get_settings()[setting]:
        step: Callable[[Any], None] = _resolve(
            config, setting, dotted, "dotted paths of functions taking the configurator"
        )
        if not callable(step):
            raise ConfigurationError(
                f"Invalid value for setting {setting!r}: {dotted!r} is not callable; "
                "expected dotted paths of functions taking the configurator."
            )
        step(config)
