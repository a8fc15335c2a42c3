"""Helpers to test a cliquet service through HTTP with WebTest (the ``dev`` extra).

::

    from cliquet.testing.web import build_app, basic_auth

    app = build_app({"cliquet.readonly": "true"})
    app.get("/v1/", headers=basic_auth("alice"))
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import webtest
from pyramid.config import Configurator

import cliquet

__all__ = ["TEST_SETTINGS", "build_app", "basic_auth"]

# Memory backends and a known secret: fast, isolated, reproducible user ids.
TEST_SETTINGS: dict[str, Any] = {
    "cliquet.project_name": "testapp",
    "cliquet.storage_backend": "cliquet.storage.memory",
    "cliquet.cache_backend": "cliquet.cache.memory",
    "cliquet.permission_backend": "cliquet.permission.memory",
    "cliquet.userid_hmac_secret": "test-secret",
}


def build_app(
    settings: Mapping[str, Any] | None = None,
    *,
    version: str = "0.0.1",
    setup: Callable[[Configurator], None] | None = None,
) -> webtest.TestApp:
    """A ``webtest.TestApp`` of a service built by :func:`cliquet.initialize`.

    :param settings: settings over :data:`TEST_SETTINGS` (as an ``.ini`` would give them).
    :param version: the service version.
    :param setup: called with the configurator after ``initialize`` (add views, scan...).
    """
    config = Configurator(settings={**TEST_SETTINGS, **(settings or {})})
    cliquet.initialize(config, version)
    if setup is not None:
        setup(config)
    return webtest.TestApp(config.make_wsgi_app())


def basic_auth(user: str = "alice", password: str = "secret") -> dict[str, str]:
    """The ``Authorization`` header of a basic-auth request."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}
