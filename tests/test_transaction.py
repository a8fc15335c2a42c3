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


class Checkouts:
    """The pool checkouts of an engine, and the DBAPI connections they handed out."""

    def __init__(self, engine):
        self.engine = engine
        self.connections = []
        sa.event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection, record, proxy):
        self.connections.append(dbapi_connection)

    def close(self):
        sa.event.remove(self.engine, "checkout", self._checkout)


@pytest.fixture
def checkouts(app):
    recorder = Checkouts(app.app.registry.storage.engine)
    yield recorder
    recorder.close()


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize(
    "url",
    [
        "/v1/articles?_limit=20",
        "/v1/articles?title=a&_sort=-last_modified&_limit=20",
        "/v1/articles?_since=1",
    ],
)
def test_a_get_checks_out_one_connection_on_postgresql(app, alice, checkouts, url):
    """The principals, the collection's timestamp and the page are read on one connection,
    checked out (and pinged) once and returned when the request ends."""
    app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice, status=201)
    engine = app.app.registry.storage.engine
    checkouts.connections.clear()
    app.get(url, headers=alice, status=200)
    app.get(url, headers=alice, status=200)
    assert len(checkouts.connections) == 2  # one per request
    assert engine.pool.checkedout() == 0


@pytest.mark.backends("postgresql")
def test_a_read_connection_broken_in_a_request_is_not_reused(app, alice, checkouts):
    """The page's query fails with the connection (503); the next request reads on
    another connection, and answers."""
    app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice, status=201)
    engine = app.app.registry.storage.engine
    broken = []

    def break_on_listing(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT RECORDS.ID") and not broken:
            dbapi_connection = conn.connection.dbapi_connection
            broken.append(dbapi_connection)
            with engine.connect() as other:
                other.execute(
                    sa.text("SELECT pg_terminate_backend(:pid)"),
                    {"pid": dbapi_connection.info.backend_pid},
                )

    sa.event.listen(engine, "before_cursor_execute", break_on_listing)
    try:
        app.get("/v1/articles", headers=alice, status=503)
    finally:
        sa.event.remove(engine, "before_cursor_execute", break_on_listing)
    assert broken
    checkouts.connections.clear()
    assert len(app.get("/v1/articles", headers=alice, status=200).json["data"]) == 1
    assert checkouts.connections and broken[0] not in checkouts.connections
    assert engine.pool.checkedout() == 0


@pytest.mark.backends("postgresql")
def test_reads_held_in_a_request_see_what_commits_meanwhile(app, alice):
    """A held read connection is in autocommit: each query sees what was committed before
    it, as a connection of its own would."""
    from cliquet.sql import held_reads

    storage = app.app.registry.storage
    engine = storage.engine
    with held_reads():
        before = storage.list_all("articles", "p")
        storage.create("articles", "p", {"title": "meanwhile"})  # a transaction of its own
        after = storage.list_all("articles", "p")
        assert engine.pool.checkedout() == 1  # held until the scope ends
    assert before == [] and [r["title"] for r in after] == ["meanwhile"]
    assert engine.pool.checkedout() == 0


@pytest.mark.backends("postgresql")
def test_held_reads_are_one_connection_per_thread(app):
    """Two threads in their own requests never share a connection."""
    import threading

    from cliquet.sql import held_reads

    storage = app.app.registry.storage
    engine = storage.engine
    storage.create("articles", "p", {"title": "a"})  # its timestamp is there to be read
    used = {}
    barrier = threading.Barrier(2)

    def record(conn, cursor, statement, *args):
        used.setdefault(threading.get_ident(), set()).add(id(conn.connection.dbapi_connection))

    def reader():
        with held_reads():
            storage.collection_timestamp("articles", "p")
            barrier.wait()
            storage.list_all("articles", "p")
            barrier.wait()

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        threads = [threading.Thread(target=reader) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    first, second = used.values()
    assert len(first) == len(second) == 1 and not first & second
    assert engine.pool.checkedout() == 0


@pytest.mark.backends("postgresql")
def test_storage_calls_outside_a_request_return_their_connection(app):
    storage = app.app.registry.storage
    storage.create("articles", "p", {"title": "a"})
    assert storage.list_all("articles", "p")[0]["title"] == "a"
    assert storage.collection_timestamp("articles", "p") > 0
    assert storage.engine.pool.checkedout() == 0
