"""Services in processes of their own, called over real HTTP: what the reliability suites drive.

``served(env, count)`` starts ``count`` processes of the resource test service
(``tests/serve_testapp.py``, waitress) configured by ``env`` (``CLIQUET_STORAGE_URL``...), waits
for their heartbeats, yields them, and stops them. ``Client`` calls one of them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(user: str, password: str = "pw") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any
    seconds: float


@dataclass
class Client:
    """Calls ``http://127.0.0.1:<port><prefix>`` as ``user``."""

    port: int
    user: str = "alice"
    prefix: str = "/v1"
    timeout: float = 30

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{self.prefix}{path}", data=data, method=method
        )
        request.add_header("Authorization", basic(self.user))
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content = response.read()
                status, answer_headers = response.status, response.headers
        except urllib.error.HTTPError as e:
            content = e.read()
            status, answer_headers = e.code, e.headers
        seconds = time.monotonic() - start
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = content
        return Answer(status, answer_headers, parsed, seconds)


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    def client(self, user: str = "alice") -> Client:
        return Client(self.port, user)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code of the service runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, timeout: float = 120) -> None:
        """Start the process again on the same port (after ``kill`` or ``stop``)."""
        self.stop()
        self.process = _spawn(self.port, self.env)
        wait_until_up([self], timeout)


def sql_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a service storing records and permissions at ``url``."""
    return {
        "CLIQUET_STORAGE_BACKEND": "cliquet.storage.sql",
        "CLIQUET_STORAGE_URL": url,
        "CLIQUET_PERMISSION_BACKEND": "cliquet.permission.sql",
        "CLIQUET_PERMISSION_URL": url,
        "CLIQUET_MIGRATE_ON_STARTUP": "true",
        **extra,
    }


def _spawn(port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    # Its errors go to a file of its own, read back if it dies before it serves.
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.serve_testapp", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stderr=errors,
    )
    process.errors = errors  # type: ignore[attr-defined]
    return process


def _errors(process: subprocess.Popen[bytes]) -> str:
    errors = process.errors  # type: ignore[attr-defined]
    errors.seek(0)
    return errors.read().decode(errors="replace")[-3000:]


class _PortTaken(Exception):
    pass


def wait_until_up(servers: list[Server], timeout: float = 120) -> None:
    """Wait for each server's heartbeat; a server that exits says why (its stderr)."""
    deadline = time.monotonic() + timeout
    for server in servers:
        client = Client(server.port, timeout=5)
        while True:
            if server.process.poll() is not None:
                errors = _errors(server.process)
                if "address already in use" in errors.lower():
                    raise _PortTaken(server.port)
                raise AssertionError(f"the server on {server.port} exited:\n{errors}")
            with contextlib.suppress(OSError):
                if client("GET", "/__heartbeat__").status == 200:
                    break
            assert time.monotonic() < deadline, "the servers did not start"
            time.sleep(0.1)


def _start(env: Mapping[str, str]) -> Server:
    """One server on a free port; another port if that one was taken before it bound it."""
    for _ in range(5):
        port = free_port()
        server = Server(port, _spawn(port, env), dict(env))
        try:
            wait_until_up([server])
        except _PortTaken:
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("no free port could be bound in 5 tries")


@contextlib.contextmanager
def served(env: Mapping[str, str], count: int = 1) -> Iterator[list[Server]]:
    """``count`` processes of the resource test service, configured by ``env``."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(_start(env))
        yield servers
    finally:
        for server in servers:
            server.stop()


def rss_bytes(pid: int) -> int:
    """The resident memory of a process (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError(pid)


def in_threads(*targets: Callable[[], object]) -> None:
    """Run the targets at once; the first exception of any is raised here."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
