"""Several server processes on one database: what multi-worker deployments rely on.

PostgreSQL in production; SQLite (one file, WAL) for several ``pserve`` workers on one machine.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
AUTH = "Basic " + base64.b64encode(b"alice:pw").decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1{path}", data=data, method=method)
    request.add_header("Authorization", AUTH)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgresql_url")


@pytest.fixture
def two_servers(database_url):
    """Two processes serving the same database, which they migrate at the same time."""
    env = {
        **os.environ,
        "CLIQUET_STORAGE_BACKEND": "cliquet.storage.sql",
        "CLIQUET_STORAGE_URL": database_url,
        "CLIQUET_PERMISSION_BACKEND": "cliquet.permission.sql",
        "CLIQUET_PERMISSION_URL": database_url,
        "CLIQUET_MIGRATE_ON_STARTUP": "true",
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.serve_testapp", str(port)], cwd=ROOT, env=env
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 180
        for port in ports:
            while True:
                try:
                    if call(port, "GET", "/__heartbeat__")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "the servers did not start"
                time.sleep(0.2)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM records"))
            connection.execute(text("DELETE FROM timestamps"))
        engine.dispose()


def in_threads(*targets):
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as e:  # reported to the test below
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_two_processes_writing_get_unique_increasing_timestamps(two_servers):
    created = {port: [] for port in two_servers}

    def writer(port):
        def write():
            for n in range(60):
                status, _, body = call(port, "POST", "/articles", {"data": {"title": f"{n}"}})
                assert status == 201, body
                created[port].append(body["data"]["last_modified"])

        return write

    in_threads(*(writer(port) for port in two_servers))
    everything = created[two_servers[0]] + created[two_servers[1]]
    assert len(set(everything)) == 120
    for stamps in created.values():
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    status, headers, body = call(two_servers[0], "GET", "/articles?_limit=500")
    assert headers["Total-Records"] == "120"
    listed = [r["last_modified"] for r in body["data"]]
    assert sorted(listed) == sorted(everything)
    assert headers["ETag"] == f'"{max(everything)}"'


def test_two_processes_incrementing_one_record_lose_no_update(two_servers):
    status, _, body = call(
        two_servers[0], "POST", "/articles", {"data": {"title": "t", "rank": 0}}
    )
    record_id = body["data"]["id"]
    conflicts = []

    def incrementer(port):
        def increment():
            done = 0
            while done < 25:
                _, headers, current = call(port, "GET", f"/articles/{record_id}")
                rank = current["data"]["rank"]
                status, _, _ = call(
                    port,
                    "PATCH",
                    f"/articles/{record_id}",
                    {"data": {"rank": rank + 1}},
                    headers={"If-Match": headers["ETag"]},
                )
                if status == 412:
                    conflicts.append(port)
                    continue
                assert status == 200
                done += 1

        return increment

    in_threads(*(incrementer(port) for port in two_servers))
    _, _, final = call(two_servers[1], "GET", f"/articles/{record_id}")
    assert final["data"]["rank"] == 50


def test_concurrent_patches_without_preconditions_are_serialized(two_servers):
    """Each PATCH merges into the latest version: no field written by another is lost."""
    status, _, body = call(two_servers[0], "POST", "/articles", {"data": {"title": "t"}})
    record_id = body["data"]["id"]

    def patcher(port, field):
        def patch():
            for n in range(20):
                status, _, _ = call(
                    port, "PATCH", f"/articles/{record_id}", {"data": {field: f"{field}{n}"}}
                )
                assert status == 200

        return patch

    in_threads(patcher(two_servers[0], "body"), patcher(two_servers[1], "title"))
    _, _, final = call(two_servers[0], "GET", f"/articles/{record_id}")
    assert final["data"]["body"] == "body19"
    assert final["data"]["title"] == "title19"
