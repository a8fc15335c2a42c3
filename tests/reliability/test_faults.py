"""Faults under load: the service's backends cut, stalled, frozen or locked while client
threads write and read, and the service itself killed in the middle of a batch.

The service runs in a process of its own (``processes.served``), configured by its
environment as in production, with small timeouts. Between it and PostgreSQL or Redis sits a
TCP relay of the test's own (:class:`Proxy`) that the test cuts (open connections reset, new
ones refused: a server gone), stalls (open ones reset, new ones accepted and never answered: a
server that hangs) or freezes (every connection kept open, nothing relayed: a server that stops
answering mid-conversation), then restores. While a fault lasts, every answer must be 503
errno 201 with ``Retry-After`` (never a 500, never a hang), none slower than the configured
timeouts plus a margin; once the backend is back the service answers 2xx again, without a
restart; and nothing is half-written: every record a 2xx reported is there once, a batch a 503
refused is there entirely or not at all. A write whose commit the database acknowledged but
whose answer was lost is a 503 that stored: allowed, and counted.

A relay in user space cannot play a peer that vanishes (packets dropped): its kernel
acknowledges what the service sends, so ``tcp_user_timeout`` never fires. A frozen PostgreSQL
is therefore one whose host still answers TCP: the client bounds each reply itself, to the
statement timeout plus a margin (``test_postgresql_frozen_mid_conversation``).
"""

from __future__ import annotations

import collections
import contextlib
import socket
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from tests.reliability.processes import Client, Server, served, sql_env
from tests.servers import server_address

# One fault at a time: under xdist the whole file runs on one worker, in order.
pytestmark = pytest.mark.xdist_group("faults")

POOL_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 1000
RETRY_AFTER_SECONDS = 5
# A shared 2-core machine: scheduling, the service's own work, a reconnect.
MARGIN_SECONDS = 1.5
# The longest an answer may take while a backend is away: connecting is bounded by the pool
# timeout (libpq's connect_timeout, Redis' socket timeouts), a locked table by the statement
# timeout.
LATENCY_BOUND_SECONDS = POOL_TIMEOUT_SECONDS + MARGIN_SECONDS
RECOVERY_SECONDS = 5
WARM_SECONDS = 0.8
AFTER_SECONDS = 1.0
BATCH_SIZE = 4
STALL_SECONDS = 2 * POOL_TIMEOUT_SECONDS + 0.5
LOAD_THREADS = 3  # the served process has 4 threads: one stays free for the heartbeat probes


def _timeouts(component: str) -> dict[str, str]:
    prefix = f"CLIQUET_{component.upper()}"
    return {
        f"{prefix}_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT_SECONDS),
        f"{prefix}_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
    }


def _service_env(**extra: str) -> dict[str, str]:
    return {
        "CLIQUET_RETRY_AFTER_SECONDS": str(RETRY_AFTER_SECONDS),
        "CLIQUET_HEARTBEAT_TIMEOUT_SECONDS": str(POOL_TIMEOUT_SECONDS),
        **_timeouts("storage"),
        **_timeouts("permission"),
        **_timeouts("cache"),
        **extra,
    }


class Proxy:
    """A TCP relay on 127.0.0.1 to ``target``, which can be cut, stalled, frozen and restored
    on the same port.

    Cut: the open connections are reset and new ones refused (a server that went down).
    Stalled: the open connections are reset and new ones accepted but never relayed (a server
    that hangs). Frozen: every connection stays open and nothing more is relayed (a server that
    stops answering mid-conversation, its kernel still acknowledging). Restored: new
    connections are relayed again, and what a freeze held back is delivered.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._relaying = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Proxy 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}>"

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (user and password kept)."""
        parts = urllib.parse.urlsplit(url)
        credentials = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        netloc = f"{credentials[0]}@{host}" if len(credentials) == 2 else host
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def restore(self) -> None:
        """Relay new connections (the first call opens the port)."""
        with self._lock:
            self._relaying = True
        self._flowing.set()
        if self._listener is None:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        self._reset()

    def stall(self) -> None:
        """Accept new connections without ever relaying them; reset the open ones."""
        with self._lock:
            self._relaying = False
        self._reset()

    def freeze(self) -> None:
        """Keep every connection open, new ones included, and relay nothing."""
        self._flowing.clear()

    def _reset(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                relaying = self._relaying
                self._sockets.append(client)
            if not relaying:
                continue  # held open, never answered, reset by the next cut or stall
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.append(upstream)
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, destination):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxied(url: str) -> Iterator[Proxy]:
    proxy = Proxy(server_address(url))
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.cut()


# The load: client threads writing and reading, every answer kept with its times.


def _is_unavailable(status: int | None, errno: Any, retry_after: str | None) -> bool:
    return status == 503 and errno == 201 and retry_after == str(RETRY_AFTER_SECONDS)


@dataclass
class Call:
    """One request of the load and its answer."""

    user: str
    kind: str  # create, batch, note, read
    titles: tuple[str, ...]
    start: float
    end: float = 0.0
    status: int | None = None  # None: no answer (connection lost, client timeout)
    errno: Any = None
    retry_after: str | None = None
    # A batch answered 200: its subrequests' (status, errno, Retry-After).
    slots: tuple[tuple[int, Any, str | None], ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        """2xx, and so was every subrequest of a batch."""
        statuses = [self.status, *(status for status, _, _ in self.slots)]
        return all(status is not None and 200 <= status < 300 for status in statuses)

    @property
    def unavailable(self) -> bool:
        """503 errno 201 with the configured ``Retry-After``; for a batch whose subrequests
        stand alone (Redis), 200 with every subrequest so answered."""
        if self.status == 200 and self.slots:
            return all(_is_unavailable(*slot) for slot in self.slots)
        return _is_unavailable(self.status, self.errno, self.retry_after)

    @property
    def mixed(self) -> bool:
        """A batch answered 200 whose subrequests were partly served, partly refused."""
        return self.status == 200 and not self.ok and not self.unavailable

    @property
    def seconds(self) -> float:
        return self.end - self.start


def _batch_body(titles: tuple[str, ...]) -> dict[str, Any]:
    return {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": title}}}
            for title in titles
        ]
    }


class Load:
    """``LOAD_THREADS`` users, each in a thread of its own, cycling through a create, a batch
    of ``BATCH_SIZE`` creates, a shareable note's create and a read until stopped."""

    def __init__(self, port: int, *, threads: int = LOAD_THREADS) -> None:
        run = uuid.uuid4().hex[:8]
        self.users = [f"{run}-{n}" for n in range(threads)]
        self.port = port
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(user,), daemon=True) for user in self.users
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self, user: str) -> None:
        client = Client(self.port, user, timeout=4 * LATENCY_BOUND_SECONDS)
        i = 0
        while not self._stop.is_set():
            i += 1
            kind = ("create", "batch", "note", "read")[i % 4]
            titles: tuple[str, ...] = (f"{user}/{i}",)
            if kind == "batch":
                titles = tuple(f"{user}/{i}.{k}" for k in range(BATCH_SIZE))
            call = Call(user, kind, titles if kind != "read" else (), time.monotonic())
            try:
                if kind == "create":
                    answer = client("POST", "/articles", {"data": {"title": titles[0]}})
                elif kind == "batch":
                    answer = client("POST", "/batch", _batch_body(titles))
                elif kind == "note":
                    answer = client("POST", "/notes", {"data": {"text": titles[0]}})
                else:
                    answer = client("GET", "/articles?_limit=5&_sort=-last_modified")
            except OSError as e:
                call.end, call.error = time.monotonic(), repr(e)
            else:
                call.end, call.status = time.monotonic(), answer.status
                body = answer.body if isinstance(answer.body, dict) else {}
                call.errno = body.get("errno")
                call.retry_after = answer.headers.get("Retry-After")
                if kind == "batch" and answer.status == 200:
                    call.slots = tuple(
                        (
                            r["status"],
                            (r["body"] or {}).get("errno"),
                            r["headers"].get("Retry-After"),
                        )
                        for r in body["responses"]
                    )
            self.calls.append(call)

    def between(self, start: float, end: float) -> list[Call]:
        """The calls sent at ``start`` or later and answered by ``end``."""
        return [c for c in self.calls if c.start >= start and c.end <= end]


@dataclass
class Fault:
    """A fault of the load: how it starts and ends, and what the service should do meanwhile."""

    name: str
    inject: Callable[[], object]
    clear: Callable[[], object]
    # The kinds of calls that must fail while it lasts (the others must succeed).
    failing: frozenset[str] = frozenset({"create", "batch", "note", "read"})
    # A check run while it lasts (the heartbeat says what is down...).
    during: Callable[[Server], None] | None = None
    bound: float = LATENCY_BOUND_SECONDS
    # Long enough for calls to start and end within it: a stalled backend costs each call
    # the pool timeout.
    seconds: float = 2.0


@dataclass
class Tally:
    """What a test's faults did, for its figures."""

    faults: int = 0
    recovered: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    max_seconds: float = 0.0
    recovery_seconds: float = 0.0
    records: int = 0
    ambiguous: int = 0

    def report(self, figures: Any) -> None:
        figures.add("faults injected", self.faults)
        figures.add("faults recovered", self.recovered)
        for status, count in sorted(self.statuses.items()):
            figures.add(f"answers during faults, {status}", count)
        figures.add("max latency during faults (s)", self.max_seconds)
        figures.add("longest recovery (s)", self.recovery_seconds)
        figures.add("records checked", self.records)
        figures.add("503 whose write was stored", self.ambiguous)


def _outcome(call: Call) -> str:
    if call.ok:
        return "2xx"
    if call.unavailable:
        return "503 errno 201"
    return "batch partly served" if call.mixed else str(call.status)


def _described(calls: list[Call], since: float = 0.0) -> str:
    """The first calls, their answers and times (from ``since``, the fault's start)."""
    return "; ".join(
        f"{c.kind} {c.status} errno={c.errno} Retry-After={c.retry_after} "
        f"at {c.start - since:.2f}s for {c.seconds:.2f}s {c.error}"
        for c in calls[:5]
    )


def run_faults(server: Server, faults: list[Fault], tally: Tally, *, atomic: bool) -> Load:
    """Inject each fault in turn under load; check the answers during and after each one.

    :param atomic: whether a batch is all or nothing (else its subrequests stand alone, and
        one caught by a fault's edge may be partly served).
    """
    with Load(server.port) as load:
        time.sleep(WARM_SECONDS)
        for fault in faults:
            tally.faults += 1
            fault.inject()  # a lock may take a while to get: the fault starts once it holds
            started = time.monotonic()
            if fault.during is not None:
                time.sleep(fault.seconds / 2)
                fault.during(server)
            time.sleep(max(0.0, started + fault.seconds - time.monotonic()))
            cleared = time.monotonic()
            fault.clear()
            # Until the service is back (calls caught by the fault end first), then a while.
            deadline = cleared + RECOVERY_SECONDS
            while time.monotonic() < deadline and not any(
                c.ok and c.start >= cleared for c in load.calls
            ):
                time.sleep(0.05)
            time.sleep(AFTER_SECONDS)
            _check_fault(load, fault, started, cleared, tally, atomic=atomic)
    late = [c for c in load.calls if c.status is None]
    assert not late, f"calls without an answer: {_described(late)}"
    return load


def _check_fault(
    load: Load, fault: Fault, started: float, cleared: float, tally: Tally, *, atomic: bool
) -> None:
    calls = [c for c in load.calls if c.end >= started]
    # Never a 500, never a hang, whether a call was caught by the fault's edges or not.
    wrong = [c for c in calls if not (c.ok or c.unavailable or (c.mixed and not atomic))]
    assert not wrong, (
        f"{fault.name}: answers neither 2xx nor 503 errno 201: {_described(wrong, started)}"
    )
    slow = [c for c in calls if c.start < cleared and c.seconds > fault.bound]
    assert not slow, f"{fault.name}: answers over {fault.bound} s: {_described(slow, started)}"
    during = load.between(started, cleared)
    tally.statuses.update(_outcome(c) for c in during)
    tally.max_seconds = max([tally.max_seconds, *(c.seconds for c in during)])
    refused = [c for c in during if c.kind in fault.failing]
    assert refused or not fault.failing, f"{fault.name}: no call of {sorted(fault.failing)}"
    served_anyway = [c for c in refused if not c.unavailable]
    assert not served_anyway, f"{fault.name}: 2xx during the fault: {_described(served_anyway)}"
    unaffected = [c for c in during if c.kind not in fault.failing and not c.ok]
    assert not unaffected, f"{fault.name}: should have been served: {_described(unaffected)}"
    # Back without a restart: from the first 2xx on, nothing but 2xx.
    after = sorted((c for c in load.calls if c.start >= cleared), key=lambda c: c.start)
    first = next((c for c in after if c.ok), None)
    assert first is not None, f"{fault.name}: no 2xx after the fault"
    assert first.end - cleared < RECOVERY_SECONDS
    failed_after = [c for c in after if c.start >= first.end and not c.ok]
    assert not failed_after, f"{fault.name}: failures after recovery: {_described(failed_after)}"
    tally.recovered += 1
    tally.recovery_seconds = max(tally.recovery_seconds, first.end - cleared)


NOTES_READ_BACK = 10  # per user: each a request, the listing vouches for the others


def check_records(server: Server, load: Load, tally: Tally, *, atomic_batches: bool) -> None:
    """Every write a 2xx reported is there once; every batch a 503 refused is there entirely
    or not at all (``atomic_batches``; else each of its subrequests stands alone).

    A note is listed to its creator only through its permissions: a note stored without them
    would be missing from the listing, and some are read back to compare them.
    """
    stored: collections.Counter[str] = collections.Counter()
    notes: collections.Counter[str] = collections.Counter()
    for user in load.users:
        client = Client(server.port, user)
        principal = client("GET", "/").body["user"]["id"]
        articles = client("GET", "/articles")
        assert articles.status == 200
        stored.update(r["title"] for r in articles.body["data"])
        listed = client("GET", "/notes")
        assert listed.status == 200
        notes.update(r["text"] for r in listed.body["data"])
        for note in listed.body["data"][:NOTES_READ_BACK]:
            answer = client("GET", f"/notes/{note['id']}")
            assert answer.status == 200
            assert answer.body["permissions"]["write"] == [principal]
    for call in (c for c in load.calls if c.kind != "read"):
        counts = [(notes if call.kind == "note" else stored)[title] for title in call.titles]
        tally.records += len(counts)
        assert max(counts) <= 1, f"{call.kind} {call.titles} stored twice"
        if call.kind == "batch" and call.status == 200:
            slots = [status for status, _, _ in call.slots]
            if atomic_batches:
                assert set(slots) == {201}, f"a batch answered 200 with {slots}"
            wanted = [1 if 200 <= s < 300 else None for s in slots]
        elif call.ok:
            wanted = [1] * len(counts)
        else:
            wanted = [None] * len(counts)  # stored or not: the answer was lost
            if sum(counts):
                tally.ambiguous += 1
        for title, count, want in zip(call.titles, counts, wanted, strict=True):
            assert want is None or count == want, f"{call.kind} {title}: {call.status}, lost"
        if call.kind == "batch" and atomic_batches:
            assert len(set(counts)) == 1, f"batch {call.titles} half-written: {counts}"


def _heartbeat_says(down: str) -> Callable[[Server], None]:
    """A check that ``/__heartbeat__`` answers 503 naming ``down``, within its timeout."""

    def check(server: Server) -> None:
        answer = server.client()("GET", "/__heartbeat__")
        assert answer.status == 503
        assert answer.body[down] is False
        assert answer.seconds < POOL_TIMEOUT_SECONDS + MARGIN_SECONDS
        lb = server.client()("GET", "/__lbheartbeat__")
        assert lb.status == 200 and lb.seconds < 0.5

    return check


def _heartbeat_ok(server: Server) -> None:
    answer = server.client()("GET", "/__heartbeat__")
    assert answer.status == 200, answer.body


# PostgreSQL


@pytest.mark.postgresql
def test_postgresql_cut_and_stalled_under_load(postgresql_url, figures):
    tally = Tally()
    with proxied(postgresql_url) as proxy:
        env = sql_env(proxy.url(postgresql_url), **_service_env())
        with served(env) as [server]:
            outage = _heartbeat_says("storage")
            faults = [
                Fault("cut", proxy.cut, proxy.restore, during=outage),
                Fault("stall", proxy.stall, proxy.restore, during=outage, seconds=STALL_SECONDS),
            ]
            load = run_faults(server, faults, tally, atomic=True)
            _heartbeat_ok(server)
            check_records(server, load, tally, atomic_batches=True)
    tally.report(figures)
    figures.add("connections relayed", proxy.connections)


@pytest.mark.postgresql
def test_postgresql_frozen_mid_conversation(postgresql_url, figures):
    # The database's host answers TCP but its server no longer does (a backend stuck on a dead
    # disk, a stopped process, a hung pooler in between).
    with proxied(postgresql_url) as proxy:
        env = sql_env(proxy.url(postgresql_url), **_service_env())
        with served(env) as [server]:
            client = Client(server.port, timeout=LATENCY_BOUND_SECONDS)
            assert client("POST", "/articles", {"data": {"title": "before"}}).status == 201
            proxy.freeze()
            try:
                answer = client("GET", "/articles")
            finally:
                proxy.restore()
            figures.add("seconds of the answer during the freeze", answer.seconds)
            assert _is_unavailable(
                answer.status, answer.body["errno"], answer.headers["Retry-After"]
            )
            # The broken connection was dropped: once the server answers, so does the service.
            restored = time.monotonic()
            while (after := client("GET", "/articles")).status != 200:
                assert time.monotonic() - restored < RECOVERY_SECONDS, after.body
                time.sleep(0.1)
            figures.add("seconds to the first 200 after the freeze", time.monotonic() - restored)


# Redis


@pytest.mark.redis
def test_redis_storage_permission_and_cache_cut_and_frozen_under_load(
    redis_url, redis_prefix, figures
):
    tally = Tally()
    with proxied(redis_url) as proxy:
        url = proxy.url(redis_url)
        env = _service_env(
            **{
                f"CLIQUET_{component}_{name}": value
                for component in ("STORAGE", "PERMISSION", "CACHE")
                for name, value in (
                    ("BACKEND", f"cliquet.{component.lower()}.redis"),
                    ("URL", url),
                    ("PREFIX", f"{redis_prefix}{component.lower()}:"),
                )
            }
        )
        with served(env) as [server]:
            outage = _heartbeat_says("storage")
            faults = [
                Fault("cut", proxy.cut, proxy.restore, during=outage),
                # Redis bounds each reply by its socket timeout; frozen, new connections are
                # accepted and never answered too, as in a stall.
                Fault("freeze", proxy.freeze, proxy.restore, during=outage, seconds=STALL_SECONDS),
            ]
            load = run_faults(server, faults, tally, atomic=False)
            _heartbeat_ok(server)
            # Redis cannot roll back: each subrequest of a batch stands alone (views/batch.py).
            check_records(server, load, tally, atomic_batches=False)
    tally.report(figures)


@pytest.mark.redis
def test_a_redis_cache_frozen_leaves_records_served(redis_url, redis_prefix, tmp_path, figures):
    tally = Tally()
    with proxied(redis_url) as proxy:
        env = sql_env(
            f"sqlite:///{tmp_path / 'faults.db'}",
            **_service_env(
                CLIQUET_CACHE_BACKEND="cliquet.cache.redis",
                CLIQUET_CACHE_URL=proxy.url(redis_url),
                CLIQUET_CACHE_PREFIX=f"{redis_prefix}cache:",
            ),
        )
        with served(env) as [server]:
            # The resources do not use the cache: a cache outage is the heartbeat's to tell.
            outage = _heartbeat_says("cache")
            faults = [
                Fault("freeze", proxy.freeze, proxy.restore, failing=frozenset(), during=outage),
            ]
            load = run_faults(server, faults, tally, atomic=True)
            _heartbeat_ok(server)
            check_records(server, load, tally, atomic_batches=True)
    tally.report(figures)


# A table locked from another session


def _lb_heartbeat_answers(server: Server) -> None:
    # The process is fine: a load balancer must not take it out for a stuck database.
    answer = server.client()("GET", "/__lbheartbeat__")
    assert answer.status == 200 and answer.seconds < 0.5


LOCK_BOUND_SECONDS = STATEMENT_TIMEOUT_MS / 1000 + MARGIN_SECONDS
LOCK_SECONDS = 2.5 * STATEMENT_TIMEOUT_MS / 1000


def _lock(
    name: str, inject: Callable[[], object], clear: Callable[[], object], **kw: Any
) -> Fault:
    """A lock held by another session: each statement waits for it the statement timeout."""
    return Fault(
        name,
        inject,
        clear,
        during=_lb_heartbeat_answers,
        bound=LOCK_BOUND_SECONDS,
        seconds=LOCK_SECONDS,
        **kw,
    )


@pytest.mark.postgresql
def test_a_postgresql_table_locked_from_another_session(postgresql_url, figures):
    tally = Tally()
    with served(sql_env(postgresql_url, **_service_env())) as [server]:
        blocker = psycopg.connect(postgresql_url)
        try:
            lock = _lock(
                "lock",
                lambda: blocker.execute("LOCK TABLE records IN ACCESS EXCLUSIVE MODE"),
                blocker.rollback,
            )
            load = run_faults(server, [lock], tally, atomic=True)
        finally:
            blocker.rollback()
            blocker.close()
        check_records(server, load, tally, atomic_batches=True)
    tally.report(figures)


def test_a_sqlite_file_written_by_another_process(tmp_path, figures):
    path = tmp_path / "faults.db"
    tally = Tally()
    with served(sql_env(f"sqlite:///{path}", **_service_env())) as [server]:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            # Its write transaction holds the file's write lock; readers go on (WAL).
            lock = _lock(
                "write lock",
                lambda: other.execute("BEGIN IMMEDIATE"),
                lambda: other.execute("ROLLBACK"),
                failing=frozenset({"create", "batch", "note"}),
            )
            load = run_faults(server, [lock], tally, atomic=True)
        finally:
            other.close()
        check_records(server, load, tally, atomic_batches=True)
    tally.report(figures)


# A server killed in the middle of a batch

KILL_BATCH_SIZE = 400


def _sqlite_writing(path: Any) -> Callable[[], bool]:
    """Whether a transaction holds the file's write lock (tried for, never waited for)."""

    def writing() -> bool:
        probe = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()  # rolls back, if it got the lock
        return False

    return writing


def _postgresql_writing(url: str) -> Callable[[], bool]:
    """Whether another session of the database has a transaction that wrote (has an xid)."""
    conn = psycopg.connect(url, autocommit=True)

    def writing() -> bool:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchone()
        return bool(row and row[0])

    writing.close = conn.close  # type: ignore[attr-defined]
    return writing


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_a_server_killed_in_a_batch_keeps_all_of_it_or_none(backend, request, tmp_path, figures):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'faults.db'}"
        writing = _sqlite_writing(tmp_path / "faults.db")
    else:
        url = request.getfixturevalue("postgresql_url")
        writing = _postgresql_writing(url)
    env = sql_env(url, CLIQUET_BATCH_MAX_REQUESTS=str(KILL_BATCH_SIZE), **_service_env())
    user = uuid.uuid4().hex[:8]
    titles = tuple(f"{user}/{k}" for k in range(KILL_BATCH_SIZE))
    answers: list[Any] = []
    errors: list[OSError] = []

    def send_batch() -> None:
        try:
            answers.append(Client(server.port, user)("POST", "/batch", _batch_body(titles)))
        except OSError as e:
            errors.append(e)  # killed: no answer

    try:
        with served(env) as [server]:
            client = Client(server.port, user)
            assert client("POST", "/articles", {"data": {"title": "before"}}).status == 201
            sender = threading.Thread(target=send_batch)
            sent = time.monotonic()
            sender.start()
            deadline = sent + 30
            while not writing():
                assert time.monotonic() < deadline, "the batch never started writing"
                time.sleep(0.01)
            # Some of its subrequests have written (400 take about half a second on SQLite).
            time.sleep(0.1)
            killed = time.monotonic()
            server.kill()
            sender.join(30)
            assert answers == [], "the batch ended before the kill: make it larger"
            assert errors
            server.restart()
            stored = [r["title"] for r in client("GET", "/articles").body["data"]]
            found = sum(title in set(titles) for title in stored)
            # Killed before its commit: none of it (all of it, had the commit been reached).
            assert found in (0, KILL_BATCH_SIZE), f"{found} of the batch's writes survived"
            assert "before" in stored
            # The database is whole and writable: a batch sent again is stored.
            again = client("POST", "/batch", _batch_body(titles[:BATCH_SIZE]))
            assert again.status == 200
            assert {r["status"] for r in again.body["responses"]} == {201}
            stored = [r["title"] for r in client("GET", "/articles").body["data"]]
            kept = list(titles) if found else []
            assert sorted(stored) == sorted(["before", *kept, *titles[:BATCH_SIZE]])
    finally:
        close = getattr(writing, "close", None)
        if close is not None:
            close()
    if backend == "sqlite":
        check = sqlite3.connect(tmp_path / "faults.db")
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        check.close()
    figures.add("faults injected", 1)
    figures.add("faults recovered", 1)
    figures.add("seconds into the batch at the kill", killed - sent)
    figures.add("batch writes found after the kill", found)
    figures.add("records checked", KILL_BATCH_SIZE + BATCH_SIZE + 1)
