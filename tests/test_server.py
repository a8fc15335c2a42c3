"""cliquet.server: waitress's own answers are cliquet JSON errors too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paste.deploy.loadwsgi import loadserver
from pyramid.exceptions import ConfigurationError

from cliquet import server as cliquet_server
from cliquet.settings import SettingError
from cliquet.startup import error_line
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


# --- A service that cannot start says why in one line (cliquet.startup) -------------------

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = (
    ROOT / "templates" / "project" / "{{cookiecutter.project_name}}" / "gunicorn.conf.py"
)
EMPTY_STORAGE_URL = (
    "cliquet.storage_url is empty (expected postgresql://user@host/db or sqlite:///path.db): "
    "set it in service.ini or CLIQUET_STORAGE_URL"
)


def _service_ini(tmp_path: Path, **settings: str) -> Path:
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    ini = tmp_path / "service.ini"
    ini.write_text(
        "[app:main]\nuse = egg:cliquet-kit\ncliquet.userid_hmac_secret = s\n"
        f"{lines}\n[server:main]\nuse = call:cliquet.server:main\nlisten = 127.0.0.1:0\n"
    )
    return ini


def _start(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLIQUET_")}
    return subprocess.run(
        args, cwd=cwd, env={**environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_pserve_stops_on_an_empty_setting_with_one_line(tmp_path: Path) -> None:
    ini = _service_ini(tmp_path, **{"cliquet.storage_backend": "cliquet.storage.sql"})
    result = _start([sys.executable, "-m", "pyramid.scripts.pserve", str(ini)], tmp_path)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [EMPTY_STORAGE_URL], result.stderr
    assert "Traceback" not in result.stdout


def test_pserve_names_the_environment_variable_that_gave_a_bad_value(tmp_path: Path) -> None:
    ini = _service_ini(tmp_path)
    result = _start(
        [sys.executable, "-m", "pyramid.scripts.pserve", str(ini)],
        tmp_path,
        CLIQUET_BATCH_MAX_REQUESTS="lots",
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "cliquet.batch_max_requests is 'lots' (expected an integer): "
        "set it in CLIQUET_BATCH_MAX_REQUESTS, which overrides service.ini"
    ]


def test_gunicorn_stops_once_with_one_line_not_a_traceback_per_worker(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn", reason="gunicorn is in the dev extra")
    ini = _service_ini(tmp_path, **{"cliquet.storage_backend": "cliquet.storage.sql"})
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(GUNICORN_CONF.read_text())
    result = _start(
        [sys.executable, "-m", "gunicorn", "--paste", str(ini)],
        tmp_path,
        WEB_CONCURRENCY="3",
        PORT="0",
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [EMPTY_STORAGE_URL], result.stderr


def test_called_directly_the_factory_raises_the_setting_error() -> None:
    import cliquet

    with pytest.raises(SettingError) as excinfo:
        cliquet.main({}, **{"cliquet.storage_backend": "cliquet.storage.sql"})
    assert excinfo.value.setting == "cliquet.storage_url"
    assert excinfo.value.environment_variable == "CLIQUET_STORAGE_URL"
    assert str(excinfo.value).endswith("set it in the .ini file or CLIQUET_STORAGE_URL")


def test_other_configuration_errors_keep_their_message_on_one_line() -> None:
    error = ConfigurationError("Something\n  is off.")
    assert error_line(error, "production.ini") == "production.ini: Something is off."


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_worker_does_not_share_the_masters_connections(tmp_path: Path) -> None:
    """gunicorn's preload_app forks workers from a master that may have connected."""
    from cliquet.sql import create_engine_from_url

    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'forked.db'}")
    with engine.connect():
        pass
    assert engine.pool.checkedin() == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: report what its pool holds, then leave at once
        os.write(write, str(engine.pool.checkedin()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    assert engine.pool.checkedin() == 1
