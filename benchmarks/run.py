"""cliquet against Kinto, side by side: throughput of the protocol's workloads, and scaling.

    python benchmarks/run.py [--quick] [--backends memory postgresql] [--scenarios ...]
        [--sizes 1000 100000 1000000] [--seconds S] [--rounds R] [--concurrency C]
        [--threads T] [--list-size N] [--requests N] [--skip-throughput] [--skip-scaling]
        [--out benchmarks/results] [--kinto-python PATH]

Both servers run under waitress with the same thread count, pinned to one core; this process,
the load generator, to the other (``--server-cpu``/``--client-cpu``; ``-1``: no pinning).

Throughput, on each backend: for each workload, the two servers take turns for ``--rounds``
rounds of ``--seconds`` each (the first server of a round alternates), after a warm-up of
each; ``--concurrency`` client threads on keep-alive connections. The workloads:

- ``create`` (POST), ``read`` (GET one), ``patch`` (each client its own record),
  ``batch`` (``POST /batch`` of 25 creations);
- on the listed collection of ``--list-size`` records (record ``i``: ``body`` ``group-<i %
  100>``, ``rank`` ``i``; loaded in bulk on PostgreSQL, over HTTP on memory): ``list`` (20
  newest), ``filter-sort`` (``?body=group-7&_sort=-last_modified&_limit=20``), ``paginate``
  (follow ``Next-Page`` of ``?_limit=20`` through the collection, each client its own walk),
  ``since`` (``_since`` near the end);
- ``mixed``: each client picks at random, by weight, as upstream cliquet's old load test
  did: create 20, batch-create 50, PATCH 50, filter+sort 60, delete 10, ``_since`` poll 90
  (from its last write), paginate with ``_limit=20`` 80 (its own walk); PATCH and delete aim
  at records the client created.

Requests/second and latencies count successes only; any non-2xx answer (or failed
subrequest of a batch, or connection failure) is counted per server and reported. The ratio
is the median over rounds of ours/Kinto req/s (above 1: ours serves more).

Scaling, on PostgreSQL: for each of ``--sizes``, both servers' listed collections are loaded
in bulk (one ``INSERT ... SELECT generate_series`` into each server's own table, then
``VACUUM ANALYZE``) and sequential requests on one keep-alive connection per server, the two
servers in turn request by request, give p50 and best of ``--requests`` (after a warm-up).

Writes ``benchmark.md``, ``benchmark.json`` and ``benchmark.png`` to ``--out``, and prints the
figures and the machine's load average.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import http.client
import json
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402  (sibling modules, not a package)
import profiling  # noqa: E402
import report  # noqa: E402
from harness import Answer, Request, Server, Session  # noqa: E402

LIST_PAGE = 20
SCALING_PAGE = 100
WARMUP_REQUESTS = 5
SCENARIOS = (
    "create",
    "read",
    "list",
    "patch",
    "batch",
    "filter-sort",
    "paginate",
    "since",
    "mixed",
)
# Upstream cliquet's old load test: how often each action is picked.
MIXED_WEIGHTS = {
    "create": 20,
    "batch-create": 50,
    "patch": 50,
    "filter-sort": 60,
    "delete": 10,
    "since": 90,
    "paginate": 80,
}


@dataclasses.dataclass
class Fixtures:
    """What the workloads of one server aim at."""

    read: str  # a record of the creations' collection
    patch: list[str]  # one record per client thread
    since: int  # a timestamp near the end of the listed collection


def rank_patch(n: int) -> bytes:
    return json.dumps({"data": {"rank": n}}).encode()


class Mixed(Session):
    """Upstream's mix of actions on the listed collection, one client's share."""

    def __init__(self, server: Server, seed: int, since: int):
        self.server, self.rng, self.since = server, random.Random(seed), since
        self.owned: list[str] = []  # records this client created, for PATCH and delete
        self.n = seed * 1_000_000
        self.walk = harness.Walk(f"{server.listed.path}?_limit={LIST_PAGE}", server.listed.auth)
        self.action = ""

    def request(self) -> Request:
        self.n += 1
        names, weights = list(MIXED_WEIGHTS), list(MIXED_WEIGHTS.values())
        action = self.rng.choices(names, weights)[0]
        if action in ("patch", "delete") and not self.owned:
            action = "create"
        self.action = action
        listed, auth = self.server.listed.path, self.server.listed.auth
        if action == "create":
            return "POST", listed, auth, harness.record_body(self.n)
        if action == "batch-create":
            return "POST", "/v1/batch", auth, harness.batch_body(listed, self.n * 100)
        if action == "patch":
            return "PATCH", f"{listed}/{self.rng.choice(self.owned)}", auth, rank_patch(self.n)
        if action == "delete":
            record = self.owned.pop(self.rng.randrange(len(self.owned)))
            return "DELETE", f"{listed}/{record}", auth, None
        if action == "filter-sort":
            group = self.rng.randrange(harness.GROUPS)
            query = f"body=group-{group}&_sort=-last_modified&_limit={LIST_PAGE}"
            return "GET", f"{listed}?{query}", auth, None
        if action == "since":
            return "GET", f"{listed}?_since={self.since}", auth, None
        return self.walk.request()

    def check(self, request: Request, answer: Answer) -> str | None:
        if self.action == "paginate":
            return self.walk.check(request, answer)
        if self.action == "batch-create":
            failure = harness.batch_failures(answer)
            written = (
                [r["body"]["data"] for r in answer.json()["responses"]] if not failure else []
            )
        else:
            failure = super().check(request, answer)
            written = [answer.json()["data"]] if not failure and self.action == "create" else []
        for record in written:
            self.owned.append(record["id"])
            self.since = max(self.since, record["last_modified"])
        return failure


def sessions(server: Server, fixtures: Fixtures) -> dict[str, harness.SessionFactory]:
    records, auth = server.records.path, server.records.auth
    listed, listed_auth = server.listed.path, server.listed.auth
    filtered = f"{listed}?body=group-7&_sort=-last_modified&_limit={LIST_PAGE}"

    def fixed(method: str, path: str, auth: str, body=None) -> harness.SessionFactory:
        return lambda t: harness.Fixed(method, path, auth, body)

    return {
        "create": fixed("POST", records, auth, harness.record_body),
        "read": fixed("GET", f"{records}/{fixtures.read}", auth),
        "list": fixed("GET", f"{listed}?_limit={LIST_PAGE}&_sort=-last_modified", listed_auth),
        "patch": lambda t: harness.Fixed(
            "PATCH", f"{records}/{fixtures.patch[t]}", auth, rank_patch
        ),
        "batch": lambda t: harness.Batch(
            "POST", "/v1/batch", auth, lambda n: harness.batch_body(records, (t * 10**6 + n) * 100)
        ),
        "filter-sort": fixed("GET", filtered, listed_auth),
        "paginate": lambda t: harness.Walk(f"{listed}?_limit={LIST_PAGE}", listed_auth),
        "since": fixed("GET", f"{listed}?_since={fixtures.since}", listed_auth),
        "mixed": lambda t: Mixed(server, t + 1, fixtures.since),
    }


def prepare(server: Server, list_size: int, concurrency: int) -> Fixtures:
    harness.fill(server, server.listed, list_size)
    newest = harness.call(
        server, "GET", f"{server.listed.path}?_sort=-last_modified&_limit=10", server.listed.auth
    ).json()["data"]
    created = [
        harness.call(
            server, "POST", server.records.path, server.records.auth, {"data": {"title": "t"}}
        )
        for _ in range(concurrency + 1)
    ]
    ids = [answer.json()["data"]["id"] for answer in created]
    return Fixtures(read=ids[0], patch=ids[1:], since=newest[-1]["last_modified"])


def summary(runs: list[harness.Run]) -> dict:
    errors = sum((r.errors for r in runs), collections.Counter())
    return {
        "rps": statistics.median(r.rate for r in runs),
        "p50_ms": statistics.median(r.quantile(0.5) for r in runs) * 1000,
        "p95_ms": statistics.median(r.quantile(0.95) for r in runs) * 1000,
        "ok": sum(len(r.latencies) for r in runs),
        "errors": dict(errors),
    }


def throughput(backend: str, args: argparse.Namespace, placement: harness.Placement) -> dict:
    """``{scenario: {"cliquet": summary, "kinto": summary, "ratio": float}}`` on one backend."""
    names = [f"bench_cliquet_{os.getpid()}", f"bench_kinto_{os.getpid()}"]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, harness.databases(backend, names) as dbs:
        with harness.servers(pathlib.Path(tmp), args.kinto_python, dbs, placement) as pair:
            print(f"[{backend}] loading {args.list_size:,} records into each...", flush=True)
            loads = {
                s.name: sessions(s, prepare(s, args.list_size, args.concurrency)) for s in pair
            }
            print(f"[{backend}] {header()}", flush=True)
            for scenario in args.scenarios:
                results[scenario] = compare(pair, loads, scenario, args)
                print(f"[{backend}] {line(scenario, results[scenario])}", flush=True)
                if scenario in args.profile:
                    for server in pair:
                        profile(
                            server, loads[server.name][scenario], f"{backend}-{scenario}", args
                        )
    return results


def compare(
    pair: list[Server], loads: dict[str, dict], scenario: str, args: argparse.Namespace
) -> dict:
    """One workload on both servers: warm-up, then rounds in alternating order."""
    for server in pair:  # warm-up, not counted
        harness.load(server.port, loads[server.name][scenario], args.warmup, args.concurrency)
    runs: dict[str, list[harness.Run]] = {s.name: [] for s in pair}
    for round_ in range(args.rounds):
        for server in pair if round_ % 2 == 0 else pair[::-1]:
            factory = loads[server.name][scenario]
            runs[server.name].append(
                harness.load(server.port, factory, args.seconds, args.concurrency)
            )
    ratios = [
        a.rate / b.rate if b.rate else float("inf")
        for a, b in zip(runs["cliquet"], runs["kinto"], strict=True)
    ]
    return {
        "cliquet": summary(runs["cliquet"]),
        "kinto": summary(runs["kinto"]),
        "ratio": statistics.median(ratios),
    }


def profile(
    server: Server, factory: harness.SessionFactory, name: str, args: argparse.Namespace
) -> None:
    """One more round of the workload (not counted), sampled by py-spy; a summary to --out."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"profile-{name}-{server.name}.raw"
    sampler = profiling.start(server.process.pid, args.seconds, raw)
    time.sleep(0.5)  # py-spy attaches
    harness.load(server.port, factory, args.seconds + 1, args.concurrency)
    _, stderr = sampler.communicate(timeout=60)
    if sampler.returncode != 0 or not raw.exists():
        print(f"  py-spy failed on {server.name}: {stderr.decode(errors='replace')[-300:]}")
        return
    text = profiling.summary(raw, f"{server.name}, {name}")
    raw.unlink()
    (out / f"profile-{name}-{server.name}.txt").write_text(text)
    print(text)


def header() -> str:
    return (
        f"{'scenario':12}{'ours req/s':>11}{'p50':>9}{'p95':>9} |{'Kinto req/s':>12}"
        f"{'p50':>9}{'p95':>9} |{'ratio':>7}  non-2xx ours/Kinto"
    )


def errors_text(counter: dict) -> str:
    return ", ".join(
        f"{n} x {status}" for status, n in sorted(counter.items(), key=lambda x: -x[1])
    )


def line(scenario: str, figures: dict) -> str:
    ours, kinto = figures["cliquet"], figures["kinto"]
    count = f"{sum(ours['errors'].values())}/{sum(kinto['errors'].values())}"
    text = (
        f"{scenario:12}{ours['rps']:>11.0f}{ours['p50_ms']:>9.2f}{ours['p95_ms']:>9.2f} |"
        f"{kinto['rps']:>12.0f}{kinto['p50_ms']:>9.2f}{kinto['p95_ms']:>9.2f} |"
        f"{figures['ratio']:>7.2f}  {count}"
    )
    for name, server in (("ours", ours), ("Kinto", kinto)):
        if server["errors"]:
            text += f"\n{'':12}non-2xx of {name}: {errors_text(server['errors'])}"
    return text


# Scaling: a request to time, given the server's connection (which it may use first, untimed).
SCALING = (
    "list, first page of 100",
    "list, a page deep (via Next-Page)",
    "filter matching 1 % (page of 100)",
    "filter matching one record",
    "like_ filter (page of 100)",
    "range matching 1 % (page of 100)",
    "in_ matching 2 records",
    "HEAD (count)",
    "HEAD, filter matching 1 %",
    "poll: _since near the end",
    "GET one record",
    "POST one record",
)


@dataclasses.dataclass
class Loaded:
    """A collection of one size on one server, and a keep-alive connection to it."""

    server: Server
    collection: harness.Collection
    size: int
    start: int  # last_modified of record 0
    record: str  # a record to GET
    connection: http.client.HTTPConnection

    def request(self, label: str) -> Request:
        """The request of ``label``, after whatever untimed request it needs first."""
        listed, auth, size = self.collection.path, self.collection.auth, self.size
        if label == "list, a page deep (via Next-Page)":
            # Kinto's tokens are good for one use: each sample walks to its page anew.
            first = f"{listed}?_limit={SCALING_PAGE}&lt_last_modified={self.start + size // 2}"
            answer = harness.send(self.connection, ("GET", first, auth, None))
            if answer.next_page is None:
                raise RuntimeError(f"{self.server.name}: no Next-Page on {first}")
            return "GET", answer.next_page, auth, None
        since = self.start + size - 10
        requests: dict[str, Request] = {
            "list, first page of 100": ("GET", f"{listed}?_limit={SCALING_PAGE}", auth, None),
            "filter matching 1 % (page of 100)": (
                "GET",
                f"{listed}?body=group-7&_limit={SCALING_PAGE}",
                auth,
                None,
            ),
            "filter matching one record": ("GET", f"{listed}?rank={size // 2}", auth, None),
            "like_ filter (page of 100)": (
                "GET",
                f"{listed}?like_title=*cord%20{size // 2 + 1}*&_limit={SCALING_PAGE}",
                auth,
                None,
            ),
            "range matching 1 % (page of 100)": (
                "GET",
                f"{listed}?lt_rank={size // 100}&_limit={SCALING_PAGE}",
                auth,
                None,
            ),
            "in_ matching 2 records": (
                "GET",
                f"{listed}?in_rank={size // 2},{size // 2 + 1}",
                auth,
                None,
            ),
            "HEAD (count)": ("HEAD", listed, auth, None),
            "HEAD, filter matching 1 %": ("HEAD", f"{listed}?body=group-7", auth, None),
            "poll: _since near the end": ("GET", f"{listed}?_since={since}", auth, None),
            "GET one record": ("GET", f"{listed}/{self.record}", auth, None),
            "POST one record": ("POST", listed, auth, harness.record_body(size + 7)),
        }
        return requests[label]


def load_for_scaling(server: Server, size: int) -> Loaded:
    """A collection of ``size`` records loaded in bulk, checked, and one more POSTed."""
    collection = server.collection(f"size{size}")
    server.create(collection)
    began = time.perf_counter()
    start = harness.bulk_load(server, collection, size)
    took = time.perf_counter() - began
    print(f"[scaling] {server.name}: {size:,} records loaded in {took:.1f} s", flush=True)
    path, auth = collection.path, collection.auth
    body = {"data": harness.record_data(size)}
    record = harness.call(server, "POST", path, auth, body).json()
    # What the scenarios rely on: the count, and one record of each rank.
    head = harness.call(server, "HEAD", path, auth).headers
    total = head.get("Total-Records") or head.get("Total-Objects")
    one = harness.call(server, "GET", f"{path}?rank={size // 2}", auth)
    if total != str(size + 1) or len(one.json()["data"]) != 1:
        raise RuntimeError(
            f"{server.name}: {total} records, {one.body[:200]!r} of rank {size // 2}"
        )
    connection = http.client.HTTPConnection(harness.HOST, server.port, timeout=300)
    return Loaded(server, collection, size, start, record["data"]["id"], connection)


def sample(label: str, order: list[Loaded], requests: int) -> list[dict]:
    """``{"p50_ms", "best_ms", "errors"}`` of each of ``order``, in turn request by request."""
    samples: list[list[float]] = [[] for _ in order]
    errors: list[collections.Counter[str]] = [collections.Counter() for _ in order]
    for n in range(WARMUP_REQUESTS + requests):
        for i, loaded in enumerate(order):
            request = loaded.request(label)
            began = time.perf_counter()
            answer = harness.send(loaded.connection, request)
            elapsed = time.perf_counter() - began
            if not 200 <= answer.status < 300:
                errors[i][str(answer.status)] += 1
            elif n >= WARMUP_REQUESTS:
                samples[i].append(elapsed)
    return [
        {
            "p50_ms": statistics.median(values) * 1000 if values else None,
            "best_ms": min(values) * 1000 if values else None,
            "errors": dict(counter),
        }
        for values, counter in zip(samples, errors, strict=True)
    ]


def scaling(args: argparse.Namespace, placement: harness.Placement) -> dict:
    """``{size: {label: {server: {"p50_ms", "best_ms", "errors"}}}}``.

    One database per server holds a collection of each size; every request takes its turn
    among all sizes and both servers, so that a change of the machine's load between sizes
    weighs on all of them alike.
    """
    names = [f"bench_scaling_cliquet_{os.getpid()}", f"bench_scaling_kinto_{os.getpid()}"]
    results: dict[str, dict] = {str(size): {} for size in args.sizes}
    with tempfile.TemporaryDirectory() as tmp, harness.databases("postgresql", names) as dbs:
        with harness.servers(pathlib.Path(tmp), args.kinto_python, dbs, placement) as pair:
            loaded = [load_for_scaling(server, size) for size in args.sizes for server in pair]
            try:
                for index, label in enumerate(SCALING):
                    order = loaded if index % 2 == 0 else loaded[::-1]
                    for x, figures in zip(order, sample(label, order, args.requests), strict=True):
                        results[str(x.size)].setdefault(label, {})[x.server.name] = figures
                    for size in args.sizes:
                        ours, kinto = (results[str(size)][label][s] for s in ("cliquet", "kinto"))
                        print(f"[scaling {size:,}] {label}: ours {ms(ours)}, Kinto {ms(kinto)}")
            finally:
                for x in loaded:
                    x.connection.close()
    return results


def ms(figures: dict) -> str:
    if figures["p50_ms"] is None:
        return f"failed ({errors_text(figures['errors'])})"
    text = f"{figures['p50_ms']:.1f} / {figures['best_ms']:.1f} ms"
    if figures["errors"]:
        text += f" (non-2xx: {errors_text(figures['errors'])})"
    return text


def main(args: argparse.Namespace) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as source:
        if args.ref is None:
            placement = harness.Placement(args.threads, args.server_cpu)
            served = harness.describe_working_tree()
        else:
            sha = harness.export(args.ref, pathlib.Path(source))
            placement = harness.Placement(args.threads, args.server_cpu, pathlib.Path(source))
            served = f"commit {sha}"
        measure(args, placement, served)


def measure(args: argparse.Namespace, placement: harness.Placement, served: str) -> None:
    harness.pin_self(args.client_cpu)
    ours, peer = harness.versions(args.kinto_python)
    ours += f", {served}"
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": [ours, peer],
        "settings": {
            k: v for k, v in vars(args).items() if k not in ("kinto_python", "out", "quick")
        },
        "load_average_start": harness.load_average(),
        "load_average_after": {},
        "cpus": os.cpu_count(),
    }
    print(f"{ours} vs {peer}")
    print(
        f"waitress {args.threads} threads each, servers on cpu {args.server_cpu}, load on cpu "
        f"{args.client_cpu}; load average {meta['load_average_start']}",
        flush=True,
    )
    began = time.perf_counter()
    results: dict = {"meta": meta, "throughput": {}, "scaling": {}}
    if not args.skip_throughput:
        for backend in args.backends:
            results["throughput"][backend] = throughput(backend, args, placement)
            meta["load_average_after"][f"throughput on {backend}"] = harness.load_average()
            print(f"load average {harness.load_average()}", flush=True)
    if not args.skip_scaling:
        results["scaling"] = scaling(args, placement)
        meta["load_average_after"]["scaling"] = harness.load_average()
        print(f"load average {harness.load_average()}", flush=True)
    meta["load_average_end"] = harness.load_average()
    meta["seconds"] = round(time.perf_counter() - began)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
    markdown = report.markdown(results)
    (out / "benchmark.md").write_text(markdown)
    report.chart(results, out / "benchmark.png")
    print()
    print(markdown)
    print(f"written: {out}/benchmark.md, benchmark.json, benchmark.png")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a run of a few minutes: "
        "2 rounds of 2 s, 2,000 listed records, sizes 1,000 and 100,000, 15 requests",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["memory", "postgresql"],
        default=["memory", "postgresql"],
        help="backends of the throughput run (default: %(default)s)",
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="throughput workloads, in this order (default: all)",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help="records of the scaling collection, one run each (default: 1000 100000 1000000)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds per round (default: 5)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per workload (default: 4)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of warm-up per workload and server (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="client threads, each a keep-alive connection (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="waitress threads of each server (default: %(default)s)",
    )
    parser.add_argument(
        "--list-size",
        type=int,
        default=None,
        help="records of the listed collection (default: 10000)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="sequential requests per scaling scenario (default: 40)",
    )
    parser.add_argument(
        "--server-cpu",
        type=int,
        default=0,
        help="core of the servers, -1: any (default: %(default)s)",
    )
    parser.add_argument(
        "--client-cpu",
        type=int,
        default=1,
        help="core of the load generator, -1: any (default: %(default)s)",
    )
    parser.add_argument(
        "--ref",
        default=None,
        help="serve ours from this commit (git archive) instead of the working tree, which "
        "others' uncommitted changes may share (default: the working tree)",
    )
    parser.add_argument(
        "--profile",
        nargs="+",
        choices=SCENARIOS,
        default=[],
        help="after these workloads, one more round of each server under py-spy; the summary "
        "to --out as profile-<backend>-<workload>-<server>.txt (default: none)",
    )
    parser.add_argument("--skip-throughput", action="store_true", help="only the scaling run")
    parser.add_argument("--skip-scaling", action="store_true", help="only the throughput run")
    parser.add_argument(
        "--out",
        default=str(harness.ROOT / "benchmarks" / "results"),
        help="where the table, JSON and chart go (default: %(default)s)",
    )
    parser.add_argument(
        "--kinto-python",
        default="/tmp/kinto-venv/bin/python",
        help="python of the virtualenv where kinto is installed (default: %(default)s)",
    )
    args = parser.parse_args()
    quick = {
        "seconds": 2.0,
        "rounds": 2,
        "list_size": 2000,
        "sizes": [1000, 100_000],
        "requests": 15,
    }
    full = {
        "seconds": 5.0,
        "rounds": 4,
        "list_size": 10_000,
        "sizes": [1000, 100_000, 1_000_000],
        "requests": 40,
    }
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick:
        args.warmup = min(args.warmup, 0.5)
    for key in ("server_cpu", "client_cpu"):
        if getattr(args, key) < 0:
            setattr(args, key, None)
    if min(args.rounds, args.concurrency, args.threads, args.requests) < 1 or args.seconds <= 0:
        parser.error(
            "--rounds, --concurrency, --threads, --requests and --seconds must be positive"
        )
    if args.list_size < 100 or min(args.sizes) < 1000:
        parser.error("--list-size must be at least 100 and each size at least 1000")
    if args.profile and not profiling.available():
        parser.error("--profile needs py-spy: python3 -m pip install py-spy")
    if not os.path.exists(args.kinto_python):
        parser.error(
            f"no {args.kinto_python}: python3 -m venv /tmp/kinto-venv && "
            "/tmp/kinto-venv/bin/pip install 'kinto[postgresql]'"
        )
    return args


if __name__ == "__main__":
    main(parse_args())
