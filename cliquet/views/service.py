"""Hello (``/``), ``/__heartbeat__``, ``/__lbheartbeat__``, ``/__version__`` and ``/__api__``."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from typing import Any

from pyramid.events import ApplicationCreated
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPNotFound

from cliquet import openapi
from cliquet.errors import ERRORS, http_error
from cliquet.settings import PUBLIC_SETTINGS

__all__ = ["includeme", "run_heartbeats"]


def _hello(request: Any) -> dict[str, Any]:
    settings = request.registry.settings
    data: dict[str, Any] = {
        "project_name": settings["cliquet.project_name"],
        "project_version": settings["cliquet.project_version"],
        "http_api_version": settings["cliquet.http_api_version"],
        "project_docs": settings["cliquet.project_docs"],
        "url": request.route_url("hello"),
        "openapi": request.route_url("openapi"),
        "settings": {name.split(".", 1)[1]: settings[name] for name in PUBLIC_SETTINGS},
        "capabilities": request.registry.api_capabilities,
    }
    userid = request.authenticated_userid
    if userid:
        data["user"] = {"id": userid}
    return data


class _HeartbeatRunner:
    """The threads running an app's checks: built once, at most one busy thread per check.

    A check still running from an earlier poll (a hung backend) is not started again: it
    counts as failing until it returns. Polling ``/__heartbeat__`` during an outage thus
    costs no new thread and no wait for that check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._running: dict[str, Future[Any]] = {}

    def start(self, request: Any, checks: dict[str, Any]) -> dict[str, Future[Any] | None]:
        """Start each check unless it is still running (None for those)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, len(checks)), thread_name_prefix="heartbeat"
                )
            futures: dict[str, Future[Any] | None] = {}
            for name, check in checks.items():
                previous = self._running.get(name)
                if previous is not None and not previous.done():
                    futures[name] = None
                    continue
                futures[name] = self._running[name] = self._executor.submit(check, request)
            return futures


_RUNNER_LOCK = threading.Lock()


def _runner(registry: Any) -> _HeartbeatRunner:
    runner: _HeartbeatRunner | None = getattr(registry, "cliquet_heartbeat_runner", None)
    if runner is None:
        with _RUNNER_LOCK:
            runner = getattr(registry, "cliquet_heartbeat_runner", None)
            if runner is None:
                runner = registry.cliquet_heartbeat_runner = _HeartbeatRunner()
    return runner


def run_heartbeats(request: Any, timeout: float) -> dict[str, bool]:
    """Run every registered check at once; one that fails, raises or overruns is False.

    The checks run in the app's heartbeat threads so that a hung backend costs ``timeout`` at
    most; a check still running when the time is up is left to finish in the background, and
    is reported False, without being started again, until it has.
    """
    checks = request.registry.heartbeats
    if not checks:
        return {}
    futures = _runner(request.registry).start(request, dict(checks))
    deadline = time.monotonic() + timeout
    results = {}
    for name, future in futures.items():
        if future is None:
            results[name] = False
            continue
        try:
            result = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:
            result = False
        results[name] = result is True
    return results


def _heartbeat(request: Any) -> dict[str, bool]:
    timeout = request.registry.settings["cliquet.heartbeat_timeout_seconds"]
    results = run_heartbeats(request, timeout)
    if not all(results.values()):
        request.response.status = 503
    return results


def _lbheartbeat(request: Any) -> dict[str, Any]:
    return {}


def _openapi(request: Any) -> dict[str, Any]:
    return openapi.document(request.registry)


def _build_openapi(event: ApplicationCreated) -> None:
    # Once everything is registered (extensions, scanned resources): at start-up, not on
    # the first request.
    openapi.document(event.app.registry)


def _read_version_file(path: str) -> dict[str, Any] | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigurationError(
            f"Invalid value for setting 'cliquet.version_json_path': {path!r} is not readable "
            f"JSON ({e}); expected a JSON file or no file."
        ) from None
    return content


def _package_version(settings: Any) -> dict[str, str] | None:
    """What ``/__version__`` answers without ``version.json``: the service's version.

    That is the version its ``main()`` gave :func:`cliquet.initialize` (a generated project
    gives its package's ``__version__``, which its distribution's metadata is built from),
    else the installed version of the distribution named ``cliquet.project_name``.
    """
    name = settings["cliquet.project_name"]
    version = settings["cliquet.project_version"]
    if not version and name:
        try:
            version = metadata.version(name)
        except (metadata.PackageNotFoundError, ValueError):
            version = ""
    return {"name": name, "version": version} if version else None


def includeme(config: Any) -> None:
    from cliquet.views import add_open_services

    settings = config.get_settings()
    version = _read_version_file(settings["cliquet.version_json_path"])
    if version is None:
        version = _package_version(settings)

    def _version(request: Any) -> Any:
        if version is None:
            raise http_error(
                HTTPNotFound(),
                errno=ERRORS.MISSING_RESOURCE,
                message="No version.json file and no version of the service.",
            )
        return version

    views = [
        ("hello", "/", _hello, "Welcome"),
        ("heartbeat", "/__heartbeat__", _heartbeat, "Backends health"),
        ("lbheartbeat", "/__lbheartbeat__", _lbheartbeat, "Process health"),
        ("version", "/__version__", _version, "Deployed version"),
        ("openapi", "/__api__", _openapi, "OpenAPI 3.1 document of the service"),
    ]
    add_open_services(config, "GET", views)
    config.add_subscriber(_build_openapi, ApplicationCreated)
