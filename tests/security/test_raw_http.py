"""Items 12 and 14: what the WSGI server of a generated project answers to malformed HTTP.

The test service is served by ``pserve`` with the ``[server:main]`` section of the project
template's ``development.ini`` (host and port aside), and raw bytes are sent to it: every answer,
the server's own included, must be the JSON error format.
"""

import configparser
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE_INI = ROOT / "templates" / "project" / "{{cookiecutter.project_name}}" / "development.ini"

pytestmark = pytest.mark.served


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_section():
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    parser.read_string(TEMPLATE_INI.read_text())
    return {
        key: value
        for key, value in parser.items("server:main")
        if key not in ("host", "port", "get port", "listen", *parser.defaults())
        and "{{" not in value
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    port = _free_port()
    server = "\n".join(f"{k} = {v}" for k, v in _server_section().items())
    ini = tmp_path_factory.mktemp("served") / "served.ini"
    ini.write_text(
        "[app:main]\nuse = call:tests.security.served:make_app\n\n"
        f"[server:main]\n{server}\nhost = 127.0.0.1\nport = {port}\n"
    )
    pserve = pathlib.Path(sys.executable).with_name("pserve")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [str(pserve), str(ini)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                stderr = process.stderr.read().decode(errors="replace")
                pytest.fail(f"pserve did not start: {stderr[-2000:]}")
            time.sleep(0.2)
    yield port
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exchange(port, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            # The server answered before the whole request was sent (a body past the cap: 413)
            # and closed; what it answered is still in the socket's buffer, read below.
            pass
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _parse(answer: bytes):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if not size:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


MALFORMED = [
    pytest.param(b"GARBAGE\r\n\r\n", id="bad-request-line"),
    pytest.param(b"GET /v1/ HTTP/9.9\r\nHost: x\r\n\r\n", id="unknown-http-version"),
    pytest.param(b"GET /v1/\r\n\r\n", id="http-0.9"),
    pytest.param(
        b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", id="header-20k"
    ),
    pytest.param(
        b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n", id="header-300k"
    ),
    pytest.param(b"GET /v1/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", id="header-no-colon"),
    pytest.param(
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        id="content-length-not-a-number",
    ),
    pytest.param(
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Content-Length: 6\r\n\r\nhello!",
        id="content-length-twice",
    ),
    pytest.param(
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        id="bad-chunk",
    ),
    pytest.param(
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 3000000\r\n\r\n" + b" " * 3_000_000,
        id="body-3mb",
    ),
    pytest.param(
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999999999999999\r\n\r\n{}",
        id="content-length-past-64-bits",
    ),
    pytest.param(b"GET /%FF HTTP/1.1\r\nHost: x\r\n\r\n", id="unprefixed-invalid-utf8"),
    pytest.param(b"GET /v1/articles/%FF HTTP/1.1\r\nHost: x\r\n\r\n", id="record-invalid-utf8"),
    pytest.param(b"GET /v1/\xff HTTP/1.1\r\nHost: x\r\n\r\n", id="raw-byte-in-path"),
    pytest.param(b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-A: \x00\r\n\r\n", id="nul-in-header"),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_the_servers_answers_to_malformed_http_are_json(served, raw):
    answer = _exchange(served, raw)
    assert answer, "connection closed without an answer"
    status, headers, body = _parse(answer)
    assert status < 500, answer[:500]
    assert headers.get("content-type", "").startswith("application/json"), answer[:500]
    if status >= 400:
        error = json.loads(body)
        assert {"code", "errno", "error", "message"} <= set(error), answer[:500]
        assert error["code"] == status, answer[:500]


def test_a_well_formed_request_is_served(served):
    status, headers, body = _parse(_exchange(served, b"GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 200
    assert json.loads(body)["project_name"] == "testapp"
