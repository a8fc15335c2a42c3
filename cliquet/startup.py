"""A service that cannot start says why in one line, not in a traceback.

``pserve`` and ``gunicorn --paste`` build the application by calling its PasteDeploy factory
(a service's ``main``) and print whatever it raises with its traceback: one for ``pserve``,
one per worker for gunicorn. A factory decorated with :func:`app_factory` turns a
configuration error into :exc:`SystemExit` with one line (``cliquet.storage_url is empty:
set it in production.ini or CLIQUET_STORAGE_URL``), which Python prints alone on stderr
before exiting with status 1. The generated ``gunicorn.conf.py`` builds the application once,
in gunicorn's master (``preload_app``), so that the line is printed once and no worker starts.

Only when the factory is loaded from a file (PasteDeploy passes ``__file__``): called
directly, by tests or scripts, it raises the error as it is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pyramid.exceptions import ConfigurationError

from cliquet.settings import SettingError

__all__ = ["app_factory", "error_line"]

F = TypeVar("F", bound=Callable[..., Any])


def error_line(error: ConfigurationError, source: str | None = None) -> str:
    """``error`` as one line, naming ``source`` (the ``.ini`` file) where it helps.

    A :class:`~cliquet.settings.SettingError` names the setting and its environment
    variable; another configuration error keeps its message, on one line.
    """
    if isinstance(error, SettingError):
        return error.line(source)
    message = " ".join(str(error).split())
    return f"{source}: {message}" if source else message


def app_factory(factory: F) -> F:
    """Decorate a PasteDeploy app factory (``main(global_config, **settings)``).

    Loaded from an ``.ini`` file, a factory that raises
    :class:`~pyramid.exceptions.ConfigurationError` (every wrong setting of cliquet's is a
    :class:`~cliquet.settings.SettingError`) exits with :func:`error_line` instead.
    """

    @functools.wraps(factory)
    def wrapper(global_config: Mapping[str, Any] | None = None, **settings: Any) -> Any:
        try:
            return factory(global_config, **settings)
        except ConfigurationError as e:
            path = (global_config or {}).get("__file__")
            if not path:
                raise
            raise SystemExit(error_line(e, os.path.basename(str(path)))) from None

    return wrapper  # type: ignore[return-value]
