"""Settings: defaults, environment overrides and typed values, all settled at start-up.

A setting's value comes from, in rising order of precedence: the defaults (cliquet's and an
extension's), the ``.ini`` file, then an environment variable named after the setting
(upper-cased, ``.`` → ``_``: ``cliquet.storage_backend`` ← ``CLIQUET_STORAGE_BACKEND``).

Each setting that has a default is converted once, here, to the type of that default (or the
type declared in :data:`SETTING_TYPES`): request-time code reads typed values and never parses.
A value that does not convert stops start-up with a ``ConfigurationError`` naming the setting.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

__all__ = [
    "SettingError",
    "DEFAULT_SETTINGS",
    "SETTING_TYPES",
    "PUBLIC_SETTINGS",
    "load_default_settings",
    "env_variable_name",
    "read_int",
]


DEFAULT_SETTINGS: dict[str, Any] = {
    "cliquet.project_name": "",
    "cliquet.project_version": "",
    "cliquet.project_docs": "",
    "cliquet.http_api_version": "1.0",
    "cliquet.http_scheme": "",
    "cliquet.http_host": "",
    "cliquet.initialization_sequence": [
        "cliquet.initialization.setup_public_url",
        "cliquet.initialization.setup_response_headers",
        "cliquet.initialization.setup_request_checks",
        "cliquet.initialization.setup_trailing_slash_redirect",
        "cliquet.logs.setup_logging",
        "cliquet.initialization.setup_storage",
        "cliquet.initialization.setup_cache",
        "cliquet.initialization.setup_permission",
        "cliquet.initialization.setup_authentication",
        "cliquet.initialization.setup_transactions",
        "cliquet.listeners.setup_listeners",
    ],
    "cliquet.includes": [],
    "cliquet.event_listeners": [],
    "cliquet.migrate_on_startup": False,
    "cliquet.storage_backend": "cliquet.storage.memory",
    "cliquet.storage_url": "",
    "cliquet.storage_max_fetch_size": 10000,
    "cliquet.cache_backend": "cliquet.cache.memory",
    "cliquet.cache_url": "",
    "cliquet.cache_prefix": "",
    "cliquet.permission_backend": "cliquet.permission.memory",
    "cliquet.permission_url": "",
    "cliquet.paginate_by": None,
    "cliquet.batch_max_requests": 25,
    "cliquet.max_request_body_bytes": 1048576,
    "cliquet.max_filters": 50,
    "cliquet.max_sort_fields": 10,
    "cliquet.max_in_values": 500,
    "cliquet.backoff": None,
    "cliquet.retry_after_seconds": 30,
    "cliquet.heartbeat_timeout_seconds": 10,
    "cliquet.readonly": False,
    "cliquet.eos": None,
    "cliquet.eos_message": "",
    "cliquet.eos_url": "",
    "cliquet.cors_origins": ["*"],
    "cliquet.cors_max_age_seconds": 3600,
    "cliquet.client_enabled": True,
    "cliquet.logging_renderer": "cliquet.logs.ClassicLogRenderer",
    "cliquet.version_json_path": "version.json",
    "cliquet.userid_hmac_secret": "",
    "cliquet.userid_hmac_secret_required": False,
    "multiauth.policies": "basicauth",
    "multiauth.policy.basicauth.use": "cliquet.authentication.BasicAuthAuthenticationPolicy",
    "multiauth.authorization_policy": "cliquet.authorization.AuthorizationPolicy",
}

# What each default means, for the README's settings table (kept in step by a test).
SETTING_DOCS: dict[str, str] = {
    "cliquet.project_name": "Name shown by the hello view and in JSON logs.",
    "cliquet.project_version": "Version shown by the hello view (set by `initialize`).",
    "cliquet.project_docs": "URL of the service's documentation (hello view).",
    "cliquet.http_api_version": "API version; its major number is the route prefix (`/v1`).",
    "cliquet.http_scheme": "Scheme of every absolute URL (`https`; empty: the request's).",
    "cliquet.http_host": "Host[:port] of every absolute URL (empty: the request's `Host`).",
    "cliquet.initialization_sequence": "Ordered start-up steps (dotted paths).",
    "cliquet.includes": "Packages `config.include()`d after initialization.",
    "cliquet.event_listeners": "Names of listeners of committed changes (see Events).",
    "cliquet.migrate_on_startup": "Create or upgrade the backends' schemas at start-up.",
    "cliquet.storage_backend": "Storage module (dotted path with `load_from_config`).",
    "cliquet.storage_url": "Storage backend URL.",
    "cliquet.storage_max_fetch_size": "Most records one storage call returns.",
    "cliquet.cache_backend": "Cache module (dotted path with `load_from_config`).",
    "cliquet.cache_url": "Cache backend URL.",
    "cliquet.cache_prefix": "Prefix of every cache key (share one server between services).",
    "cliquet.permission_backend": "Permission module (dotted path with `load_from_config`).",
    "cliquet.permission_url": "Permission backend URL.",
    "cliquet.paginate_by": "Default and largest page size (none: `storage_max_fetch_size`).",
    "cliquet.batch_max_requests": "Most subrequests in one `POST /batch`.",
    "cliquet.max_request_body_bytes": "Largest request body accepted (413 errno 113 above).",
    "cliquet.max_filters": "Most filters in one querystring (400 errno 107 above).",
    "cliquet.max_sort_fields": "Most fields in one `_sort` (400 errno 107 above).",
    "cliquet.max_in_values": "Most values of one `in_`/`exclude_` filter (400 errno 107 above).",
    "cliquet.backoff": "Seconds sent in a `Backoff` header on every response (none: no header).",
    "cliquet.retry_after_seconds": "Seconds sent in `Retry-After` on 503 and 429 responses.",
    "cliquet.heartbeat_timeout_seconds": "Time bound of each `__heartbeat__` check.",
    "cliquet.readonly": "Refuse every write with 405 errno 115.",
    "cliquet.eos": "End-of-service date (YYYY-MM-DD): `Alert` header before, 410 after.",
    "cliquet.eos_message": "Message of the end-of-service alert.",
    "cliquet.eos_url": "URL of the end-of-service alert.",
    "cliquet.cors_origins": "Origins allowed by CORS.",
    "cliquet.cors_max_age_seconds": "How long browsers may cache a CORS preflight.",
    "cliquet.client_enabled": "Serve the JavaScript client at `/__client__/` (a capability).",
    "cliquet.logging_renderer": "Log renderer class (`cliquet.logs.JsonLogRenderer` for JSON).",
    "cliquet.version_json_path": "File served by `/__version__` (absent: the service's version).",
    "cliquet.userid_hmac_secret": "Secret keying the basic-auth user ids. Set it!",
    "cliquet.userid_hmac_secret_required": "Refuse basic auth with a weak secret (empty, `...`).",
    "multiauth.policies": "Authentication policies, by name, tried in order.",
    "multiauth.policy.basicauth.use": "Class of the `basicauth` policy.",
    "multiauth.authorization_policy": "Class deciding permissions (resources' rules, else ACLs).",
}

# The settings the hello view shows to anyone.
PUBLIC_SETTINGS = ("cliquet.batch_max_requests", "cliquet.readonly")

_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f", ""}


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("a boolean (true/false, yes/no, on/off, 1/0)")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("an integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError("an integer") from None


def _as_optional_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _as_int(value)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return aslist(value)


def _as_optional_date(value: Any) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if not text or text.lower() == "none":
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError("a date as YYYY-MM-DD") from None


def _as_str(value: Any) -> str:
    return "" if value is None else str(value)


def _as_http_scheme(value: Any) -> str:
    text = _as_str(value).strip().lower()
    if text not in ("", "http", "https"):
        raise ValueError("http, https or nothing")
    return text


# Dot-separated labels (no empty one), or a bracketed IPv6 address; then an optional port.
_HTTP_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


def _as_http_host(value: Any) -> str:
    text = _as_str(value).strip().lower()
    if not text:
        return text
    match = _HTTP_HOST.fullmatch(text)
    if not match or (match["port"] is not None and not 1 <= int(match["port"]) <= 65535):
        raise ValueError("host or host:port (port 1-65535; no scheme, no path), or nothing")
    return text


Coercer = Callable[[Any], Any]

# Settings whose default (None) does not tell their type.
SETTING_TYPES: dict[str, Coercer] = {
    "cliquet.paginate_by": _as_optional_int,
    "cliquet.backoff": _as_optional_int,
    "cliquet.eos": _as_optional_date,
    "cliquet.http_scheme": _as_http_scheme,
    "cliquet.http_host": _as_http_host,
}


def _coercer_for(name: str, default: Any) -> Coercer | None:
    if name in SETTING_TYPES:
        return SETTING_TYPES[name]
    if isinstance(default, bool):
        return _as_bool
    if isinstance(default, int):
        return _as_int
    if isinstance(default, (list, tuple)):
        return _as_list
    if isinstance(default, str):
        return _as_str
    return None


def read_int(
    settings: Mapping[str, Any], key: str, default: int, *, minimum: int | None = None
) -> int:
    """An integer setting that has no entry in a defaults table (backends' pool sizes...).

    Missing or empty: ``default``. Typed or text values are accepted, as from an ``.ini``.

    :raises pyramid.exceptions.ConfigurationError: not an integer, or under ``minimum``.
    """
    value = settings.get(key)
    if value is None or value == "":
        return default
    try:
        number = _as_int(value)
    except ValueError:
        number = None
    if number is None or (minimum is not None and number < minimum):
        expected = "an integer" if minimum is None else f"an integer of at least {minimum}"
        raise SettingError(key, f"is {value!r}", expected=expected)
    return number


def env_variable_name(setting: str) -> str:
    """The environment variable that overrides ``setting`` (``a.b_c`` → ``A_B_C``)."""
    return setting.upper().replace(".", "_").replace("-", "_")


class SettingError(ConfigurationError):
    """A setting that is missing or wrong, by name, and where to set it.

    Its message is one line: what is wrong, then where to set the setting, in the ``.ini`` or
    in its environment variable (which wins). Loaded from a file by a server (see
    :func:`cliquet.startup.app_factory`), a service that raises it stops with that line alone,
    naming the file.

    :param setting: the setting's name (``cliquet.storage_url``).
    :param problem: what is wrong, after the name (``is empty``, ``is 'lots'``).
    :param expected: what would do, if it can be said (``an integer``).
    """

    def __init__(self, setting: str, problem: str, *, expected: str = "") -> None:
        self.setting = setting
        self.problem = problem
        self.expected = expected
        super().__init__(self.line())

    @property
    def environment_variable(self) -> str:
        """The environment variable that overrides the setting."""
        return env_variable_name(self.setting)

    def line(self, source: str | None = None, *, environ: Mapping[str, str] | None = None) -> str:
        """The one-line message, naming ``source`` (the ``.ini`` file) when known.

        :param environ: where to look whether the environment variable gave the value.
        """
        environ = os.environ if environ is None else environ
        where = source or "the .ini file"
        variable = self.environment_variable
        what = f"{self.setting} {self.problem}"
        if self.expected:
            what += f" (expected {self.expected})"
        if variable in environ:
            return f"{what}: set it in {variable}, which overrides {where}"
        return f"{what}: set it in {where} or {variable}"


def _convert(name: str, value: Any, default: Any) -> Any:
    coercer = _coercer_for(name, default)
    if coercer is None:
        return value
    try:
        return coercer(value)
    except ValueError as e:
        raise SettingError(name, f"is {value!r}", expected=str(e)) from None


def apply_defaults(
    settings: dict[str, Any],
    defaults: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the settings of ``defaults``' keys, merged, overridden and typed.

    Only the keys of ``defaults`` are returned; ``settings`` is not modified.

    :raises pyramid.exceptions.ConfigurationError: a value does not convert.
    """
    environ = os.environ if environ is None else environ
    result = {}
    for name, default in defaults.items():
        value = settings.get(name, default)
        env_name = env_variable_name(name)
        if env_name in environ:
            value = environ[env_name]
        result[name] = _convert(name, value, default)
    return result


def load_default_settings(config: Any, default_settings: Mapping[str, Any]) -> None:
    """Fill in missing settings, apply environment overrides and type the values.

    Extensions call it from their ``includeme`` with their own ``DEFAULT_SETTINGS``; after it,
    ``config.get_settings()[name]`` holds a typed value, and the environment variable of the
    setting (see :func:`env_variable_name`) wins over the ``.ini``.

    :param config: the Pyramid ``Configurator``.
    :param default_settings: setting name → default value (its type is the setting's type).
    :raises pyramid.exceptions.ConfigurationError: a value does not convert.
    """
    settings = config.get_settings()
    config.add_settings(apply_defaults(settings, default_settings))


# ``CLIQUET_<NAME>`` names ``cliquet.<name>`` when the ``.ini`` does not name it.
_CLIQUET_VARIABLE = re.compile(r"CLIQUET_([A-Z0-9][A-Z0-9_]*)")


def override_from_environment(config: Any) -> None:
    """Let the environment override every setting given in the ``.ini``, defaults or not.

    A ``CLIQUET_*`` variable also sets the ``cliquet.*`` setting the ``.ini`` leaves out, so
    that a service configured by its environment alone can set what has no default in the
    table (``CLIQUET_STORAGE_POOL_TIMEOUT_SECONDS``): the name is read back as ``cliquet.``
    and the rest in lower case, which cannot tell a ``.`` from a ``_`` after that (settings
    such as ``cliquet.event_listeners.<name>.url`` are overridden only when the ``.ini``
    names them).
    """
    settings = config.get_settings()
    overrides = {}
    for name in list(settings):
        env_name = env_variable_name(name)
        if env_name in os.environ:
            overrides[name] = os.environ[env_name]
    for env_name, value in os.environ.items():
        match = _CLIQUET_VARIABLE.fullmatch(env_name)
        if match:
            overrides.setdefault(f"cliquet.{match[1].lower()}", value)
    if overrides:
        config.add_settings(overrides)
