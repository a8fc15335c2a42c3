"""Item 15: the SQL storage keeps no statement per length of ``in_`` list.

The reproduction of the issue: 100 lists ``in_title=t0,t1,...,tN`` with distinct N between 2,000
and 2,100 (the ``in_`` cap raised to let them through) once kept one compiled statement of about
10 MB per N. ``tests/reliability/test_memory.py`` serves those lists (and an hour of mixed load)
on every backend and bounds the process's resident memory; here, in-process and under the default
cap, lists of distinct lengths must add nothing to the storage's caches of compiled statements
(the engine's, and the listings' LRU, whose 64 entries would hold 64 such statements), and the
SQL they send must be one text: the drivers cache prepared statements by their text (the sqlite3
module 128 per connection, psycopg 100), and one placeholder per value made each length of list
an entry of megabytes there (a SQLite service grew by 5 MB a request, PostgreSQL by 0.7 MB).
"""

import contextlib

import pytest
from sqlalchemy import event

from cliquet.testing.web import basic_auth

pytestmark = pytest.mark.backends("sqlite", "postgresql")

WARM_UP = 3
MEASURED = 10
FIRST_N = 300


def _in_title(app, auth, n):
    query = ",".join(f"t{i}" for i in range(n + 1))
    return app.get(f"/v1/articles?in_title={query}", headers=auth, status=200).json["data"]


def _compiled_statements(app):
    storage = app.app.registry.storage
    return len(storage.engine._compiled_cache), len(storage._listings)


def test_lists_with_in_filters_of_distinct_lengths_add_no_compiled_statement(make_resource_app):
    app = make_resource_app()
    alice = basic_auth("alice")
    app.post_json("/v1/articles", {"data": {"title": "t7"}}, headers=alice, status=201)
    # The first lists build what every list shares.
    for n in range(FIRST_N, FIRST_N + WARM_UP):
        assert [r["title"] for r in _in_title(app, alice, n)] == ["t7"]
    statements = _compiled_statements(app)
    for n in range(FIRST_N + WARM_UP, FIRST_N + WARM_UP + MEASURED):
        assert [r["title"] for r in _in_title(app, alice, n)] == ["t7"]
    assert _compiled_statements(app) == statements


@contextlib.contextmanager
def _sql_texts(app):
    """The texts of the SQL statements the storage sends meanwhile."""
    sent = set()

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.add(statement)

    engine = app.app.registry.storage.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_lists_with_in_filters_of_distinct_lengths_send_one_sql_text(make_resource_app):
    app = make_resource_app()
    alice = basic_auth("alice")
    app.post_json("/v1/articles", {"data": {"title": "t7", "rank": 0}}, headers=alice, status=201)

    def texts(lengths):
        with _sql_texts(app) as sent:
            for n in lengths:
                values = ",".join(str(i) for i in range(n))
                path = f"/v1/articles?in_title=t7,{values}&in_rank={values}&exclude_id={values}"
                assert [r["title"] for r in app.get(path, headers=alice).json["data"]] == ["t7"]
        return sent

    assert texts([1, 2, 3, 10, 99, 499]) == texts([1]), "the SQL depends on the number of values"


def test_deletes_of_distinct_numbers_of_records_send_a_few_sql_texts(make_resource_app):
    app = make_resource_app()
    alice = basic_auth("alice")

    def texts(count):
        for rank in range(count):
            app.post_json("/v1/articles", {"data": {"title": "t", "rank": rank}}, headers=alice)
        with _sql_texts(app) as sent:
            deleted = app.delete(f"/v1/articles?max_rank={count - 1}", headers=alice).json["data"]
        assert len(deleted) == count
        return sent

    # Padded to a power of two: 5, 6, 7 and 8 records are deleted by one statement text.
    assert texts(5) == texts(6) == texts(7) == texts(8)
