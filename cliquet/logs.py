"""Request-summary logging on structlog, with pluggable renderers.

Every request yields one ``request.summary`` event (method, path, status, duration, user);
application code logs through ``request.log`` or ``registry.logger``. structlog only shapes the
event: the rendered string is handed to a stdlib ``logging`` logger (``cliquet`` by default), so
deployments route, filter and format it with ordinary logging configuration (the ``.ini``
``[loggers]`` sections) and no process-wide structlog configuration is ever touched.

Logs never carry users' data from a failing backend: a logged exception's traceback keeps
each failed statement's shape and the database's error, not the statement's parameters nor
the ``DETAIL``/``CONTEXT`` lines where PostgreSQL quotes values (see :func:`redact_exc_info`).

The renderer is the pluggable part (``cliquet.logging_renderer``): a class built with the
settings and called as the last structlog processor, ``renderer(logger, name, event_dict)``,
returning the line to log. Two ship here: :class:`ClassicLogRenderer` for humans and
:class:`JsonLogRenderer` for log pipelines (Mozilla's mozlog shape).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import structlog
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "ClassicLogRenderer",
    "JsonLogRenderer",
    "build_logger",
    "redact_exc_info",
    "request_summary_tween_factory",
    "setup_logging",
]

RENDERER_SETTING = "cliquet.logging_renderer"
DEFAULT_RENDERER = "cliquet.logs.ClassicLogRenderer"
SUMMARY_EVENT = "request.summary"

# syslog severities (RFC 5424) by structlog method name, as mozlog expects them.
_SYSLOG_SEVERITY = {
    "debug": 7,
    "info": 6,
    "notice": 5,
    "warn": 4,
    "warning": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
    "fatal": 2,
}
_DEFAULT_SEVERITY = 6

# Keys the stdlib formatter (or the JSON envelope) already conveys: not repeated as pairs.
_ENVELOPE_KEYS = ("event", "level", "timestamp", "exception")
_SUMMARY_KEYS = ("method", "path", "code", "t")

# An event written as an identifier ("request.summary") rather than a sentence.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
_NEEDS_QUOTES = re.compile(r'[\s"=]')
_MAX_DEPTH = 16


def _safe_str(value: Any) -> str:
    """``str(value)``, falling back to ``repr`` and then a placeholder: a log must not raise."""
    for convert in (str, repr):
        try:
            return convert(value)
        except Exception:
            continue
    return f"<unprintable {type(value).__name__}>"


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` that ``json.dumps`` accepts; anything foreign becomes its ``str``."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        # NaN and infinities would produce invalid JSON.
        return value if math.isfinite(value) else _safe_str(value)
    if depth >= _MAX_DEPTH:
        return _safe_str(value)
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str) else _safe_str(key): _jsonable(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item, depth + 1) for item in value]
    return _safe_str(value)


def _format_value(value: Any) -> str:
    """One ``key=value`` right-hand side, quoted when it would otherwise be ambiguous."""
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        try:
            return json.dumps(_jsonable(value), separators=(",", ":"), sort_keys=True)
        except Exception:
            text = _safe_str(value)
    else:
        text = value if isinstance(value, str) else _safe_str(value)
    if not text or _NEEDS_QUOTES.search(text):
        # json.dumps escapes newlines too, so a value can never forge a second log line.
        return json.dumps(text)
    return text


class ClassicLogRenderer:
    """Render events as one readable line, for development consoles and plain log files.

    A request summary reads ``GET   /v1/articles?x=1 200 (3 ms) request.summary agent=curl/8``;
    any other event is its text followed by its keys as sorted ``key=value`` pairs. Keys whose
    value is ``None`` are left out, and the level and timestamp are left to the stdlib formatter.
    A formatted traceback (``exc_info``) follows the line.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        values = dict(event_dict)
        event = values.pop("event", None)
        traceback = values.pop("exception", None)
        for key in _ENVELOPE_KEYS:
            values.pop(key, None)

        parts = []
        if all(values.get(key) is not None for key in _SUMMARY_KEYS):
            method, path, code, duration = (values.pop(key) for key in _SUMMARY_KEYS)
            parts.append(
                f"{_safe_str(method):<5} {_safe_str(path)} {_safe_str(code)} "
                f"({_safe_str(duration)} ms)"
            )
        if event is not None:
            parts.append(_safe_str(event))
        for key in sorted(values, key=_safe_str):
            if values[key] is not None:
                parts.append(f"{_safe_str(key)}={_format_value(values[key])}")

        line = " ".join(parts)
        if traceback:
            line = f"{line}\n{_safe_str(traceback)}"
        return line


class JsonLogRenderer:
    """Render events as one JSON object per line, in the shape of Mozilla's mozlog.

    Meant for log pipelines (Heka, Fluentd, Logstash): ``Timestamp`` (integer nanoseconds),
    ``Logger`` (``cliquet.project_name``, else ``"cliquet"``), ``Type`` (the event name),
    ``Severity`` (syslog number of the log method), ``Pid``, ``Hostname``, ``EnvVersion`` and
    ``Fields`` (the other keys). An event written as a sentence rather than a name gets
    ``Type`` ``"message"`` and its text in ``Fields["msg"]``. Values JSON cannot hold are
    rendered with ``str()``.
    """

    ENV_VERSION = "2.0"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.logger_name = _safe_str(settings.get("cliquet.project_name") or "cliquet")
        # Looked up once: the host does not change while the process lives.
        self.hostname = socket.gethostname()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(logger_name={self.logger_name!r})"

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        try:
            return json.dumps(self._record(name, dict(event_dict)), separators=(",", ":"))
        except Exception:
            # Last resort (e.g. an integer too long for str()): keep the envelope, lose Fields.
            fallback = self._record(name, {"event": event_dict.get("event")})
            return json.dumps(_jsonable(fallback), separators=(",", ":"))

    def _record(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        event = values.pop("event", None)
        level = values.pop("level", None)
        timestamp = values.pop("timestamp", None)
        fields = {
            key if isinstance(key, str) else _safe_str(key): _jsonable(value)
            for key, value in values.items()
        }
        if isinstance(event, str) and _PLAIN_NAME.fullmatch(event):
            event_type = event
        else:
            event_type = "message"
            if event is not None:
                fields["msg"] = _safe_str(event)

        if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            nanoseconds = int(timestamp * 1_000_000_000)
        else:
            nanoseconds = time.time_ns()
        severity = _SYSLOG_SEVERITY.get(name, _SYSLOG_SEVERITY.get(level, _DEFAULT_SEVERITY))
        return {
            "Timestamp": nanoseconds,
            "Logger": self.logger_name,
            "Type": event_type,
            "Severity": severity,
            "Pid": os.getpid(),
            "Hostname": self.hostname,
            "EnvVersion": self.ENV_VERSION,
            "Fields": dict(sorted(fields.items())),
        }


_PARAMETERS_LINE = re.compile(r"^\[parameters: .*$", re.MULTILINE)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, drivers' originals."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for name in ("__cause__", "__context__", "orig", "original"):
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def _database_message(exc: BaseException) -> str | None:
    """What a database server's error may show in logs, or None when it is not one.

    The primary message only (it names the constraint, column or condition), never the
    ``DETAIL``, ``CONTEXT`` or ``LINE`` parts that quote rows and values; data exceptions
    (SQLSTATE class 22) quote the offending value in their primary message too, so they
    show only their condition's name.
    """
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    if not isinstance(sqlstate, str) or diag is None:
        return None
    primary = getattr(diag, "message_primary", None) or ""
    if sqlstate.startswith("22") or not primary:
        primary = type(exc).__name__
    return f"{primary} (SQLSTATE {sqlstate})"


def _formatted_exception(exc_info: Any) -> tuple[BaseException, str] | None:
    """The exception of ``exc_info`` and its traceback as ``format_exc_info`` renders it."""
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    if exc_info[1] is None:
        return None
    return exc_info[1], "".join(traceback.format_exception(*exc_info))


def redact_exc_info(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """Processor formatting ``exc_info`` into ``exception`` without users' data.

    Database errors are shown by :func:`_database_message` wherever their text appears
    (SQLAlchemy's and the storage's own messages embed it), and ``[parameters: ...]`` lines
    are dropped, should an engine not hide them (cliquet's engines do).
    """
    exc_info = event_dict.pop("exc_info", None)
    formatted = _formatted_exception(exc_info) if exc_info else None
    if formatted is None:
        return event_dict
    exc, text = formatted
    replacements = [
        (_safe_str(inner), safe)
        for inner in _exception_chain(exc)
        if (safe := _database_message(inner)) is not None
    ]
    # The longest first: one message may contain another.
    for unsafe, safe in sorted(replacements, key=lambda pair: -len(pair[0])):
        if unsafe:
            text = text.replace(unsafe, safe)
    event_dict["exception"] = _PARAMETERS_LINE.sub("[parameters hidden]", text)
    return event_dict


def build_logger(renderer: Processor, *, name: str = "cliquet") -> structlog.stdlib.BoundLogger:
    """Build the structlog logger whose rendered lines go to the stdlib logger ``name``.

    The processors belong to this logger alone (``structlog.wrap_logger``), so several apps, or
    tests, can live in one process with different renderers. Events below the stdlib logger's
    effective level are dropped before anything is rendered.

    :param renderer: the last processor, turning the event dict into the logged string.
    :param name: the stdlib logger that receives the lines.
    :returns: a bound logger (``.info(event, **keys)``, ``.bind(**keys)``...).
    """
    processors: list[Processor] = [
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt=None),  # epoch seconds, as a float
        redact_exc_info,
        structlog.processors.format_exc_info,
        renderer,
    ]
    proxy = structlog.wrap_logger(
        logging.getLogger(name),
        processors=processors,
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
    )
    # bind() assembles the real BoundLogger now rather than lazily on first use.
    logger: structlog.stdlib.BoundLogger = proxy.bind()
    return logger


def _load_renderer(config: Configurator, settings: Mapping[str, Any]) -> Processor:
    """Resolve and build the renderer named by the setting, or fail start-up naming it."""
    value = settings.get(RENDERER_SETTING)
    if value is None:
        value = DEFAULT_RENDERER
    expected = "a class taking settings, called as renderer(logger, name, event_dict)"

    def invalid(reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"Invalid setting {RENDERER_SETTING} = {value!r}: expected {expected} ({reason})."
        )

    try:
        factory = config.maybe_dotted(value)
    except (ImportError, AttributeError, ValueError) as exc:
        raise invalid(f"cannot import it: {exc}") from exc
    if not callable(factory):
        raise invalid(f"{type(factory).__name__} object is not callable")
    try:
        renderer = factory(settings)
    except Exception as exc:
        raise invalid(f"building it with the settings failed: {exc!r}") from exc
    if not callable(renderer):
        raise invalid(f"the object it built, {type(renderer).__name__}, is not callable")
    return renderer


def _request_logger(request: Request) -> structlog.stdlib.BoundLogger:
    """``request.log``: the app's logger, reachable wherever the request is."""
    logger: structlog.stdlib.BoundLogger = request.registry.logger
    return logger


def setup_logging(config: Configurator) -> None:
    """Start-up step: build the app's logger and log a summary of every request.

    Reads ``cliquet.logging_renderer`` (default :class:`ClassicLogRenderer`), stores the logger
    as ``registry.logger``, adds ``request.log`` and installs
    :func:`request_summary_tween_factory` above Pyramid's exception view tween, so that the
    summary carries the status of responses made by exception views (404, 500...).

    :param config: the application's configurator.
    :raises pyramid.exceptions.ConfigurationError: if the renderer setting names nothing
        importable, or something that cannot be built with the settings and called.
    """
    settings = config.get_settings()
    renderer = _load_renderer(config, settings)
    config.registry.logger = build_logger(renderer)
    config.add_request_method(_request_logger, "log", reify=True)
    config.add_tween("cliquet.logs.request_summary_tween_factory", over=EXCVIEW)


def _user_id(request: Request) -> Any:
    """The authenticated user id, or ``None``; a failing policy must not break the summary."""
    try:
        return request.authenticated_userid
    except Exception:
        return None


def _errno(response: Response) -> int | None:
    """The ``errno`` of a JSON error body; success bodies are never parsed (they can be big)."""
    if response.status_code < 400 or response.content_type != "application/json":
        return None
    try:
        errno = response.json_body.get("errno")
    except Exception:
        return None
    if isinstance(errno, int) and not isinstance(errno, bool):
        return int(errno)
    return None


def _raw_path_qs(request: Request) -> str:
    """The path and querystring as the client sent them, percent-encoded.

    ``request.path_qs`` decodes the path as UTF-8, which fails on ``/%FF``: such requests
    must be logged too (they are a client's probing), unambiguously.
    """
    environ = request.environ
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    path = urllib.parse.quote(raw, safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def _log_summary(request: Request, response: Response | None, code: int, start: float) -> None:
    logger = getattr(request.registry, "logger", None)
    if logger is None:
        return
    summary: dict[str, Any] = {
        "method": request.method,
        "path": _raw_path_qs(request),
        "code": code,
        "t": round((time.perf_counter() - start) * 1000),
        "agent": request.headers.get("User-Agent"),
        "lang": request.headers.get("Accept-Language"),
        "uid": _user_id(request),
    }
    errno = _errno(response) if response is not None else None
    if errno is not None:
        summary["errno"] = errno
    logger.info(SUMMARY_EVENT, **summary)


def request_summary_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """Tween factory logging one ``request.summary`` event per request, with its duration.

    An exception that escaped every exception view is summarized with code 500 and re-raised.
    A failure while logging is reported on the stdlib ``cliquet.logs`` logger and never
    reaches the client.
    """

    def request_summary_tween(request: Request) -> Response:
        start = time.perf_counter()
        try:
            response = handler(request)
        except Exception:
            _log_summary_safely(request, None, 500, start)
            raise
        _log_summary_safely(request, response, response.status_code, start)
        return response

    return request_summary_tween


def _log_summary_safely(
    request: Request, response: Response | None, code: int, start: float
) -> None:
    try:
        _log_summary(request, response, code, start)
    except Exception:
        try:
            logging.getLogger(__name__).exception("Could not log the request summary")
        except Exception:
            pass  # Logging is broken beyond repair; the response still goes out.
