"""Requests per second of cliquet's record protocol against Kinto's, both served alike.

    python benchmarks/vs_kinto.py [--backend memory|postgresql] [--requests N]
        [--concurrency C] [--rounds R] [--kinto-python PATH]

Kinto is the peer: install it in a virtualenv of its own, outside the repository::

    python3 -m venv /tmp/kinto-venv && /tmp/kinto-venv/bin/pip install 'kinto[postgresql]'

Each server runs in a process of its own under waitress with the same thread count: cliquet's
test service (``tests/serve_testapp.py``: the ``Article`` resource at ``/v1/articles``) and
Kinto (a generated ``.ini``, one bucket and its collections created up front). With
``--backend postgresql`` each server gets a fresh database on 127.0.0.1:5432 (user
``postgres``), created and dropped here.

Four workloads: create records (POST), read one record, list 20 of ~1,000 records sorted by
``-last_modified``, PATCH a record (each client thread its own). For each workload and round
the two servers run back to back, in alternating order, so that drift of the machine's speed
affects both alike. Prints, per workload, the medians over rounds of requests/second, p50 and
p95 latency, and the median of the per-round ratios cliquet/kinto of requests/second (above 1:
cliquet serves more). Any non-2xx answer or connection failure counts as an error, reported
per workload; requests/second and latencies count successes only.

Not the same work on both sides: cliquet's articles are validated by a colander schema and kept
per user; Kinto's records are schemaless and the creator of each gets a write permission.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import dataclasses
import http.client
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version

import cliquet

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVER_THREADS = 4  # as tests/serve_testapp.py
SECRET = "benchmark-secret"
USER = "bench"
LIST_SIZE = 1000
BATCH_SIZE = 25  # the default most subrequests of both
WARMUP_REQUESTS = 100
PG_URL = "postgresql://postgres@127.0.0.1:5432/{}"
COLUMNS = ("req/s", "p50 ms", "p95 ms")

# Both servers are started the same way: one WSGI app, waitress, SERVER_THREADS threads.
CLIQUET_SERVER = """
import sys, waitress
from tests.serve_testapp import make_app
waitress.serve(make_app(), host=sys.argv[1], port=int(sys.argv[2]),
               threads=int(sys.argv[3]), _quiet=True)
"""
KINTO_SERVER = """
import sys, waitress
from pyramid.paster import get_app
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


def basic_auth(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:secret".encode()).decode("ascii")


@dataclasses.dataclass
class Server:
    """A running server and where its two collections live (creations, and the listed one)."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: pathlib.Path
    records: str  # path of the collection that creations go to
    records_auth: str
    listed: str  # path of the collection of LIST_SIZE records
    listed_auth: str


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
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclasses.dataclass
class Ids:
    """The records that the workloads read and patch (one to patch per client thread)."""

    read: str
    patch: list[str]


# A workload makes request i of client thread t: (method, path, auth header, body or None).
Request = tuple[str, str, str, "bytes | None"]
Workload = Callable[[int, int], Request]


def record_body(i: int) -> bytes:
    data = {"title": f"benchmark record {i}", "body": "lorem ipsum", "rank": i, "tags": ["a"]}
    return json.dumps({"data": data}).encode()


def load(port: int, workload: Workload, requests: int, concurrency: int) -> Run:
    """Send ``requests`` requests from ``concurrency`` threads with keep-alive connections."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[collections.Counter[str]] = [collections.Counter() for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)

    def client(t: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        own = latencies[t]
        barrier.wait()
        for i in range(t, requests, concurrency):
            method, path, auth, body = workload(t, i)
            headers = {"Authorization": auth}
            if body is not None:
                headers["Content-Type"] = "application/json"
            start = time.perf_counter()
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as e:
                errors[t][type(e).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            if 200 <= response.status < 300:
                own.append(time.perf_counter() - start)
            else:
                errors[t][str(response.status)] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return Run(seconds, [x for own in latencies for x in own], sum(errors, collections.Counter()))


def call(server: Server, method: str, path: str, auth: str, body: object = None) -> dict:
    """One request that must succeed (set-up, not timed); returns the JSON body."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        text = response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{server.name}: {method} {path} -> {response.status} {text[:200]!r}")
    return json.loads(text) if text else {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_heartbeat(server: Server, timeout: float = 60.0) -> None:
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


def start_cliquet(tmp: pathlib.Path, database: str | None) -> Server:
    env = clean_env()
    env["CLIQUET_USERID_HMAC_SECRET"] = SECRET
    if database is not None:
        for component in ("storage", "permission", "cache"):
            env[f"CLIQUET_{component.upper()}_BACKEND"] = f"cliquet.{component}.postgresql"
            env[f"CLIQUET_{component.upper()}_URL"] = PG_URL.format(database)
        env["CLIQUET_MIGRATE_ON_STARTUP"] = "true"
    port, log = free_port(), tmp / "cliquet.log"
    command = [sys.executable, "-c", CLIQUET_SERVER, HOST, str(port), str(SERVER_THREADS)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out
        )
    # Articles are kept per user: another user is another collection.
    auth, listed_auth = basic_auth(USER), basic_auth(USER + "-list")
    return Server("cliquet", port, process, log, "/v1/articles", auth, "/v1/articles", listed_auth)


def start_kinto(tmp: pathlib.Path, python: str, database: str | None) -> Server:
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
    command = [python, "-c", KINTO_SERVER, HOST, str(port), str(SERVER_THREADS), str(ini_path)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=out
        )
    auth, base = basic_auth(USER), "/v1/buckets/bench/collections"
    return Server(
        "kinto", port, process, log, f"{base}/new/records", auth, f"{base}/listed/records", auth
    )


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


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
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
        yield list(created)
    finally:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def prepare(server: Server, concurrency: int) -> Ids:
    """Create the collections and records that the workloads read and patch."""
    if server.name == "kinto":
        call(server, "PUT", "/v1/buckets/bench", server.records_auth, {"data": {}})
        for collection in ("new", "listed"):
            path = f"/v1/buckets/bench/collections/{collection}"
            call(server, "PUT", path, server.records_auth, {"data": {}})
    # Filled sequentially in batches: Kinto on PostgreSQL refuses concurrent creations in one
    # collection now and then (409 errno 122, "please retry"), which is no concern of set-up.
    for start in range(0, LIST_SIZE, BATCH_SIZE):
        posts = [
            {"method": "POST", "path": server.listed, "body": json.loads(record_body(i))}
            for i in range(start, min(start + BATCH_SIZE, LIST_SIZE))
        ]
        answer = call(server, "POST", "/v1/batch", server.listed_auth, {"requests": posts})
        failed = [r["status"] for r in answer["responses"] if r["status"] != 201]
        if failed:
            raise RuntimeError(f"{server.name}: filling the listed collection: {failed}")
    ids = [
        call(server, "POST", server.records, server.records_auth, {"data": {"title": "t"}})
        for _ in range(concurrency + 1)
    ]
    return Ids(read=ids[0]["data"]["id"], patch=[r["data"]["id"] for r in ids[1:]])


def workloads(server: Server, ids: Ids) -> dict[str, Workload]:
    records, auth = server.records, server.records_auth
    read = f"{records}/{ids.read}"
    patched = [f"{records}/{i}" for i in ids.patch]
    listing = f"{server.listed}?_limit=20&_sort=-last_modified"
    return {
        "create": lambda t, i: ("POST", records, auth, record_body(i)),
        "read": lambda t, i: ("GET", read, auth, None),
        "list": lambda t, i: ("GET", listing, server.listed_auth, None),
        "patch": lambda t, i: (
            "PATCH",
            patched[t],
            auth,
            json.dumps({"data": {"rank": i}}).encode(),
        ),
    }


def versions(kinto_python: str) -> tuple[str, str]:
    ours = f"cliquet {cliquet.__version__} (Python {sys.version.split()[0]}, waitress "
    ours += f"{version('waitress')})"
    out = subprocess.run(
        [kinto_python, "-c", KINTO_VERSION], check=True, capture_output=True, text=True
    )
    kinto, python, waitress_version = out.stdout.split()
    return ours, f"kinto {kinto} (Python {python}, waitress {waitress_version})"


def row(cells: tuple[str, ...]) -> str:
    return "".join(f"{cell:>8}" for cell in cells)


def figures(runs: list[Run]) -> tuple[str, ...]:
    """Medians over rounds: requests/second, p50 and p95 latency in milliseconds."""
    rate = statistics.median(r.rate for r in runs)
    p50 = statistics.median(r.quantile(0.5) for r in runs) * 1000
    p95 = statistics.median(r.quantile(0.95) for r in runs) * 1000
    return f"{rate:.0f}", f"{p50:.2f}", f"{p95:.2f}"


def report(name: str, runs: dict[str, list[Run]]) -> None:
    a, b = runs["cliquet"], runs["kinto"]
    ratio = statistics.median(x.rate / y.rate for x, y in zip(a, b, strict=True))
    errors = [
        sum((r.errors for r in server_runs), collections.Counter()) for server_runs in (a, b)
    ]
    count = f"{sum(errors[0].values())}/{sum(errors[1].values())}"
    print(f"{name:8}{row(figures(a))} |{row(figures(b))} |{ratio:>7.2f}{count:>8}", flush=True)
    for server, counter in zip(("cliquet", "kinto"), errors, strict=True):
        if counter:
            detail = ", ".join(f"{n} x {status}" for status, n in counter.most_common())
            print(f"{'':8}errors of {server}: {detail}", flush=True)


def measure(servers: list[Server], args: argparse.Namespace) -> None:
    loads = {s.name: workloads(s, prepare(s, args.concurrency)) for s in servers}
    print()
    print(f"{'':8}{'cliquet':^24} |{'kinto':^24} |")
    print(f"{'workload':8}{row(COLUMNS)} |{row(COLUMNS)} |{'ratio':>7}  errors")
    for name in ("create", "read", "list", "patch"):
        for server in servers:  # warm-up, not counted
            load(server.port, loads[server.name][name], WARMUP_REQUESTS, args.concurrency)
        runs: dict[str, list[Run]] = {s.name: [] for s in servers}
        for round_ in range(args.rounds):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                workload = loads[server.name][name]
                runs[server.name].append(
                    load(server.port, workload, args.requests, args.concurrency)
                )
        report(name, runs)


def main(args: argparse.Namespace) -> None:
    ours, peer = versions(args.kinto_python)
    print(f"{ours} vs {peer}")
    print(
        f"backend {args.backend}, waitress {SERVER_THREADS} threads each, "
        f"{args.concurrency} client threads, {args.requests} requests x {args.rounds} rounds "
        f"per workload, listed collection {LIST_SIZE} records"
    )
    names = [f"bench_cliquet_{os.getpid()}", f"bench_kinto_{os.getpid()}"]
    with tempfile.TemporaryDirectory() as tmp, databases(args.backend, names) as dbs:
        servers: list[Server] = []
        try:
            servers.append(start_cliquet(pathlib.Path(tmp), dbs[0]))
            servers.append(start_kinto(pathlib.Path(tmp), args.kinto_python, dbs[1]))
            for server in servers:
                wait_for_heartbeat(server)
            measure(servers, args)
        finally:
            for server in servers:
                stop(server)
    print("\nratio: cliquet req/s / kinto req/s, median of per-round ratios (>1: cliquet faster)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--kinto-python",
        default="/tmp/kinto-venv/bin/python",
        help="python of the virtualenv where kinto is installed (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=["memory", "postgresql"],
        default="memory",
        help="storage, permission and cache backends of both servers (default: %(default)s)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=800,
        help="requests per workload, server and round (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="client threads, each with a keep-alive connection (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per workload (default: %(default)s)"
    )
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--requests, --concurrency and --rounds must be at least 1")
    if not os.path.exists(args.kinto_python):
        parser.error(
            f"no {args.kinto_python}: python3 -m venv /tmp/kinto-venv && "
            "/tmp/kinto-venv/bin/pip install 'kinto[postgresql]'"
        )
    return args


if __name__ == "__main__":
    main(parse_args())
