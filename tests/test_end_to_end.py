"""From nothing to a served service: generate, install, test, serve, talk HTTP, restart.

One virtualenv (``--system-site-packages``, so that the dependencies already installed are
reused) gets cliquet from this checkout (a non-editable build) and the three generated packages;
each package's own tests run with that virtualenv's pytest, then the project is served by
``pserve development.ini http_port=PORT`` with the extension included through
``CLIQUET_INCLUDES``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cliquet_cli.main import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = "Scripts" if sys.platform == "win32" else "bin"
NOT_SOURCE = (".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv", "venv")
AUTH = "Basic " + base64.b64encode(b"alice:secret").decode()
# name, directory, command line
PACKAGES = {
    "project": ("shop", "shop", ["project", "shop"]),
    "backend": ("memo", "cliquet-memo", ["backend", "memo", "--kind", "cache"]),
    "extension": ("stats", "cliquet-stats", ["extension", "stats"]),
}


def _present(kind: str) -> bool:
    return (ROOT / "templates" / kind / "cookiecutter.json").is_file()


def _clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIQUET_", "PYTHON"))}
    env.update(extra)
    return env


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The packages generated with --no-input, by kind (only the kinds whose template exists)."""
    output = tmp_path_factory.mktemp("generated")
    paths = {}
    for kind, (_, directory, args) in PACKAGES.items():
        if not _present(kind):
            continue
        result = CliRunner().invoke(cli, ["new", *args, "--no-input", "-o", str(output)])
        assert result.exit_code == 0, result.output
        paths[kind] = output / directory
    return paths


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, generated: dict[str, Path]) -> Path:
    """A virtualenv holding cliquet (from this checkout, not editable) and the packages."""
    path = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(path)])
    python = str(path / BIN / "python")
    # Built from a copy: an in-tree build would leave build/ in the checkout, whose stale
    # files would end up in later wheels.
    source = tmp_path_factory.mktemp("source") / "cliquet"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    editables = [arg for p in generated.values() for arg in ("-e", str(p))]
    _run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", str(source), *editables],
        env=_clean_environment(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    # From elsewhere than this checkout, which `python -c` would put first on the path.
    where = _run([python, "-c", "import cliquet; print(cliquet.__file__)"], cwd=path)
    where = where.stdout.strip()
    assert Path(where).is_relative_to(path), f"cliquet comes from {where}, not the venv"
    return path


@pytest.mark.parametrize("kind", list(PACKAGES))
def test_generated_package_passes_its_own_tests(kind: str, generated, venv):
    if kind not in generated:
        pytest.skip(f"templates/{kind} is not there yet: nothing to generate")
    result = _run(
        [str(venv / BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=generated[kind],
        env=_clean_environment(),
    )
    assert " passed" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``pserve development.ini http_port=PORT`` of a project, as a subprocess."""

    def __init__(self, venv: Path, project: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.log = project / f"pserve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                # The venv's pserve: pyramid's script lives in the system site's bin/.
                [
                    str(venv / BIN / "python"),
                    "-m",
                    "pyramid.scripts.pserve",
                    "development.ini",
                    f"http_port={self.port}",
                ],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": AUTH, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def wait_until_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"pserve exited with {self.process.returncode}:\n{self.output()}")
            try:
                status, _ = self.request("GET", "/v1/__heartbeat__")
                if status == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.2)
        pytest.fail(f"pserve never became healthy:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(venv: Path, generated: dict[str, Path]) -> Iterator[Any]:
    """Start pserve on the generated project; every server is stopped at the end."""
    servers: list[Server] = []
    env = _clean_environment()
    if "extension" in generated:
        env["CLIQUET_INCLUDES"] = "cliquet_stats"

    def start() -> Server:
        server = Server(venv, generated["project"], env)
        servers.append(server)
        server.wait_until_healthy()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def test_served_project_keeps_its_articles_across_restarts(generated, serve):
    server = serve()

    status, created = server.request("POST", "/v1/articles", {"data": {"title": "Kept"}})
    assert status == 201, created
    kept = created["data"]["id"]
    status, created = server.request("POST", "/v1/articles", {"data": {"title": "Gone"}})
    assert status == 201, created
    gone = created["data"]["id"]
    status, listed = server.request("GET", "/v1/articles")
    assert status == 200
    assert {r["id"] for r in listed["data"]} == {kept, gone}
    status, deleted = server.request("DELETE", f"/v1/articles/{gone}")
    assert status == 200 and deleted["data"]["deleted"] is True

    status, hello = server.request("GET", "/v1/")
    assert status == 200
    assert hello["project_name"] == "shop"
    if "extension" in generated:
        assert "stats" in hello["capabilities"], hello
    server.stop()

    server = serve()  # on another port, same SQLite files
    status, listed = server.request("GET", "/v1/articles")
    assert status == 200
    assert [(r["id"], r["title"]) for r in listed["data"]] == [(kept, "Kept")]
    if "extension" not in generated:
        pytest.skip("templates/extension is not there yet: the extension part was not checked")
