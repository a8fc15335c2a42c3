"""Serve a cliquet service with waitress, every answer in cliquet's JSON error format.

Waitress answers some requests itself, before the application sees them (a malformed
request, headers over ``max_request_header_size``: 431, a body over
``max_request_body_size``: 413), and answers 500 when the application raises: all in
``text/plain``. Served by :func:`main`, those answers are JSON errors like the service's own.

In the ``.ini`` of a service, instead of ``use = egg:waitress#main``::

    [server:main]
    use = call:cliquet.server:main
    listen = localhost:8888

Every waitress setting (``threads``, ``channel_timeout``...) is passed on as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.server import create_server as _create_waitress_server
from waitress.task import ErrorTask

from cliquet.errors import errno_for_status, json_error_response

__all__ = ["JSONErrorTask", "JSONChannel", "create_server", "serve", "main"]


class JSONErrorTask(ErrorTask):  # type: ignore[misc]
    """Waitress's own error answers, as cliquet JSON errors."""

    def execute(self) -> None:
        error = self.request.error
        code = int(error.code)
        response = json_error_response(
            code,
            code=code,
            errno=errno_for_status(code),
            error=error.reason,
            message=str(error.body),
        )
        self.status = f"{code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(response.body)
        self.write(response.body)


class JSONChannel(HTTPChannel):  # type: ignore[misc]
    """A waitress connection whose error answers are :class:`JSONErrorTask`."""

    error_task_class = JSONErrorTask


def create_server(app: Any, **adjustments: Any) -> Any:
    """``waitress.create_server`` whose connections answer errors in JSON.

    :param app: the WSGI application.
    :param adjustments: waitress settings (``listen``, ``threads``...).
    :returns: the waitress server, not yet running (call ``run()``).
    """
    server = _create_waitress_server(app, **adjustments)
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = JSONChannel
    return server


def serve(app: Any, **adjustments: Any) -> None:
    """Serve ``app`` until interrupted, as ``waitress.serve`` does (see :func:`create_server`)."""
    logging.basicConfig()  # as waitress does; a no-op once logging is configured
    server = create_server(app, **adjustments)
    server.print_listen("Serving on http://{}:{}")
    server.run()


def main(global_conf: Mapping[str, Any] | None = None, **settings: Any) -> Callable[[Any], None]:
    """PasteDeploy server factory (``use = call:cliquet.server:main``).

    :param global_conf: the ``[DEFAULT]`` section (unused).
    :param settings: the ``[server:main]`` settings: waitress's.
    :returns: what serves the application it is given.
    """

    def run(app: Any) -> None:
        serve(app, **settings)

    return run
