"""A request's unit of work on the SQL backends: what it sends to the database, and when.

The statements of a POST and a GET are counted as they reach the driver: the cost of a
write is the collection's lock (which reserves the timestamp and tells the previous one)
and the write itself; a read is one query per backend asked.
"""

from itertools import pairwise

import pytest
import sqlalchemy as sa
from transaction.interfaces import NoTransaction

from cliquet.unit_of_work import transaction_manager
from tests.resource import conftest as resource_fixtures

pytestmark = pytest.mark.backends("sqlite", "postgresql")

backend_settings = resource_fixtures.backend_settings
make_resource_app = resource_fixtures.make_resource_app
app = resource_fixtures.app
alice = resource_fixtures.alice


class Sent:
    """Every statement an engine sends, COMMIT and ROLLBACK included."""

    def __init__(self, engine):
        self.engine = engine
        self.statements = []
        self._listeners = [
            ("before_cursor_execute", self._statement),
            ("commit", lambda conn: self.statements.append("COMMIT")),
            ("rollback", lambda conn: self.statements.append("ROLLBACK")),
        ]
        for name, listener in self._listeners:
            sa.event.listen(engine, name, listener)

    def _statement(self, conn, cursor, statement, *args):
        self.statements.append(f"{statement.split()[0].upper()} {_table(statement)}")

    def close(self):
        for name, listener in self._listeners:
            sa.event.remove(self.engine, name, listener)


def _table(statement):
    for table in ("timestamps", "records", "access_control_entries", "user_principals"):
        if f" {table}" in statement:
            return table
    return ""


@pytest.fixture
def sent(app):
    recorder = Sent(app.app.registry.storage.engine)
    yield recorder
    recorder.close()


def _writes(statements):
    """The statements of the unit of work's transaction, without the principals' lookup."""
    return [s for s in statements if "user_principals" not in s]


def test_a_post_sends_the_lock_the_insert_and_the_commit(app, alice, sent):
    app.post_json("/v1/articles", {"data": {"title": "warm"}}, headers=alice, status=201)
    sent.statements.clear()
    app.post_json("/v1/articles", {"data": {"title": "one"}}, headers=alice, status=201)
    begin = ["BEGIN "] if app.app.registry.storage.engine.dialect.name == "sqlite" else []
    assert _writes(sent.statements) == [
        *begin,
        "INSERT timestamps",  # creates or locks the row, reserves, tells the previous
        "INSERT records",
        "COMMIT",
    ]


def test_a_post_with_if_match_on_the_collection_costs_no_more(app, alice, sent):
    etag = app.get("/v1/articles", headers=alice).headers["ETag"]
    sent.statements.clear()
    headers = {**alice, "If-Match": etag}
    app.post_json("/v1/articles", {"data": {"title": "one"}}, headers=headers, status=201)
    assert [s for s in _writes(sent.statements) if s.endswith(("timestamps", "records"))] == [
        "INSERT timestamps",
        "INSERT records",
    ]


def test_a_refused_precondition_puts_nothing_and_sends_a_rollback(app, alice, sent):
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice).json
    sent.statements.clear()
    headers = {**alice, "If-Match": '"1"'}
    app.post_json("/v1/articles", {"data": {"title": "b"}}, headers=headers, status=412)
    writes = _writes(sent.statements)
    assert "INSERT records" not in writes and "COMMIT" not in writes
    assert writes[-1] == "ROLLBACK"
    etag = app.get("/v1/articles", headers=alice).headers["ETag"]
    assert etag == f'"{created["data"]["last_modified"]}"'


def test_a_get_of_one_record_is_one_query_outside_any_unit_of_work(app, alice, sent):
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice).json
    sent.statements.clear()
    app.get(f"/v1/articles/{created['data']['id']}", headers=alice, status=200)
    queries = [s for s in sent.statements if s not in ("BEGIN ", "COMMIT", "ROLLBACK")]
    assert queries == ["SELECT user_principals", "SELECT records"]


@pytest.mark.backends("postgresql")
def test_reads_of_one_query_send_no_begin_nor_commit_on_postgresql(app, alice):
    """Outside a unit of work a query alone needs no transaction: psycopg in autocommit
    sends neither BEGIN nor COMMIT around it (two round trips of three)."""
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice).json
    engine = app.app.registry.storage.engine
    autocommit = []

    def record(conn, cursor, statement, *args):
        autocommit.append((_table(statement), conn.connection.dbapi_connection.autocommit))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        app.get(f"/v1/articles/{created['data']['id']}", headers=alice, status=200)
        app.head("/v1/articles", headers=alice, status=200)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert autocommit and all(on for _, on in autocommit), autocommit


def test_a_batch_of_creations_locks_once_and_moves_the_timestamp_once(app, alice, sent):
    app.post_json("/v1/articles", {"data": {"title": "warm"}}, headers=alice, status=201)
    sent.statements.clear()
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [{"body": {"data": {"title": f"t{n}"}}} for n in range(5)],
    }
    answers = app.post_json("/v1/batch", body, headers=alice, status=200).json["responses"]
    assert [a["status"] for a in answers] == [201] * 5
    stamps = [a["body"]["data"]["last_modified"] for a in answers]
    assert all(a < b for a, b in pairwise(stamps))
    writes = [s for s in _writes(sent.statements) if s != "BEGIN "]
    assert writes == [
        "INSERT timestamps",
        *["INSERT records"] * 5,
        "UPDATE timestamps",  # to the last creation's timestamp, before commit
        "COMMIT",
    ]
    assert app.get("/v1/articles", headers=alice).headers["ETag"] == f'"{stamps[-1]}"'


def test_a_transaction_left_over_by_a_request_does_not_stop_the_next(app, alice):
    """A request interrupted past pyramid_tm's reach (a failed commit, a BaseException)
    leaves its transaction to the thread's manager; the next one begins anyway."""
    manager = transaction_manager(app.app.registry)
    manager.begin()
    app.post_json("/v1/articles", {"data": {"title": "next"}}, headers=alice, status=201)
    with pytest.raises(NoTransaction):
        manager.get()
    assert [r["title"] for r in app.get("/v1/articles", headers=alice).json["data"]] == ["next"]
