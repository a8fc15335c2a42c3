"""What the benchmarks share: both servers started alike, pinned load, bulk loading.

Kinto is the peer: install it in a virtualenv of its own, outside the repository::

    python3 -m venv /tmp/kinto-venv && /tmp/kinto-venv/bin/pip install 'kinto[postgresql]'

Each server runs in a process of its own under waitress with the same thread count: cliquet's
test service (``tests/serve_testapp.py``: the ``Article`` resource at ``/v1/articles``, kept
per user) and Kinto (a generated ``.ini``, one bucket and its collections created up front).
With PostgreSQL each server gets a fresh database on 127.0.0.1:5432 (user ``postgres``),
created and dropped here. Servers can be pinned to one core and the load to another
(``taskset`` / ``sched_setaffinity``), so that the client does not take the server's CPU.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from urllib.parse import urlsplit

import cliquet
from cliquet.authentication import basicauth_userid

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET = "benchmark-secret"
PASSWORD = "secret"
USER = "bench"
BATCH_SIZE = 25  # the default most subrequests of both
GROUPS = 100  # records' "body" takes this many values: one of them is 1 % of the records
PG_URL = "postgresql://postgres@127.0.0.1:5432/{}"

# Both servers are started the same way: one WSGI app, waitress, the same thread count.
CLIQUET_SERVER = """
import logging, sys, waitress
from tests.serve_testapp import make_app
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
waitress.serve(make_app(), host=sys.argv[1], port=int(sys.argv[2]),
               threads=int(sys.argv[3]), _quiet=True)
"""
KINTO_SERVER = """
import logging, sys, waitress
from pyramid.paster import get_app
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
waitress.serve(get_app(sys.argv[4], "main"), host=sys.argv[1], port=int(sys.argv[2]),
               threads=int(sys.argv[3]), _quiet=True)
"""
# `python -m kinto` does nothing (no __main__ guard): call the `kinto` command's function.
KINTO_MIGRATE = "import sys; from kinto.__main__ import main; sys.exit(main(sys.argv[1:]))"
KINTO_VERSION = """
import sys, importlib.metadata as m
print(m.version("kinto"), sys.version.split()[0], m.version("waitress"))
"""
KINTO_INI = """[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.{storage}
kinto.storage_url = {url}
kinto.permission_backend = kinto.core.{permission}
kinto.permission_url = {url}
kinto.cache_backend = kinto.core.{cache}
kinto.cache_url = {url}
kinto.userid_hmac_secret = {secret}
kinto.bucket_create_principals = system.Authenticated
multiauth.policies = basicauth
"""
KINTO_BUCKET = "/v1/buckets/bench"


def basic_auth(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode("ascii")


@dataclasses.dataclass(frozen=True)
class Collection:
    """A collection of records on one server: its URL, who may write it, its row's parent."""

    path: str
    auth: str
    parent: str  # the records' parent_id in the server's table


@dataclasses.dataclass
class Server:
    """A running server: ``cliquet`` or ``kinto``, and where its collections live."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: pathlib.Path
    database: str | None

    def collection(self, name: str) -> Collection:
        """Ours keeps articles per user (a user is a collection); Kinto's are in a bucket."""
        if self.name == "cliquet":
            user = f"{USER}-{name}"
            return Collection(
                "/v1/articles", basic_auth(user), basicauth_userid(SECRET, user, PASSWORD)
            )
        parent = f"{KINTO_BUCKET.removeprefix('/v1')}/collections/{name}"
        return Collection(f"/v1{parent}/records", basic_auth(USER), parent)

    @property
    def records(self) -> Collection:
        """Where creations go."""
        return self.collection("new")

    @property
    def listed(self) -> Collection:
        """The large collection that lists, filters and pages read."""
        return self.collection("listed")

    def create(self, collection: Collection) -> None:
        """Kinto's collections are created before use; ours come with their first record."""
        if self.name == "kinto":
            path = collection.path.removesuffix("/records")
            call(self, "PUT", path, collection.auth, {"data": {}})


# A request: (method, path, auth header, body or None).
Request = tuple[str, str, str, "bytes | None"]


@dataclasses.dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def next_page(self) -> str | None:
        """The path and query of the ``Next-Page`` header."""
        return request_path(self.headers.get("Next-Page"))

    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}


class Session:
    """One client thread's walk through a workload: what to send next, and what came back.

    ``check`` returns why an answer counts as an error (``None``: a success); a batch can
    answer 200 with failed subrequests, which it counts.
    """

    def request(self) -> Request:
        raise NotImplementedError

    def check(self, request: Request, answer: Answer) -> str | None:
        return None if 200 <= answer.status < 300 else str(answer.status)


class Fixed(Session):
    """The same request each time, but for a body that may vary with the request's number."""

    def __init__(self, method: str, path: str, auth: str, body: Callable[[int], bytes] | None):
        self.method, self.path, self.auth, self.body = method, path, auth, body
        self.n = 0

    def request(self) -> Request:
        self.n += 1
        body = None if self.body is None else self.body(self.n)
        return self.method, self.path, self.auth, body


def batch_failures(answer: Answer) -> str | None:
    """The first failed status among a batch's subresponses."""
    if not 200 <= answer.status < 300:
        return str(answer.status)
    for response in answer.json()["responses"]:
        if not 200 <= response["status"] < 300:
            return f"{response['status']} in batch"
    return None


class Batch(Fixed):
    def check(self, request: Request, answer: Answer) -> str | None:
        return batch_failures(answer)


class Walk(Session):
    """Pages through a list by following ``Next-Page``; starts again at the end."""

    def __init__(self, first: str, auth: str):
        self.first, self.auth = first, auth
        self.next: str | None = None

    def request(self) -> Request:
        return "GET", self.next or self.first, self.auth, None

    def check(self, request: Request, answer: Answer) -> str | None:
        self.next = answer.next_page
        return super().check(request, answer)


SessionFactory = Callable[[int], Session]  # a client thread's number -> its session


@dataclasses.dataclass
class Run:
    """One workload on one server: latencies of the successes, and the count of failures."""

    seconds: float
    latencies: list[float]
    errors: collections.Counter[str]  # by status, or the exception's name

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def request_path(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send(connection: http.client.HTTPConnection, request: Request) -> Answer:
    method, path, auth, body = request
    headers = {"Authorization": auth}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    text = response.read()
    return Answer(response.status, response.headers, text)


def load(port: int, sessions: SessionFactory, seconds: float, concurrency: int) -> Run:
    """Requests for ``seconds`` from ``concurrency`` threads with keep-alive connections."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[collections.Counter[str]] = [collections.Counter() for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client(t: int) -> None:
        session = sessions(t)
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        own = latencies[t]
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            request = session.request()
            start = time.perf_counter()
            try:
                answer = send(connection, request)
            except (OSError, http.client.HTTPException) as e:
                errors[t][type(e).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
                continue
            elapsed = time.perf_counter() - start
            failure = session.check(request, answer)
            if failure is None:
                own.append(elapsed)
            else:
                errors[t][failure] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(concurrency)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return Run(elapsed, [x for own in latencies for x in own], sum(errors, collections.Counter()))


def call(server: Server, method: str, path: str, auth: str, body: object = None) -> Answer:
    """One request that must succeed (set-up, not timed)."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=120)
    payload = None if body is None else json.dumps(body).encode()
    try:
        answer = send(connection, (method, path, auth, payload))
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise RuntimeError(
            f"{server.name}: {method} {path} -> {answer.status} {answer.body[:200]!r}"
        )
    return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_heartbeat(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        connection = http.client.HTTPConnection(HOST, server.port, timeout=5)
        try:
            connection.request("GET", "/v1/__heartbeat__")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{server.name} did not become healthy on port {server.port}:\n{tail}")


def clean_env() -> dict[str, str]:
    """The environment without settings overrides of either project."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CLIQUET_", "KINTO_"))}


def pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


@dataclasses.dataclass(frozen=True)
class Placement:
    """How servers run: waitress threads, the core (None: anywhere), and ours' source tree."""

    threads: int = 4
    cpu: int | None = None
    source: pathlib.Path = ROOT  # where `cliquet` and `tests` are imported from


def start_cliquet(tmp: pathlib.Path, database: str | None, placement: Placement) -> Server:
    env = clean_env()
    env["CLIQUET_USERID_HMAC_SECRET"] = SECRET
    if database is not None:
        for component in ("storage", "permission", "cache"):
            env[f"CLIQUET_{component.upper()}_BACKEND"] = f"cliquet.{component}.postgresql"
            env[f"CLIQUET_{component.upper()}_URL"] = PG_URL.format(database)
        env["CLIQUET_MIGRATE_ON_STARTUP"] = "true"
    env["PYTHONPATH"] = str(placement.source)  # ahead of the editable install
    port, log = free_port(), tmp / "cliquet.log"
    command = [sys.executable, "-c", CLIQUET_SERVER, HOST, str(port), str(placement.threads)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            pinned(command, placement.cpu),
            cwd=placement.source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return Server("cliquet", port, process, log, database)


def start_kinto(
    tmp: pathlib.Path, python: str, database: str | None, placement: Placement
) -> Server:
    if database is None:
        backends = dict(storage="storage.memory", permission="permission.memory")
        ini = KINTO_INI.format(**backends, cache="cache.memory", url="", secret=SECRET)
    else:
        backends = dict(storage="storage.postgresql", permission="permission.postgresql")
        url = PG_URL.format(database)
        ini = KINTO_INI.format(**backends, cache="cache.postgresql", url=url, secret=SECRET)
    ini_path = tmp / "kinto.ini"
    ini_path.write_text(ini)
    env = clean_env()
    if database is not None:
        subprocess.run(
            [python, "-c", KINTO_MIGRATE, "migrate", "--ini", str(ini_path)],
            check=True,
            capture_output=True,
            env=env,
            cwd=tmp,
        )
    port, log = free_port(), tmp / "kinto.log"
    command = [python, "-c", KINTO_SERVER, HOST, str(port), str(placement.threads), str(ini_path)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            pinned(command, placement.cpu), cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=out
        )
    return Server("kinto", port, process, log, database)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@contextlib.contextmanager
def servers(
    tmp: pathlib.Path, kinto_python: str, databases: list[str | None], placement: Placement
) -> Iterator[list[Server]]:
    """Ours and Kinto, healthy, each on its database (None: memory); stopped at the end."""
    started: list[Server] = []
    try:
        ours, peer = tmp / "cliquet", tmp / "kinto"
        ours.mkdir(exist_ok=True)
        peer.mkdir(exist_ok=True)
        started.append(start_cliquet(ours, databases[0], placement))
        started.append(start_kinto(peer, kinto_python, databases[1], placement))
        for server in started:
            wait_for_heartbeat(server)
        kinto = started[1]
        call(kinto, "PUT", KINTO_BUCKET, basic_auth(USER), {"data": {}})
        for server in started:
            server.create(server.records)
            server.create(server.listed)
        yield started
    finally:
        for server in started:
            stop(server)


@contextlib.contextmanager
def databases(backend: str, names: list[str]) -> Iterator[list[str | None]]:
    """Fresh PostgreSQL databases for the servers (none with the memory backend)."""
    if backend == "memory":
        yield [None for _ in names]
        return
    import psycopg  # the driver of cliquet's SQL backends, needed only here

    admin = psycopg.connect(PG_URL.format("postgres"), autocommit=True)
    created: list[str] = []
    try:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
        yield list(created)
    finally:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def record_data(i: int) -> dict:
    """Record ``i`` of a loaded collection (the bulk loaders build the same in SQL)."""
    return {"title": f"record {i}", "body": f"group-{i % GROUPS}", "rank": i, "tags": ["a"]}


def record_body(i: int) -> bytes:
    return json.dumps({"data": record_data(i)}).encode()


def batch_body(path: str, first: int) -> bytes:
    requests = [
        {"method": "POST", "path": path, "body": {"data": record_data(i)}}
        for i in range(first, first + BATCH_SIZE)
    ]
    return json.dumps({"requests": requests}).encode()


def fill_over_http(server: Server, collection: Collection, count: int) -> None:
    """Fill ``collection`` with ``count`` records, in batches, one after the other.

    Sequential: Kinto on PostgreSQL refuses concurrent creations in one collection now and then
    (409 errno 122, "please retry"), which is no concern of set-up.
    """
    for start in range(0, count, BATCH_SIZE):
        n = min(BATCH_SIZE, count - start)
        requests = [
            {"method": "POST", "path": collection.path, "body": {"data": record_data(i)}}
            for i in range(start, start + n)
        ]
        answer = call(server, "POST", "/v1/batch", collection.auth, {"requests": requests})
        failure = batch_failures(answer)
        if failure:
            raise RuntimeError(f"{server.name}: filling the listed collection: {failure}")


# Bulk loading into each server's own tables: record i gets last_modified start + i.
_DATA_SQL = f"""jsonb_build_object('title', 'record ' || i, 'body', 'group-' || (i %% {GROUPS}),
                          'rank', i, 'tags', jsonb_build_array('a'))"""
CLIQUET_LOAD = f"""
INSERT INTO records (parent_id, collection_id, id, data, last_modified, deleted)
SELECT %(parent)s, 'article', gen_random_uuid()::text, {_DATA_SQL}, %(start)s + i, false
FROM generate_series(0, %(count)s - 1) AS i
"""
CLIQUET_STAMP = """
INSERT INTO timestamps AS t (parent_id, collection_id, last_modified)
VALUES (%(parent)s, 'article', %(stamp)s)
ON CONFLICT (parent_id, collection_id)
DO UPDATE SET last_modified = GREATEST(t.last_modified, excluded.last_modified)
"""
# Kinto's trigger would compute each row's timestamp from the newest row: off during the load.
KINTO_LOAD = f"""
INSERT INTO objects (id, parent_id, resource_name, data, last_modified, deleted)
SELECT gen_random_uuid()::text, %(parent)s, 'record', {_DATA_SQL},
       from_epoch(%(start)s + i), false
FROM generate_series(0, %(count)s - 1) AS i
"""


def bulk_load(server: Server, collection: Collection, count: int) -> int:
    """Load ``count`` records into ``collection`` in one statement; ``ANALYZE``.

    Returns the ``last_modified`` of record 0 (record ``i`` has that plus ``i``): all of them
    in the past, so that the servers' own writes come after them.
    """
    import psycopg

    start = int(time.time() * 1000) - count - 60_000
    assert server.database is not None
    parent = collection.parent
    with psycopg.connect(PG_URL.format(server.database), autocommit=True) as conn:
        if server.name == "cliquet":
            conn.execute(CLIQUET_LOAD, {"parent": parent, "start": start, "count": count})
            conn.execute(CLIQUET_STAMP, {"parent": parent, "stamp": start + count})
            tables = ["records", "timestamps", "record_counts"]
        else:
            with conn.transaction():
                conn.execute("ALTER TABLE objects DISABLE TRIGGER tgr_objects_last_modified")
                conn.execute(KINTO_LOAD, {"parent": parent, "start": start, "count": count})
                conn.execute("ALTER TABLE objects ENABLE TRIGGER tgr_objects_last_modified")
            tables = ["objects", "timestamps"]
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")
    return start


def fill(server: Server, collection: Collection, count: int) -> None:
    """``count`` records in ``collection``: in bulk on PostgreSQL, else over HTTP."""
    if server.database is None:
        fill_over_http(server, collection, count)
    else:
        bulk_load(server, collection, count)


def export(ref: str, into: pathlib.Path) -> str:
    """The packages ours serves, as of commit ``ref``, written to ``into``; its hash."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(
        ["git", "archive", sha, "cliquet", "tests"], cwd=ROOT, stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {ref} failed")
    return sha


def describe_working_tree() -> str:
    """The commit of the working tree, and whether ``cliquet/`` differs from it."""

    def git(*words: str) -> str:
        return subprocess.run(
            ["git", *words], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "cliquet", "tests")
    return f"working tree of {git('rev-parse', '--short', 'HEAD')}" + (
        " with uncommitted changes in cliquet/ or tests/" if dirty else ""
    )


def versions(kinto_python: str) -> tuple[str, str]:
    ours = f"cliquet {cliquet.__version__} (Python {sys.version.split()[0]}, waitress "
    ours += f"{version('waitress')})"
    out = subprocess.run(
        [kinto_python, "-c", KINTO_VERSION], check=True, capture_output=True, text=True
    )
    kinto, python, waitress_version = out.stdout.split()
    return ours, f"kinto {kinto} (Python {python}, waitress {waitress_version})"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pin_self(cpu: int | None) -> None:
    """Run this process (the load generator) and the threads it starts on one core."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
