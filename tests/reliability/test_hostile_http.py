"""Hostile inputs over real HTTP: the security suite's set, against a served service on PostgreSQL.

``tests/security/test_hostile_input.py`` sends its bodies, querystrings, paths, headers and batch
subrequests in-process (WebTest), ``test_raw_http.py`` malformed HTTP to a service on memory,
``fuzz.py`` random mutations in-process. Here their very requests (their lists and generator,
imported) go through sockets (``wire.py``: byte for byte, where a client library would refuse)
to a service in a process of its own, on PostgreSQL, served by ``cliquet.server`` as a
generated project is; slow clients trickle bodies and headers meanwhile.

Every answer must be below 500 and JSON, every error cliquet's (``code``, ``errno`` from the
errno table, ``error``, ``message``: ``tests.security.hostile.problems``), and nothing may be
stored but what was acknowledged: the records and permissions in the database are compared
before and after each test, and a row that changed must belong to a write answered 2xx (the
fuzzer's ``Tracker`` learns them from every answer); where every write is hostile, none is.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import webob

from tests.reliability.processes import Server, basic, served, sql_env
from tests.reliability.wire import Connection, ServedApp
from tests.security import test_hostile_input as hostile_input
from tests.security import test_raw_http as raw_http
from tests.security.fuzz import Generator, Request, Tracker, run
from tests.security.hostile import ERRNOS, Answer, assert_answered, assert_refused, send
from tests.servers import postgresql_database

pytestmark = pytest.mark.postgresql

ALICE = {"Authorization": basic("alice")}
CAROL = {"Authorization": basic("carol")}  # owns nothing: what her DELETE may remove is nothing
JSON = {"Content-Type": "application/json"}
FUZZED = 2_000
SLOW_SECONDS = 3.0


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[Server, str]]:
    with postgresql_database() as url, served(sql_env(url)) as (server,):
        yield server, url


# What is stored ------------------------------------------------------------------------------


@dataclass
class Stored:
    """The rows of the database that hold data: records (tombstones too) and permissions."""

    records: dict[tuple[str, str, str], tuple[int, bool, str]]
    aces: set[tuple[str, str, str]]
    principals: set[tuple[str, str]]

    @classmethod
    def read(cls, url: str) -> Stored:
        with psycopg.connect(url) as db:
            records = {
                (parent, collection, record_id): (stamp, deleted, json.dumps(data, sort_keys=True))
                for parent, collection, record_id, data, stamp, deleted in db.execute(
                    "SELECT parent_id, collection_id, id, data, last_modified, deleted"
                    " FROM records"
                )
            }
            aces = set(
                db.execute("SELECT object_id, permission, principal FROM access_control_entries")
            )
            principals = set(db.execute("SELECT user_id, principal FROM user_principals"))
        return cls(records, aces, principals)

    @property
    def rows(self) -> int:
        return len(self.records) + len(self.aces) + len(self.principals)

    def changed(self, other: Stored) -> set[tuple[str, str]]:
        """``(collection, id)`` of each record whose rows differ in ``other``; a principal
        added or removed is ``("principal", user)``."""
        keys = self.records.keys() | other.records.keys()
        found = {
            (c, i)
            for p, c, i in keys
            if self.records.get((p, c, i)) != other.records.get((p, c, i))
        }
        for ace in self.aces ^ other.aces:
            _, collection, record_id = ace[0].split("/", 2)
            found.add((collection.rstrip("s"), record_id))
        found.update(("principal", user) for user, _ in self.principals ^ other.principals)
        return found


class Observed(ServedApp):
    """The served service, as ``hostile.send`` calls it, learning the writes it acknowledges."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.statuses: Counter[int] = Counter()
        self.tracker = Tracker()
        self._generator = Generator(0)  # where the tracker keeps the ids it learns

    def do_request(self, request: webob.Request, status: Any = None, expect_errors: Any = None):
        response = super().do_request(request)
        self.statuses[response.status_int] += 1
        target = self.target(request)
        sent = Request(request.method, target, request.body, dict(request.headers))
        answer = Answer(
            request.method,
            target,
            response.status_int,
            dict(response.headers),
            response.body,
        )
        self.tracker.learn(sent, answer, self._generator)
        return response

    def acknowledged(self) -> set[tuple[str, str]]:
        """``(collection, id)`` of each record a write answered 2xx touched."""
        return {(resource.rstrip("s"), record_id) for resource, _, record_id in self.tracker.state}


@dataclass
class Session:
    """One test's client: its answers' problems, and what it stored."""

    server: Server
    url: str
    app: Observed
    before: Stored
    failures: list[str] = field(default_factory=list)

    def check(self, case: str, check: Any, *args: Any, **kwargs: Any) -> None:
        try:
            check(*args, **kwargs)
        except AssertionError as e:
            self.failures.append(f"{case}: {e}")

    def create(self, resource: str, body: dict[str, Any]) -> str:
        """A record of alice's, before the hostile requests (what they are compared with)."""
        app = ServedApp(self.server.port)
        answer = send(app, "POST", f"/v1/{resource}", json.dumps(body).encode(), {**ALICE, **JSON})
        app.close()
        assert answer.status == 201, answer
        self.before = Stored.read(self.url)
        return answer.json()["data"]["id"]


@contextlib.contextmanager
def session(
    service: tuple[Server, str], figures: Any, *, writes: bool = False
) -> Iterator[Session]:
    """Sends through an :class:`Observed`; then every collection still lists, and what changed
    in the database is what was acknowledged (nothing, unless ``writes``)."""
    server, url = service
    app = Observed(server.port)
    current = Session(server, url, app, Stored.read(url))
    yield current
    for resource in ("articles", "notes"):
        answer = send(app, "GET", f"/v1/{resource}", None, ALICE)
        current.check(f"GET /v1/{resource} afterwards", _listed, answer)
    app.close()
    after = Stored.read(url)
    acknowledged = app.acknowledged()
    changed = current.before.changed(after)
    sent = sum(app.statuses.values())
    figures.add("requests", sent)
    figures.add("statuses", ", ".join(f"{s}: {n}" for s, n in sorted(app.statuses.items())))
    figures.add("5xx", sum(n for s, n in app.statuses.items() if s >= 500))
    figures.add("stored rows before", current.before.rows)
    figures.add("stored rows after", after.rows)
    figures.add("records written, acknowledged", len(acknowledged))
    figures.add("records changed", len(changed))
    unacknowledged = changed - acknowledged
    assert not current.failures, f"{len(current.failures)} of {sent}:\n" + "\n".join(
        current.failures[:20]
    )
    assert not unacknowledged, f"stored although never acknowledged: {sorted(unacknowledged)[:20]}"
    if not writes:
        assert not acknowledged, f"hostile writes acknowledged: {sorted(acknowledged)[:20]}"


def _listed(answer: Answer) -> None:
    assert_answered(answer)
    assert answer.status == 200, answer


def _cases(params: list[Any]) -> list[tuple[str, Any]]:
    """The ids and values of a list of ``pytest.param``."""
    return [(str(param.id), param.values) for param in params]


# The security suite's lists ------------------------------------------------------------------


def test_hostile_bodies_are_refused(service, figures):
    with session(service, figures) as s:
        for case, (method, path, body, name) in _cases(hostile_input.BODIES):
            s.check(
                case, assert_refused, send(s.app, method, path, body, {**ALICE, **JSON}), name=name
            )
        kept = s.create("articles", {"data": {"title": "kept"}})
        for case, (body,) in _cases(hostile_input.RECORD_BODIES):
            for method, content_type in (
                ("PUT", "application/json"),
                ("PATCH", "application/json"),
                ("PATCH", "application/merge-patch+json"),
            ):
                headers = {**ALICE, "Content-Type": content_type}
                answer = send(s.app, method, f"/v1/articles/{kept}", body, headers)
                s.check(f"{method} {content_type} {case}", assert_refused, answer)


def test_hostile_querystrings_are_refused(service, figures):
    with session(service, figures) as s:
        s.create("articles", {"data": {"title": "t"}})
        s.create("notes", {"data": {"text": "t"}})
        for case, (query, name, allowed) in _cases(hostile_input.QUERIES):
            for resource in ("articles", "notes"):
                # Notes keep unknown fields: there, any field name is one to filter on.
                named = name if resource == "articles" else None
                for method, user in (("GET", ALICE), ("HEAD", ALICE), ("DELETE", CAROL)):
                    answer = send(s.app, method, f"/v1/{resource}?{query}", None, user)
                    where = f"{method} {resource} {case}"
                    if answer.status in allowed:
                        s.check(where, assert_answered, answer)
                    elif method == "HEAD":
                        s.check(where, _refused_without_body, answer)
                    else:
                        s.check(where, assert_refused, answer, name=named)


def _refused_without_body(answer: Answer) -> None:
    assert 400 <= answer.status < 500, answer


def test_hostile_paths_are_refused(service, figures):
    body = b'{"data": {"title": "x", "text": "x"}}'
    with session(service, figures) as s:
        for case, (method, path) in _cases(hostile_input.PATHS):
            sent = body if method in ("PUT", "PATCH", "POST") else None
            s.check(case, assert_refused, send(s.app, method, path, sent, {**ALICE, **JSON}))
        for path in hostile_input.UNPREFIXED:
            for method in ("GET", "PUT"):
                sent = body if method == "PUT" else None
                answer = send(s.app, method, path, sent, {**ALICE, **JSON})
                s.check(f"{method} {path}", _refused_or_redirected, answer)


def _refused_or_redirected(answer: Answer) -> None:
    if not 300 <= answer.status < 400:
        return assert_refused(answer)
    location = answer.headers.get("Location", "")
    assert location.isascii() and location.startswith("http"), answer
    assert not any(c in location for c in " \r\n\x00"), answer


def test_hostile_batch_subrequests_are_refused(service, figures):
    with session(service, figures) as s:
        for case, (subrequest,) in _cases(hostile_input.SUBREQUESTS):
            body = ('{"requests": [' + subrequest + "]}").encode()
            answer = send(s.app, "POST", "/v1/batch", body, {**ALICE, **JSON})
            s.check(case, _batch_refused, answer)


def _batch_refused(answer: Answer) -> None:
    if answer.status != 200:
        return assert_refused(answer)
    assert_answered(answer)
    for slot in answer.json()["responses"]:
        assert 400 <= slot["status"] < 500, answer
        assert slot["body"]["errno"] in ERRNOS, answer


def test_hostile_headers_are_answered(service, figures):
    # A request whose only oddity is a header may be served: its write is then acknowledged.
    with session(service, figures, writes=True) as s:
        kept = s.create("articles", {"data": {"title": "kept"}})
        for case, (headers,) in _cases(hostile_input.HEADERS):
            for method in ("PUT", "GET"):
                body = b'{"data": {"title": "x"}}' if method == "PUT" else None
                answer = send(
                    s.app, method, f"/v1/articles/{kept}", body, {**ALICE, **JSON, **headers}
                )
                s.check(f"{method} {case}", assert_answered, answer)


def test_fuzzed_requests_are_answered_and_store_only_what_they_acknowledge(service, figures):
    with session(service, figures, writes=True) as s:
        report = run(s.app, Generator(11), requests=FUZZED)
        figures.add("fuzzed: 5xx", report.server_errors)
        figures.add("fuzzed: non-JSON answers", report.non_json)
        figures.add("fuzzed: acknowledged writes read back", report.tracked)
        assert not report.failed, report.summary("postgresql, served", 11)


# Malformed HTTP and slow clients -------------------------------------------------------------


EXTRA_MALFORMED = [
    ("request-line-300k", b"GET /v1/articles?" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header-name-latin1", b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-\xff: 1\r\n\r\n"),
    (
        "header-value-latin1",
        b"GET /v1/articles HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\n\r\n",
    ),
    ("header-folded", b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
    ("header-name-space", b"GET /v1/ HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n"),
    ("host-twice", b"GET /v1/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("host-with-space", b"GET /v1/ HTTP/1.1\r\nHost: a b\r\n\r\n"),
    ("absolute-form", b"GET http://evil.example/v1/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("asterisk-form", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("connect", b"CONNECT evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("http-1.0", b"GET /v1/ HTTP/1.0\r\n\r\n"),
    (
        "content-length-and-chunked",
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "chunked-hostile-json",
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + basic("alice").encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'1e\r\n{"data": {"title": "\\ud800"}}\r\n0\r\n\r\n',
    ),
    (
        "expect-100-continue",
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + basic("alice").encode() + b"\r\nExpect: 100-continue\r\n"
        b'Content-Length: 9\r\n\r\n{"data":1',
    ),
    ("body-on-get", b"GET /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
    ("nul-in-path", b"GET /v1/\x00 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("method-of-its-own", b"BREW /v1/articles HTTP/1.1\r\nHost: x\r\n\r\n"),
]


# Requests that HTTP/1.1 has not seen the end of (bare LF ends no header; a chunk is still
# expected): the server may close without an answer, and must go on serving others.
INCOMPLETE = [
    ("lf-only", b"GET /v1/ HTTP/1.1\nHost: x\n\n"),
    (
        "chunk-size-past-64-bits",
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    ),
    (
        "body-cut-short",
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + basic("alice").encode() + b"\r\nContent-Length: 100\r\n\r\n"
        b'{"data": {"title": "cut"}}',
    ),
]


def _raw_answer(raw: bytes, answer: bytes) -> Answer:
    status, headers, body = raw_http._parse(answer)
    method = raw.split(b" ", 1)[0].decode("latin-1")
    path = raw.split(b" ", 2)[1][:100].decode("latin-1") if raw.count(b" ") > 1 else ""
    titled = {name.title(): value for name, value in headers.items()}
    return Answer(method, path, status, titled, body)


def test_malformed_http_is_answered_in_json(service, figures):
    server, _ = service
    with session(service, figures) as s:
        cases: list[tuple[str, Any]] = [*_cases(raw_http.MALFORMED), *EXTRA_MALFORMED]
        for case, raw in cases:
            raw = raw[0] if isinstance(raw, tuple) else raw
            answer = raw_http._exchange(server.port, raw)
            if not answer:
                s.failures.append(f"{case}: the connection closed without an answer")
                continue
            parsed = _raw_answer(raw, answer)
            s.app.statuses[parsed.status] += 1
            if parsed.status == 100:  # the server's go-ahead, then its answer
                parsed = _raw_answer(raw, answer.split(b"\r\n\r\n", 1)[1])
            s.check(case, assert_answered, parsed)
        for case, raw in INCOMPLETE:
            answer = raw_http._exchange(server.port, raw)
            if answer:
                parsed = _raw_answer(raw, answer)
                s.app.statuses[parsed.status] += 1
                s.check(case, assert_answered, parsed)
            s.check(f"after {case}", _at_most, _heartbeat_seconds(server.port), 5.0)
        # Two requests in one write: two answers, in order, on the connection kept open.
        pipelined = b"GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/%FF HTTP/1.1\r\nHost: x\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(pipelined)
            statuses = _pipelined_statuses(sock, 2)
        s.app.statuses.update(statuses)
        s.check("pipelined", _equal, statuses, [200, 400])


class _Unclosed:
    """One buffered reader of a socket for several answers (each ``HTTPResponse`` would make
    its own, and the first would swallow what arrived of the next)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def makefile(self, *args: Any, **kwargs: Any) -> _Unclosed:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def close(self) -> None:
        """Each answer's end closes its reader: the next answer still needs this one."""


def _pipelined_statuses(sock: socket.socket, count: int) -> list[int]:
    shared = _Unclosed(sock.makefile("rb"))
    statuses = []
    for _ in range(count):
        response = http.client.HTTPResponse(shared, method="GET")  # type: ignore[arg-type]
        response.begin()
        response.read()
        statuses.append(response.status)
    return statuses


def _equal(found: Any, expected: Any) -> None:
    assert found == expected, f"{found!r}, expected {expected!r}"


def _heartbeat_seconds(port: int) -> float:
    start = time.monotonic()
    reply = Connection(port, timeout=10).request("GET", "/v1/__lbheartbeat__")
    assert reply.status == 200, reply
    return time.monotonic() - start


def test_slow_clients_hold_neither_a_thread_nor_a_write(service, figures):
    """Bodies trickled byte by byte and headers never finished, on more connections than the
    service has threads: others are served meanwhile, the trickled hostile body is refused
    once complete, and a body cut short stores nothing."""
    server, _ = service
    body = b'{"data": {"title": "slow", "rank": "not a number"}}'
    head = (
        b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + basic("alice").encode() + b"\r\nContent-Length: "
    )
    answers: list[bytes] = []
    latencies: list[float] = []

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(head + str(len(body)).encode() + b"\r\n\r\n")
            for i in range(len(body)):
                sock.sendall(body[i : i + 1])
                time.sleep(SLOW_SECONDS / len(body))
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            answers.append(received)

    with session(service, figures) as s, contextlib.ExitStack() as stack:
        # Headers never finished, and bodies cut short, on twice the service's four threads.
        for _ in range(8):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            sock.sendall(b"GET /v1/articles HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for _ in range(4):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            sock.sendall(head + b"1000\r\n\r\n" + body[:10])
        trickling = [threading.Thread(target=trickle) for _ in range(8)]
        for thread in trickling:
            thread.start()
        while any(thread.is_alive() for thread in trickling):
            latencies.append(_heartbeat_seconds(server.port))
            time.sleep(0.1)
        for thread in trickling:
            thread.join()
        stack.close()  # the unfinished requests are abandoned: nothing of them is stored
        for answer in answers:
            parsed = _raw_answer(head, answer)
            s.app.statuses[parsed.status] += 1
            s.check("trickled body", assert_refused, parsed, status=400)
        s.check("trickled bodies answered", _equal, len(answers), len(trickling))
        figures.add("heartbeats while slow clients wait", len(latencies))
        figures.add("slowest heartbeat seconds", f"{max(latencies):.3f}")
        # Were threads held by the slow clients, a heartbeat would wait for their SLOW_SECONDS.
        s.check("heartbeats answered meanwhile", _at_most, max(latencies), SLOW_SECONDS / 2)


def _at_most(value: float, bound: float) -> None:
    assert value <= bound, f"{value:.3f} > {bound}"
