"""Requests to a served service written byte for byte, on keep-alive connections.

:class:`Connection` sends what no client library would (control characters in a header,
bytes that are not UTF-8, a method of its own) and reads the answer with ``http.client``, on
one HTTP/1.1 connection kept open between requests (load without a handshake per request).
:class:`ServedApp` is what ``tests.security.hostile.send`` needs of a WebTest application,
over such a connection: the hostile requests of the security suite and its fuzzer
(``tests.security.fuzz.run``) then reach a service in a process of its own.
"""

from __future__ import annotations

import http.client
import socket
import string
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import webob

__all__ = ["Connection", "Reply", "ServedApp"]

# What may stay as it is in a request target: printable ASCII but whitespace and "#" (which
# would start a fragment); "%" starts the escapes that are already there.
_TARGET_SAFE = "".join(c for c in string.printable if c not in string.whitespace + "#")
# A request left without an answer on a reused connection: the server closed it meanwhile.
_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _wire(text: str | bytes) -> bytes:
    """Bytes for the wire: Latin-1 when it can be, UTF-8 (lone surrogates kept) else."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


class Connection:
    """One keep-alive HTTP/1.1 connection to ``127.0.0.1:port``; not for several threads.

    Reconnects when the server closed the connection, and sends a request again only when a
    reused connection got no answer at all (the server had closed it before reading it).
    """

    def __init__(self, port: int, *, timeout: float = 30) -> None:
        self.port = port
        self.timeout = timeout
        self._socket: socket.socket | None = None

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str | bytes]] = (),
        body: bytes | None = None,
    ) -> Reply:
        """Send ``method target`` with exactly ``headers`` (plus ``Host`` when they have none
        and ``Content-Length`` when there is a body) and read the answer."""
        head = [(_wire(k), _wire(v)) for k, v in headers]
        if not any(k.lower() == b"host" for k, _ in head):
            head.insert(0, (b"Host", f"127.0.0.1:{self.port}".encode()))
        if body is not None:
            head = [(k, v) for k, v in head if k.lower() != b"content-length"]
            head.append((b"Content-Length", str(len(body)).encode()))
        quoted = urllib.parse.quote(target, safe=_TARGET_SAFE, errors="surrogatepass")
        lines = [_wire(method) + b" " + quoted.encode() + b" HTTP/1.1"]
        lines.extend(k + b": " + v for k, v in head)
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
        reused = self._socket is not None
        try:
            return self._exchange(method, raw)
        except _CLOSED:
            self.close()
            if not reused:
                raise
        return self._exchange(method, raw)

    def _exchange(self, method: str, raw: bytes) -> Reply:
        if self._socket is None:
            self._socket = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        try:
            self._socket.sendall(raw)
            response = http.client.HTTPResponse(self._socket, method=method)
            response.begin()
            body = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Reply(response.status, response.reason, response.getheaders(), body)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class ServedApp:
    """The served service as ``tests.security.hostile.send`` calls a WebTest app.

    A request built in-process (``webob.Request.blank``: its path decoded into ``PATH_INFO``,
    its query string raw) is put on the wire as a client would: the path percent-encoded
    again, the headers and the body as they are. One per thread.
    """

    def __init__(self, port: int) -> None:
        self.connection = Connection(port)

    @staticmethod
    def target(request: webob.Request) -> str:
        """The request target a client sends for ``request``: its path escaped again."""
        environ = request.environ
        path = urllib.parse.quote(environ["PATH_INFO"].encode("latin-1"), safe="/")
        query = environ.get("QUERY_STRING", "")
        return path + ("?" + query if query else "")

    def do_request(self, request: webob.Request, status: Any = None, expect_errors: Any = None):
        target = self.target(request)
        has_body = bool(request.body) or request.method in ("POST", "PUT", "PATCH")
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in ("content-length", "host")
        ]
        reply = self.connection.request(
            request.method, target, headers, request.body if has_body else None
        )
        response = webob.Response(body=reply.body, headerlist=reply.headers)
        response.status = f"{reply.status} {reply.reason}"
        return response

    def close(self) -> None:
        self.connection.close()
