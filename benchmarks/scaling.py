"""How list, filter and count requests cost as a collection grows, on PostgreSQL.

    python benchmarks/scaling.py [--sizes 1000 100000] [--requests N]

For each size, a fresh database on 127.0.0.1:5432 (user ``postgres``, dropped at the end)
gets one collection of that many articles of one user, loaded in bulk (one ``INSERT ...
SELECT generate_series``, then ``VACUUM ANALYZE``), and cliquet's test service
(``tests/serve_testapp.py`` under waitress, as ``vs_kinto.py`` starts it) answers sequential
requests on one keep-alive connection: the p50 and the best of ``--requests`` requests per
scenario, after a few not counted (on a machine shared with other work, the best is the
steadier figure of what a request costs). Record ``i`` has ``rank`` ``i``, ``body``
``group-<i % 100>`` and ``last_modified`` growing with ``i``.

Scenarios: the first page of 100 (newest first), a page of 100 in the middle of the walk
(its ``_token`` signed here as the service signs ``Next-Page``, as if the client had walked
there), a filter matching 1 % of the records, one matching one record, ``HEAD`` (the count),
a filtered ``HEAD``, ``_since`` near the end, a ``GET`` of one record and a ``POST`` (the
last: its records are added to the collection). Ours only: Kinto has no bulk loading here.
"""

from __future__ import annotations

import argparse
import http.client
import pathlib
import statistics
import sys
import tempfile
import time
from urllib.parse import urlencode

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import vs_kinto  # noqa: E402  (a sibling script, not a package)

from cliquet.authentication import basicauth_userid  # noqa: E402
from cliquet.resource import querystring  # noqa: E402

WARMUP = 5
PAGE = 100
GROUPS = 100  # "body" takes this many values: one of them is 1 % of the records
START_MS = 1_600_000_000_000

LOAD = f"""
INSERT INTO records (parent_id, collection_id, id, data, last_modified, deleted)
SELECT %(parent)s, 'article', gen_random_uuid()::text,
       jsonb_build_object('title', 'record ' || i, 'body', 'group-' || (i %% {GROUPS}),
                          'rank', i, 'tags', jsonb_build_array('a')),
       %(start)s + i, false
FROM generate_series(1, %(count)s) AS i
"""
STAMP = """
INSERT INTO timestamps (parent_id, collection_id, last_modified)
VALUES (%(parent)s, 'article', %(stamp)s)
ON CONFLICT (parent_id, collection_id) DO UPDATE SET last_modified = excluded.last_modified
"""


def bulk_load(database: str, parent: str, count: int) -> None:
    import psycopg

    with psycopg.connect(vs_kinto.PG_URL.format(database), autocommit=True) as conn:
        conn.execute(LOAD, {"parent": parent, "start": START_MS, "count": count})
        conn.execute(STAMP, {"parent": parent, "stamp": START_MS + count})
        conn.execute("VACUUM ANALYZE records")
        conn.execute("VACUUM ANALYZE timestamps")


def deep_page(userid: str, count: int) -> str:
    """The URL of the page that a walk of pages of 100 reaches halfway through."""
    params = {"_limit": str(PAGE)}
    scope = querystring.query_scope(params, userid, "article")
    page = querystring.PageToken({"last_modified": START_MS + count // 2}, START_MS + count)
    token = querystring.encode_token(vs_kinto.SECRET, scope, page)
    return "/v1/articles?" + urlencode({**params, "_token": token})


# A scenario: method, path and body (None: no body).
Scenario = tuple[str, str, "bytes | None"]


def scenarios(userid: str, count: int, record_id: str) -> dict[str, Scenario]:
    since = START_MS + count - 10
    posted = b'{"data": {"title": "posted", "body": "group-7"}}'
    return {
        "list, first page of 100": ("GET", f"/v1/articles?_limit={PAGE}", None),
        "list, a page deep in the collection": ("GET", deep_page(userid, count), None),
        "filter matching 1 % (page of 100)": (
            "GET",
            f"/v1/articles?body=group-7&_limit={PAGE}",
            None,
        ),
        "filter matching one record": ("GET", f"/v1/articles?rank={count // 2}", None),
        "HEAD (count)": ("HEAD", "/v1/articles", None),
        "HEAD, filter matching 1 %": ("HEAD", "/v1/articles?body=group-7", None),
        "_since near the end": ("GET", f"/v1/articles?_since={since}", None),
        "GET one record": ("GET", f"/v1/articles/{record_id}", None),
        "POST one record": ("POST", "/v1/articles", posted),
    }


def timed(port: int, scenario: Scenario, auth: str, requests: int) -> list[float]:
    method, path, body = scenario
    headers = {"Authorization": auth}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(vs_kinto.HOST, port, timeout=120)
    latencies = []
    try:
        for n in range(WARMUP + requests):
            start = time.perf_counter()
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status not in (200, 201):
                raise RuntimeError(f"{method} {path} -> {response.status}")
            if n >= WARMUP:
                latencies.append(time.perf_counter() - start)
    finally:
        connection.close()
    return latencies


def measure(count: int, requests: int) -> dict[str, tuple[float, float]]:
    """``{scenario: (p50 ms, best ms)}`` at ``count`` records."""
    auth = vs_kinto.basic_auth(vs_kinto.USER)
    userid = basicauth_userid(vs_kinto.SECRET, vs_kinto.USER, "secret")
    name = f"bench_scaling_{count}"
    with tempfile.TemporaryDirectory() as tmp, vs_kinto.databases("postgresql", [name]) as dbs:
        server = vs_kinto.start_cliquet(pathlib.Path(tmp), dbs[0])
        try:
            vs_kinto.wait_for_heartbeat(server)
            first = {"data": {"title": "first"}}
            created = vs_kinto.call(server, "POST", "/v1/articles", auth, first)["data"]
            print(f"{count:,} records: loading...", file=sys.stderr, flush=True)
            bulk_load(name, userid, count - 1)
            figures = {}
            for label, scenario in scenarios(userid, count, created["id"]).items():
                latencies = timed(server.port, scenario, auth, requests)
                figures[label] = (statistics.median(latencies) * 1000, min(latencies) * 1000)
                p50, best = figures[label]
                print(f"  {label}: {p50:.1f} ms ({best:.1f})", file=sys.stderr, flush=True)
        finally:
            vs_kinto.stop(server)
    return figures


def main(args: argparse.Namespace) -> None:
    results = {count: measure(count, args.requests) for count in args.sizes}
    labels = list(next(iter(results.values())))
    sizes = [f"{count:,}" for count in args.sizes]
    print(f"p50 / best ms of {args.requests} sequential requests, PostgreSQL, one collection\n")
    print("| request | " + " | ".join(sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for label in labels:
        cells = (f"{results[c][label][0]:.1f} / {results[c][label][1]:.1f}" for c in args.sizes)
        print(f"| {label} | " + " | ".join(cells) + " |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1000, 100_000],
        help="records in the collection, one run each (default: %(default)s)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=50,
        help="timed requests per scenario and size (default: %(default)s)",
    )
    args = parser.parse_args()
    if args.requests < 1 or min(args.sizes) < 1000:
        parser.error("--requests must be at least 1 and each size at least 1000")
    return args


if __name__ == "__main__":
    main(parse_args())
