"""Several server processes on one database: what multi-worker deployments rely on.

PostgreSQL in production; SQLite (one file, WAL) for several ``pserve`` workers on one machine.
Each backend gets ``PROCESSES`` processes of the test service (``processes.served``, four
threads each), shared by the module's tests; each test writes as a user of its own (articles
are per user), so that no test sees another's records. ``CLIENTS_PER_PROCESS`` clients call
each process at once. Every test reports its figures: requests sent, answers by class,
conflicts, lost updates; none may get a 5xx.

The migration races start processes of their own on fresh databases: several workers
starting together on a database nobody migrated.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyramid.config import Configurator

from cliquet.migration import head_revision
from tests.reliability.processes import Answer, Client, Server, in_threads, served, sql_env
from tests.servers import postgresql_database

PROCESSES = 3
CLIENTS_PER_PROCESS = 3
CLIENTS = PROCESSES * CLIENTS_PER_PROCESS
inf = float("inf")


@pytest.fixture(
    scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"]
)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('concurrency') / 'shared.db'}"
    return request.getfixturevalue("postgresql_url")


@pytest.fixture(scope="module")
def servers(database_url) -> Iterator[list[Server]]:
    """``PROCESSES`` processes serving one database, which they migrate at the same time."""
    with served(sql_env(database_url), PROCESSES) as started:
        yield started


@pytest.fixture
def user() -> str:
    """A user of the test's own: its articles are a collection nobody else writes."""
    return f"racer-{uuid.uuid4().hex[:12]}"


class Tally:
    """The answers its clients got, by status (clients of several threads at once)."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def client(self, server: Server, user: str) -> Callable[..., Answer]:
        call = Client(server.port, user)

        def counted(*args: Any, **kwargs: Any) -> Answer:
            answer = call(*args, **kwargs)
            with self._lock:
                self.statuses[answer.status] += 1
            return answer

        return counted

    def clients(self, servers: list[Server], user: str) -> list[Callable[..., Answer]]:
        """``CLIENTS_PER_PROCESS`` clients of each server, the servers taking turns."""
        return [self.client(servers[n % len(servers)], user) for n in range(CLIENTS)]

    def report(self, figures: Any, **more: int) -> None:
        """Give the figures, then require that no answer was a 5xx."""
        by_class = Counter(status // 100 for status in self.statuses.elements())
        figures.add("requests sent", sum(self.statuses.values()))
        figures.add("2xx", by_class[2])
        figures.add("412", self.statuses[412])
        figures.add("other 4xx", by_class[4] - self.statuses[412])
        figures.add("5xx", by_class[5])
        for name, value in more.items():
            figures.add(name.replace("_", " "), value)
        figures.add("seconds", round(time.monotonic() - self._started, 1))
        assert by_class[5] == 0, self.statuses


@pytest.fixture
def tally() -> Tally:
    return Tally()


def at_once(calls: dict[Any, Callable[[], Answer]]) -> dict[Any, Answer]:
    """Send the calls together (each thread waits for all the others), answers by key."""
    barrier = threading.Barrier(len(calls), timeout=30)
    answers: dict[Any, Answer] = {}

    def send(key: Any) -> None:
        barrier.wait()
        answers[key] = calls[key]()

    in_threads(*(partial(send, key) for key in calls))
    return answers


def next_page(answer: Answer) -> str | None:
    """The path (under the version prefix) of the page ``Next-Page`` names, if any."""
    link = answer.headers.get("Next-Page")
    if not link:
        return None
    parts = urlsplit(link)
    assert parts.path.startswith("/v1/"), link
    return f"{parts.path.removeprefix('/v1')}?{parts.query}"


@dataclass
class Walk:
    """The records of a first page and the pages its ``Next-Page`` links led to."""

    records: list[dict[str, Any]] = field(default_factory=list)
    etag: int = 0  # the first page's
    pages: int = 0
    started: float = 0.0  # before the first request was sent
    ended: float = 0.0  # after the last answer came


def walk(clients: list[Callable[..., Answer]], path: str) -> Walk:
    """Follow ``Next-Page`` from ``path``, each page asked of the next client in turn."""
    done = Walk(started=time.monotonic())
    page: str | None = path
    while page is not None:
        answer = clients[done.pages % len(clients)]("GET", page)
        assert answer.status == 200, answer.body
        if done.pages == 0:
            done.etag = int(answer.headers["ETag"].strip('"'))
        done.records.extend(answer.body["data"])
        done.pages += 1
        page = next_page(answer)
    done.ended = time.monotonic()
    return done


# Updates


def test_clients_incrementing_one_field_with_if_match_lose_no_update(
    servers, user, tally, figures
):
    """Read, add one, write back if unchanged (412: read again): every 2xx is one increment."""
    clients = tally.clients(servers, user)
    created = clients[0]("POST", "/articles", {"data": {"title": "counter", "rank": 0}})
    assert created.status == 201, created.body
    path = f"/articles/{created.body['data']['id']}"
    increments_each = 6
    applied: list[int] = []  # the ranks the 2xx PATCH answers hold
    conflicts: list[int] = []

    def incrementer(client: Callable[..., Answer]) -> Callable[[], None]:
        def increment() -> None:
            done = attempts = 0
            while done < increments_each:
                attempts += 1
                assert attempts < 50 * increments_each, "starved by the other clients"
                current = client("GET", path)
                assert current.status == 200, current.body
                answer = client(
                    "PATCH",
                    path,
                    {"data": {"rank": current.body["data"]["rank"] + 1}},
                    headers={"If-Match": current.headers["ETag"]},
                )
                if answer.status == 412:
                    conflicts.append(1)
                    continue
                assert answer.status == 200, answer.body
                applied.append(answer.body["data"]["rank"])
                done += 1

        return increment

    in_threads(*(incrementer(client) for client in clients))
    final = clients[-1]("GET", path).body["data"]["rank"]
    tally.report(
        figures,
        increments=len(applied),
        conflicts_retried=len(conflicts),
        lost_updates=len(applied) - final,
    )
    assert final == len(applied) == CLIENTS * increments_each
    # Each 2xx answer wrote a value nobody else wrote: no two read the same version.
    assert sorted(applied) == list(range(1, final + 1))


def test_concurrent_patches_without_preconditions_are_serialized(servers, user, tally, figures):
    """Each PATCH merges into the latest version: no field written by another is lost."""
    clients = tally.clients(servers, user)
    created = clients[0]("POST", "/articles", {"data": {"title": "t"}})
    path = f"/articles/{created.body['data']['id']}"
    values = {"title": lambda n: f"title{n}", "body": lambda n: f"body{n}", "rank": lambda n: n}

    def patcher(client: Callable[..., Answer], name: str) -> Callable[[], None]:
        def patch() -> None:
            for n in range(20):
                answer = client("PATCH", path, {"data": {name: values[name](n)}})
                assert answer.status == 200, answer.body

        return patch

    # One field per process, each patched by a client of its own.
    in_threads(*(patcher(clients[n], name) for n, name in enumerate(values)))
    final = clients[0]("GET", path).body["data"]
    lost = [name for name, value in values.items() if final.get(name) != value(19)]
    tally.report(figures, lost_updates=len(lost))
    assert lost == [], final


# Creations


def test_racing_puts_if_none_match_on_one_id_make_one_winner(servers, user, tally, figures):
    """``PUT If-None-Match: *`` from every client at once: one 201, the others 412."""
    clients = tally.clients(servers, user)
    rounds = 8
    for _ in range(rounds):
        path = f"/articles/{uuid.uuid4()}"
        answers = at_once(
            {
                n: partial(
                    client,
                    "PUT",
                    path,
                    {"data": {"title": f"client {n}"}},
                    headers={"If-None-Match": "*"},
                )
                for n, client in enumerate(clients)
            }
        )
        statuses = sorted(answer.status for answer in answers.values())
        assert statuses == [201] + [412] * (len(clients) - 1), statuses
        (winner,) = [n for n, answer in answers.items() if answer.status == 201]
        stored = clients[-1]("GET", path)
        assert stored.status == 200
        assert stored.body["data"] == answers[winner].body["data"]
        assert stored.body["data"]["title"] == f"client {winner}"
        # And all delete it at once: one 200, the others 404.
        answers = at_once({n: partial(client, "DELETE", path) for n, client in enumerate(clients)})
        statuses = sorted(answer.status for answer in answers.values())
        assert statuses == [200] + [404] * (len(clients) - 1), statuses
        assert clients[-1]("GET", path).status == 404
    tally.report(figures, rounds=rounds)


def test_racing_creates_of_one_unique_value_make_one_winner(servers, tally, figures):
    """Notes' ``code`` is unique: posted by every client at once, one 201, the others 409."""
    clients = tally.clients(servers, "alice")
    rounds = 5
    for _ in range(rounds):
        body = {"data": {"text": "racing", "code": uuid.uuid4().hex}}
        answers = at_once(
            {n: partial(client, "POST", "/notes", body) for n, client in enumerate(clients)}
        )
        statuses = sorted(answer.status for answer in answers.values())
        (winner,) = [answer for answer in answers.values() if answer.status == 201]
        # Notes are one collection for everybody: leave none to the session's other tests.
        assert clients[0]("DELETE", f"/notes/{winner.body['data']['id']}").status == 200
        assert statuses == [201] + [409] * (len(clients) - 1), statuses
        assert all(
            answer.body["errno"] == 122
            and answer.body["details"]["field"] == "code"
            and answer.body["details"]["existing"]["id"] == winner.body["data"]["id"]
            for answer in answers.values()
            if answer.status == 409
        )
    tally.report(figures, rounds=rounds)


def test_racing_creators_on_several_server_processes(servers, tally, figures):
    """As in production: each creator's PUT served by its own process, on one database."""
    users = ("alice", "bob")
    clients = {name: tally.client(servers[n], name) for n, name in enumerate(users)}
    ids = {name: clients[name]("GET", "/").body["user"]["id"] for name in users}
    created: list[tuple[str, str]] = []
    try:
        for _ in range(15):
            path = f"/notes/{uuid.uuid4()}"
            answers = at_once(
                {
                    name: partial(clients[name], "PUT", path, {"data": {"text": ids[name]}})
                    for name in users
                }
            )
            statuses = {ids[name]: answer.status for name, answer in answers.items()}
            assert sorted(statuses.values()) == [201, 403], statuses
            (winner,) = [name for name, answer in answers.items() if answer.status == 201]
            created.append((winner, path))
            stored = clients[winner]("GET", path)
            assert stored.status == 200
            assert stored.body["data"]["text"] == ids[winner]
            assert stored.body["permissions"] == {"write": [ids[winner]]}
        tally.report(figures, rounds=15)
    finally:
        # Notes are one collection for everybody: leave none to the session's other tests.
        for winner, path in created:
            clients[winner]("DELETE", path)


def test_concurrent_creates_get_unique_increasing_timestamps(servers, user, tally, figures):
    """Every create gets a ``last_modified`` of its own, after those already answered."""
    clients = tally.clients(servers, user)
    creates_each = 15
    # (client, sent, received, last_modified, id), in each client's order.
    answered: list[tuple[int, float, float, int, str]] = []

    def creator(n: int) -> Callable[[], None]:
        def create() -> None:
            for k in range(creates_each):
                sent = time.monotonic()
                answer = clients[n]("POST", "/articles", {"data": {"title": f"{n}-{k}"}})
                received = time.monotonic()
                assert answer.status == 201, answer.body  # no 409, nor anything else
                data = answer.body["data"]
                answered.append((n, sent, received, data["last_modified"], data["id"]))

        return create

    in_threads(*(creator(n) for n in range(len(clients))))
    stamps = [a[3] for a in answered]
    assert len(answered) == CLIENTS * creates_each
    assert len(set(stamps)) == len(stamps)
    for n in range(len(clients)):  # each client's answers, in the order they came
        own = [a[3] for a in answered if a[0] == n]
        assert own == sorted(own) and len(set(own)) == len(own)
    # Across processes: a create sent after another's answer came gets a later timestamp
    # (what a client syncing with _since relies on).
    by_received = sorted(answered, key=lambda a: a[2])
    seen, highest = 0, 0
    for later in sorted(answered, key=lambda a: a[1]):
        while seen < len(by_received) and by_received[seen][2] < later[1]:
            highest = max(highest, by_received[seen][3])
            seen += 1
        assert later[3] > highest, (later, highest)
    listed = walk(clients, "/articles?_limit=50")
    assert sorted(r["last_modified"] for r in listed.records) == sorted(stamps)
    assert {r["id"] for r in listed.records} == {a[4] for a in answered}
    head = clients[1]("HEAD", "/articles")
    assert head.headers["Total-Records"] == str(len(answered))
    assert head.headers["ETag"] == f'"{max(stamps)}"'
    assert listed.etag == max(stamps)
    tally.report(figures, creates=len(answered))


# Lists


# Each walk's sort, and the order it promises (ties broken by id).
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "": lambda r: -r["last_modified"],
    "&_sort=title": lambda r: (r["title"], r["id"]),
    "&_sort=-rank": lambda r: (-r["rank"], r["id"]),
}


class Writes:
    """What the writers of a collection did, and when (``time.monotonic``), by record id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: dict[str, float] = {}  # when the 201 came
        # (sent, answered) of each PATCH and DELETE, answered inf until it is.
        self.writes: dict[str, list[list[float]]] = {}
        self.deleting: dict[str, float] = {}  # when the DELETE was sent
        self.deleted: dict[str, float] = {}  # when its 200 came
        self.idle: list[str] = []  # live ids no writer holds

    def stayed(self, started: float, ended: float) -> set[str]:
        """The records that existed and that nobody wrote from ``started`` to ``ended``."""
        return {
            i
            for i, at in self.created.items()
            if at < started
            and self.deleting.get(i, inf) > ended
            and all(answered < started or sent > ended for sent, answered in self.writes[i])
        }

    def during(self, started: float, ended: float) -> int:
        """How many writes were under way from ``started`` to ``ended``."""
        stamps = [*self.created.values(), *(w[0] for ws in self.writes.values() for w in ws)]
        return sum(started <= at <= ended for at in stamps)


def test_walk_while_others_write_returns_what_stayed_exactly_once(servers, user, tally, figures):
    """docs/PROTOCOL.md, "Paging while others write": nothing twice, what stayed once, in
    order; ``_since`` the first page's ETag brings the rest. Others insert, delete, and
    rename and re-rank records (moving them across the walk's cursor) meanwhile."""
    clients = tally.clients(servers, user)
    chance = random.Random(11)
    done = Writes()
    walks: list[tuple[str, Walk]] = []
    walking = threading.Event()
    walking.set()

    def values() -> dict[str, Any]:
        return {
            "title": f"{chance.choice('abcdefghij')}{chance.randrange(1000):03}",
            "rank": chance.randrange(4),
        }

    def create(client: Callable[..., Answer]) -> None:
        answer = client("POST", "/articles", {"data": values()})
        assert answer.status == 201, answer.body
        record_id = answer.body["data"]["id"]
        with done.lock:
            done.created[record_id] = time.monotonic()
            done.writes[record_id] = []
            done.idle.append(record_id)

    def write(client: Callable[..., Answer], method: str) -> None:
        with done.lock:
            if not done.idle:
                return
            record_id = done.idle.pop(chance.randrange(len(done.idle)))
            span = [time.monotonic(), inf]
            done.writes[record_id].append(span)
            if method == "DELETE":
                done.deleting[record_id] = span[0]
        body = {"data": values()} if method == "PATCH" else None
        answer = client(method, f"/articles/{record_id}", body)
        assert answer.status == 200, answer.body
        span[1] = time.monotonic()
        with done.lock:
            if method == "DELETE":
                done.deleted[record_id] = span[1]
            else:
                done.idle.append(record_id)

    def writer(act: Callable[[], None]) -> Callable[[], None]:
        def keep_writing() -> None:
            for _ in range(150):
                if not walking.is_set():
                    return
                act()
                time.sleep(0.01)

        return keep_writing

    def walker(n: int) -> Callable[[], None]:
        # Each page from another process than the last (the token is good on every one).
        turns = clients[n:] + clients[:n]

        def walk_each_sort() -> None:
            for _ in range(2):
                for sort in SORTS:
                    walks.append((sort, walk(turns, f"/articles?_limit=7{sort}")))

        return walk_each_sort

    in_threads(*(partial(create, clients[n % CLIENTS]) for n in range(60)))

    def walk_then_stop_writers() -> None:
        try:
            in_threads(*(walker(n) for n in range(PROCESSES)))
        finally:
            walking.clear()

    in_threads(
        walk_then_stop_writers,
        # A creator, an editor and a deleter per process.
        *(writer(partial(create, clients[n])) for n in range(PROCESSES)),
        *(writer(partial(write, clients[PROCESSES + n], "PATCH")) for n in range(PROCESSES)),
        *(writer(partial(write, clients[2 * PROCESSES + n], "DELETE")) for n in range(PROCESSES)),
    )

    final = {r["id"]: r for r in walk(clients, "/articles?_limit=100").records}
    for sort, seen in walks:
        ids = [r["id"] for r in seen.records]
        assert len(ids) == len(set(ids)), f"{sort}: a record came twice"
        missed = done.stayed(seen.started, seen.ended) - set(ids)
        assert missed == set(), f"{sort}: records nobody wrote were not listed"
        gone = {i for i in ids if done.deleted.get(i, inf) < seen.started}
        assert gone == set(), f"{sort}: records deleted before the walk were listed"
        keys = [SORTS[sort](r) for r in seen.records]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{sort}: out of order"
        # Catching up: the writes since the first page's ETag, applied by id, give the
        # collection as it is now (nobody writes any more).
        caught_up = {r["id"]: r for r in seen.records}
        for record in walk(clients, f"/articles?_since={seen.etag}&_limit=100").records:
            if record.get("deleted"):
                caught_up.pop(record["id"], None)
            else:
                caught_up[record["id"]] = record
        assert caught_up == final, f"{sort}: _since the first page's ETag missed writes"
    tally.report(
        figures,
        walks=len(walks),
        pages_walked=sum(seen.pages for _, seen in walks),
        records_walked=sum(len(seen.records) for _, seen in walks),
        records_created=len(done.created),
        records_edited=sum(len(w) for w in done.writes.values()) - len(done.deleting),
        records_deleted=len(done.deleted),
        writes_during_walks=sum(done.during(seen.started, seen.ended) for _, seen in walks),
    )


# Migrations


def _migrate(url, barrier, results):
    from cliquet.permission import sql as permission_sql
    from cliquet.storage import sql as storage_sql

    config = Configurator(settings={"cliquet.storage_url": url, "cliquet.permission_url": url})
    storage = storage_sql.load_from_config(config)
    permission = permission_sql.load_from_config(config)
    barrier.wait(timeout=60)
    try:
        results.put((storage.initialize_schema(), permission.initialize_schema()))
    except Exception as e:  # reported by the test
        results.put(repr(e))


def _race(url, workers=4):
    # Workers forked, as by gunicorn --preload, from a server process that imported the
    # code once (not from this threaded process): each is up in milliseconds, not a second.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        [__name__, "cliquet.migration", "cliquet.storage.sql", "cliquet.permission.sql"]
    )
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_migrate, args=(url, barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("round_", range(3))
def test_workers_migrating_one_new_sqlite_file_together_all_succeed(tmp_path, round_):
    outcomes = _race(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    storage_lines = sorted(o[0] for o in outcomes)
    # One worker created the tables; the others found them done.
    head = head_revision("storage")
    assert storage_lines.count(f"storage: upgraded empty -> {head}") == 1
    assert storage_lines.count(f"storage: up to date (revision {head})") == 3


@pytest.mark.postgresql
def test_workers_migrating_one_new_postgresql_database_together_all_succeed():
    # A database never migrated (not the session's: this module's servers use it).
    with postgresql_database() as url:
        outcomes = _race(url)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    upgraded = f"storage: upgraded empty -> {head_revision('storage')}"
    assert sorted(o[0] for o in outcomes).count(upgraded) == 1
