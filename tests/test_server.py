"""cliquet.server: waitress's own answers are cliquet JSON errors too."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from paste.deploy.loadwsgi import loadserver

from cliquet import server as cliquet_server
from cliquet.testing.web import build_app


def _failing_app(environ: dict[str, Any], start_response: Any) -> Any:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start a server of an app on a free port; yield a function sending raw requests."""
    servers = []

    def start(app: Any, **adjustments: Any) -> Any:
        server = cliquet_server.create_server(
            app, host="127.0.0.1", port=0, threads=1, **adjustments
        )
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)

        def send(raw: bytes) -> tuple[int, dict[str, str], bytes]:
            with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as s:
                s.sendall(raw)
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
            head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in header_lines)
            return int(status_line.split()[1]), headers, body

        return send

    yield start
    for server in servers:
        server.close()


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, errno: int) -> None:
    code, headers, body = answer
    assert code == status
    assert headers["Content-Type"].split(";")[0] == "application/json"
    error = json.loads(body)
    assert error["code"] == status
    assert error["errno"] == errno
    assert error["error"] and error["message"]


def test_malformed_request_is_a_json_400(serve: Any) -> None:
    send = serve(_failing_app)
    assert_json_error(send(b"GET / HTTP/1.1\r\nHost x\r\n\r\n"), 400, 107)


def test_headers_too_large_are_a_json_431(serve: Any) -> None:
    send = serve(_failing_app, max_request_header_size=1000)
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    assert_json_error(send(raw), 431, 107)


def test_body_too_large_is_a_json_413(serve: Any) -> None:
    send = serve(_failing_app, max_request_body_size=10)
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"a" * 100
    assert_json_error(send(raw), 413, 113)


def test_an_application_crash_is_a_json_500(serve: Any) -> None:
    send = serve(_failing_app)
    assert_json_error(send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"), 500, 999)


def test_other_answers_are_the_applications(serve: Any) -> None:
    send = serve(_failing_app)
    assert send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[::2] == (200, b"ok")


def test_a_cliquet_service_behind_it_answers_bad_urls_in_json(serve: Any) -> None:
    send = serve(build_app().app)
    for path, status, errno in ((b"/v1/%FF", 400, 107), (b"/v1/%0A", 400, 107)):
        raw = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert_json_error(send(raw), status, errno)


def test_paste_deploy_runs_it_as_a_server_runner(tmp_path: Any, monkeypatch: Any) -> None:
    served = []

    class FakeServer:
        def print_listen(self, message: str) -> None:
            pass

        def run(self) -> None:
            served.append(True)

    def fake_create_server(app: Any, **adjustments: Any) -> FakeServer:
        served.append((app, adjustments))
        return FakeServer()

    monkeypatch.setattr(cliquet_server, "create_server", fake_create_server)
    ini = tmp_path / "service.ini"
    ini.write_text("[server:main]\nuse = call:cliquet.server:main\nlisten = 127.0.0.1:1\n")
    loadserver(f"config:{ini}")(_failing_app)
    assert served == [(_failing_app, {"listen": "127.0.0.1:1"}), True]
