"""From a wheel to a served service, as a newcomer on a fresh machine would go.

The project's wheel is built (``pip wheel --no-deps``, from a copy of this checkout) and
installed in a fresh virtualenv (no system site packages; its dependencies come from the
package index, through pip's cache). That virtualenv's ``cliquet`` command generates a project,
a backend and an extension, which one ``pip install --find-links WHEELS -e ...`` installs
(``cliquet-kit`` from the wheel, the rest from the index); each package's own tests run with
the virtualenv's pytest, then the project is served by ``pserve development.ini
http_port=PORT`` with the extension included through ``CLIQUET_INCLUDES``. One virtualenv for
the whole module: the tests share it (tests/conftest.py keeps them on one xdist worker).
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
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = "Scripts" if sys.platform == "win32" else "bin"
NOT_SOURCE = (".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv", "venv")
AUTH = "Basic " + base64.b64encode(b"alice:secret").decode()
# kind: (directory, command line, extras installed)
PACKAGES = {
    "project": ("shop", ["project", "shop"], "test,production"),
    "backend": ("cliquet-memo", ["backend", "memo", "--kind", "cache"], "dev"),
    "extension": ("cliquet-stats", ["extension", "stats"], "dev"),
}


def _clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIQUET_", "PYTHON"))}
    env.update(extra)
    return env


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("env", _clean_environment())
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _tool(venv: Path, name: str) -> str:
    return str(venv / BIN / name)


def _pip(venv: Path, *args: str) -> list[str]:
    """A pip command acting on ``venv``: this interpreter's pip, pointed at the virtualenv
    (``--python``), which then needs no pip of its own (bootstrapping one costs 3 s of CPU).
    Nothing is compiled to bytecode on install: what runs is compiled when imported."""
    compiles = ["--no-compile"] if args[0] == "install" else []
    return [sys.executable, "-m", "pip", "--python", _tool(venv, "python"), *args, *compiles]


@pytest.fixture(scope="module")
def build_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (no system site packages) with the build tools, nothing else yet.

    Every build below runs in it without isolation: pip would otherwise make a temporary
    environment (and install setuptools in it) for each of the four packages built.
    """
    path = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    # Within cliquet-kit's range of setuptools (pyproject.toml), so that nothing is reinstalled.
    build_tools = ["setuptools>=64,<80.9", "wheel"]
    _run(_pip(path, "install", "-q", "-U", *build_tools))
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, build_venv: Path) -> Path:
    """The project's wheel, built from a copy of this checkout; its folder is for --find-links."""
    # An in-tree build would leave build/ in the checkout, whose stale files would end up in
    # later wheels.
    source = tmp_path_factory.mktemp("source") / "cliquet"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = tmp_path_factory.mktemp("wheels")
    _run(
        _pip(build_venv, "wheel", "--no-deps", "--no-build-isolation")
        + ["-q", "-w", str(wheels), str(source)]
    )
    (built,) = wheels.glob("cliquet_kit-*.whl")
    return built


def test_wheel_ships_every_package_and_every_template_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = ROOT / "templates"
    for path in templates.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert f"cliquet_templates/{path.relative_to(templates).as_posix()}" in names
    for package in ("cliquet", "cliquet_cli"):
        for init in (ROOT / package).rglob("__init__.py"):
            assert init.relative_to(ROOT).as_posix() in names, (
                f"{init.parent} is missing from [tool.setuptools] packages of pyproject.toml"
            )


@pytest.fixture(scope="module")
def venv(build_venv: Path, wheel: Path) -> Path:
    """The virtualenv once the wheel is installed in it (its dependencies from the index)."""
    python = _tool(build_venv, "python")
    _run(_pip(build_venv, "install", "-q", str(wheel)))
    # From elsewhere than this checkout, which `python -c` would put first on the path.
    where = _run([python, "-c", "import cliquet; print(cliquet.__file__)"], cwd=build_venv)
    assert Path(where.stdout.strip()).is_relative_to(build_venv), where.stdout
    return build_venv


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, venv: Path) -> dict[str, Path]:
    """The packages the virtualenv's `cliquet new` generates with --no-input, by kind."""
    output = tmp_path_factory.mktemp("generated")
    for _, args, _ in PACKAGES.values():
        _run([_tool(venv, "cliquet"), "new", *args, "--no-input", "-o", str(output)])
    return {kind: output / directory for kind, (directory, _, _) in PACKAGES.items()}


@pytest.fixture(scope="module")
def installed(venv: Path, wheel: Path, generated: dict[str, Path]) -> dict[str, Path]:
    """The generated packages, installed (editable, with their test extras) in one pip run."""
    editables = [
        arg for kind, path in generated.items() for arg in ("-e", f"{path}[{PACKAGES[kind][2]}]")
    ]
    _run(
        _pip(venv, "install", "-q", "--no-build-isolation")
        + ["--find-links", str(wheel.parent), *editables]
    )
    return generated


def test_generated_packages_require_the_range_of_the_installed_wheel(
    venv: Path, wheel: Path, generated: dict[str, Path]
) -> None:
    version = wheel.name.split("-")[1]
    for path in generated.values():
        pyproject = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
        requirements = [Requirement(r) for r in pyproject["project"]["dependencies"]]
        (kit,) = [r for r in requirements if r.name == "cliquet-kit"]
        assert kit.specifier.contains(version), (path, str(kit))


def test_migrate_before_the_project_is_installed_says_what_to_do(
    venv: Path, tmp_path: Path
) -> None:
    _run([_tool(venv, "cliquet"), "new", "project", "later", "--no-input", "-o", str(tmp_path)])
    result = subprocess.run(
        [_tool(venv, "cliquet"), "migrate", "--ini", "development.ini"],
        cwd=tmp_path / "later",
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: development.ini names the distribution 'later', which is not installed: "
        "run `pip install -e .` first."
    ]


@pytest.mark.parametrize("kind", list(PACKAGES))
def test_generated_package_passes_its_own_tests(
    kind: str, venv: Path, installed: dict[str, Path]
) -> None:
    result = _run(
        [_tool(venv, "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=installed[kind],
    )
    assert " passed" in result.stdout


def test_migrate_dry_run_of_the_installed_project_creates_nothing(
    venv: Path, installed: dict[str, Path], tmp_path: Path
) -> None:
    # A copy of development.ini elsewhere: its SQLite file is beside it (%(here)s).
    shutil.copy(installed["project"] / "development.ini", tmp_path)
    result = _run(
        [_tool(venv, "cliquet"), "migrate", "--ini", "development.ini", "--dry-run"],
        cwd=tmp_path,
    )
    assert f"storage: would create {tmp_path / 'shop.db'}" in result.stdout
    assert list(tmp_path.iterdir()) == [tmp_path / "development.ini"]


def _fails_to_start(args: list[str], cwd: Path, **env: str) -> list[str]:
    result = subprocess.run(
        args,
        cwd=cwd,
        env=_clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stderr.splitlines()


def test_a_missing_setting_stops_pserve_and_gunicorn_with_one_line(
    venv: Path, installed: dict[str, Path]
) -> None:
    project = installed["project"]
    pserve = [_tool(venv, "python"), "-m", "pyramid.scripts.pserve", "development.ini"]
    assert _fails_to_start(pserve, project, CLIQUET_STORAGE_URL="") == [
        "cliquet.storage_url is empty (expected postgresql://user@host/db or "
        "sqlite:///path.db): set it in CLIQUET_STORAGE_URL, which overrides development.ini"
    ]
    # production.ini takes its URLs and secret from the environment, none of which is set.
    gunicorn = [_tool(venv, "gunicorn"), "--paste", "production.ini"]
    assert _fails_to_start(gunicorn, project, WEB_CONCURRENCY="3", PORT="0") == [
        "cliquet.storage_url is empty (expected postgresql://user@host/db or "
        "sqlite:///path.db): set it in production.ini or CLIQUET_STORAGE_URL"
    ]


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
def serve(venv: Path, installed: dict[str, Path]) -> Iterator[Any]:
    """Start pserve on the generated project; every server is stopped at the end."""
    servers: list[Server] = []
    env = _clean_environment(CLIQUET_INCLUDES="cliquet_stats")

    def start() -> Server:
        server = Server(venv, installed["project"], env)
        servers.append(server)
        server.wait_until_healthy()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def test_served_project_keeps_its_articles_across_restarts(serve: Any) -> None:
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
    assert "stats" in hello["capabilities"], hello
    # No version.json in a generated project: the package's version.
    assert server.request("GET", "/v1/__version__") == (
        200,
        {"name": "shop", "version": hello["project_version"]},
    )
    assert hello["project_version"] == "0.1.0"
    server.stop()

    server = serve()  # on another port, same SQLite files
    status, listed = server.request("GET", "/v1/articles")
    assert status == 200
    assert [(r["id"], r["title"]) for r in listed["data"]] == [(kept, "Kept")]
