"""The generated project's WSGI server settings, under clients that hold connections open.

A hundred slow clients, each trickling one header byte every two seconds, must not keep the
load balancer's ``/__lbheartbeat__`` from being answered by a server run with the settings of
the generated ``development.ini`` (waitress), started here on 127.0.0.1.
"""

import configparser
import http.client
import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "project"
SLOW_CLIENTS = 110
TRICKLE_SECONDS = 2.0
ANSWER_WITHIN_SECONDS = 3.0

# Serves a cliquet service on memory backends with the given waitress options.
SERVE = textwrap.dedent(
    """
    import json, sys
    from cliquet.server import serve
    from cliquet.testing.web import build_app

    options = json.loads(sys.argv[2])
    serve(build_app().app, host="127.0.0.1", port=int(sys.argv[1]), **options)
    """
)


def server_options(ini: Path) -> dict[str, str]:
    """The waitress options of ``[server:main]``, but where it listens."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini)
    section = {k: v for k, v in parser["server:main"].items() if k not in parser.defaults()}
    # cliquet's waitress runner: waitress's own answers are JSON errors too.
    assert section.pop("use") == "call:cliquet.server:main"
    for name in ("host", "port", "get port", "listen"):
        section.pop(name, None)
    return section


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


@pytest.fixture
def served(cookies):
    """Start waitress with the generated development.ini's options; yields its port."""
    result = cookies.bake(template=str(TEMPLATE))
    assert result.exception is None, result.exception
    options = server_options(result.project_path / "development.ini")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port), json.dumps(options)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(port, process)
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stderr.close()


def lbheartbeat_seconds(port: int) -> float:
    start = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_WITHIN_SECONDS)
    try:
        connection.request("GET", "/v1/__lbheartbeat__")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    finally:
        connection.close()
    return time.monotonic() - start


def test_development_ini_limits_what_one_client_may_hold(cookies):
    result = cookies.bake(template=str(TEMPLATE))
    options = server_options(result.project_path / "development.ini")
    for name in (
        "threads",
        "connection_limit",
        "channel_timeout",
        "cleanup_interval",
        "max_request_header_size",
        "max_request_body_size",
        "asyncore_use_poll",
    ):
        assert name in options, name
    # Slow clients must not fill the connection limit before the load balancer gets in.
    assert int(options["connection_limit"]) > SLOW_CLIENTS


def test_slow_clients_do_not_keep_the_lbheartbeat_from_answering(served):
    port = served
    clients = []
    try:
        for _ in range(SLOW_CLIENTS):
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            clients.append(client)
        # Let the server take them all in, trickling meanwhile, then ask while they trickle.
        deadline = time.monotonic() + 2 * TRICKLE_SECONDS
        while time.monotonic() < deadline:
            for client in clients:
                client.sendall(b"a")
            time.sleep(TRICKLE_SECONDS / 2)
        assert lbheartbeat_seconds(port) < ANSWER_WITHIN_SECONDS
        for client in clients:
            client.sendall(b"a")
        # The slow clients are still connected: nothing above closed them.
        assert lbheartbeat_seconds(port) < ANSWER_WITHIN_SECONDS
    finally:
        for client in clients:
            client.close()


def test_the_servers_own_answers_are_json_errors(served):
    with socket.create_connection(("127.0.0.1", served), timeout=5) as client:
        # Refused by waitress itself, before the application sees it.
        client.sendall(b"GET /v1/ HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["code"] == 400
