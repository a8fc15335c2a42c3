"""Item 15: a service's memory does not grow with the variety of what clients send it.

The reproduction of the issue: 100 lists ``in_title=t0,t1,...,tN`` with distinct N between 2,000
and 2,100 (the ``in_`` cap raised to let them through) once kept one compiled statement per N.
Caches bounded by their number of entries (psycopg keeps its last 100 queries per connection)
may fill during those 100; past them, further distinct N must not add to what is kept.
"""

import gc
import tracemalloc

import pytest

from cliquet.testing.web import basic_auth

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

# Fewer than the 100 (this runs on every backend, in every CI run): the statements of
# the first lists are built, then 10 more distinct N would keep 100 MB the old way.
WARM_UP = 3
MEASURED = 10
FIRST_N = 2000


def _in_title(app, auth, n):
    query = ",".join(f"t{i}" for i in range(n + 1))
    return app.get(f"/v1/articles?in_title={query}", headers=auth, status=200).json["data"]


def _compiled_statements(app):
    engine = getattr(app.app.registry.storage, "engine", None)
    cache = getattr(engine, "_compiled_cache", None)
    return 0 if cache is None else len(cache)


def test_lists_with_in_filters_of_distinct_lengths_keep_memory_flat(make_resource_app):
    app = make_resource_app({"cliquet.max_in_values": "2200"})
    alice = basic_auth("alice")
    app.post_json("/v1/articles", {"data": {"title": "t7"}}, headers=alice, status=201)
    # The first lists build what every list shares.
    for n in range(FIRST_N, FIRST_N + WARM_UP):
        assert [r["title"] for r in _in_title(app, alice, n)] == ["t7"]
    statements = _compiled_statements(app)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(FIRST_N + WARM_UP, FIRST_N + WARM_UP + MEASURED):
            assert [r["title"] for r in _in_title(app, alice, n)] == ["t7"]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert _compiled_statements(app) == statements
    # Each statement of that size once kept about 10 MB (1 GB for the 100 lists). What
    # may remain: pytest's log capture (~10 kB a list) and psycopg's last 100 queries of each
    # pooled connection (the SQL text of an IN list still has one placeholder per value).
    assert grown < 32 * 1024 * 1024, f"{grown / 1e6:.1f} MB kept by {MEASURED} more lists"
