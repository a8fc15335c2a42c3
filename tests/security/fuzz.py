"""A bounded, seeded fuzzer of the resource test service, in-process through WebTest.

Random mutations over the categories of the security suite: JSON bodies (deep nesting, weird
numbers, unicode, NUL, lone surrogates, broken encodings), Content-Types, querystrings built from
the filter prefixes, paths, headers and batch bodies. Every answer is checked with
:func:`tests.security.hostile.problems` (no 5xx, JSON, errors in cliquet's format), and every
``LIST_EVERY`` requests the collections must still list (200).

Run it as a script (figures on stdout, exit status 1 on any 5xx or non-JSON answer)::

    python benchmarks/fuzz.py --backend sqlite --requests 5000 --seed 1
    python -m tests.security.fuzz --backend memory --seconds 60

``tests/security/test_fuzz.py`` runs a few hundred of its requests in the test suite.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import math
import random
import re
import sys
import tempfile
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cliquet.testing.web import basic_auth, build_app
from tests.security.hostile import Answer, problems, send

__all__ = ["ErrorCapture", "Generator", "Report", "make_app", "run", "main"]

BACKENDS = ("memory", "sqlite", "postgresql")
LIST_EVERY = 250
MAX_REPRODUCERS = 5

RESOURCES = ("articles", "notes")
FIELDS = (
    "title",
    "body",
    "rank",
    "author",
    "author.name",
    "author.v",
    "tags",
    "read",
    "text",
    "code",
    "id",
    "last_modified",
    "unknown",
    "",
    "a.b.c",
    "\x00",
    "é",
)
PREFIXES = ("", "not_", "min_", "max_", "gt_", "lt_", "in_", "exclude_", "has_", "like_")
SPECIAL_PARAMS = ("_sort", "_since", "_before", "_limit", "_fields", "_token", "_to")
CONTENT_TYPES = (
    "application/json",
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "application/json-patch+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    None,
    "application/json; charset=latin-1",
    "text/html",
)
ACCEPTS = (None, None, None, "application/json", "*/*", "text/html", "text/*", "\xff", "")
NUMBER_TEXTS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e300",
    "-0.0",
    "0.1",
    "5e-324",
    "1.7976931348623157e308",
    "9007199254740993",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999999999",
    "0",
    "-1",
    "1E2",
    "00",
    "1.",
    ".5",
)
STRINGS = (
    "",
    "x",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "😀",
    "é",
    "\u202e",
    "\ufeff",
    "\n",
    "\r\n",
    "%FF",
    "%00",
    "*",
    "**",
    "%",
    "_",
    "\\",
    "'",
    '"',
    "'; DROP TABLE records; --",
    "a" * 1000,
    "system.Everyone",
    "system.Authenticated",
    "basicauth:x",
)
QUERY_VALUES = (
    "",
    "1",
    "-1",
    "0",
    "true",
    "false",
    "null",
    "NaN",
    "Infinity",
    "1e400",
    "1e300",
    "99999999999999999999999",
    "-99999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "%00",
    "%FF",
    "%ED%A0%80",
    "%C0%AF",
    "a,b",
    ",",
    "*a*",
    "%2A",
    "[1]",
    "{}",
    '"x"',
    "-",
    "-title",
    "title,-rank",
    "%0A",
    "%0D%0A",
    "a%00b",
)
PATH_SEGMENTS = (
    "%FF",
    "%00",
    "%0A",
    "%0D%0A",
    "%ED%A0%80",
    "%C0%AF",
    "%2F",
    "..",
    "%2e%2e",
    ".",
    "",
    "a" * 300,
    "é",
    "%25",
    "%",
    "%E2%80%AE",
)


class Raw:
    """JSON text emitted verbatim (non-finite numbers, deep nesting, broken escapes)."""

    def __init__(self, text: str) -> None:
        self.text = text


def dump(value: Any) -> str:
    """JSON text of ``value``; :class:`Raw` parts verbatim, lone surrogates as escapes."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump(str(k))}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def reproducer(self) -> str:
        body = None if self.body is None else self.body[:300]
        return f"{self.method} {self.path[:300]!r} headers={self.headers!r} body={body!r}"


class Generator:
    """Random hostile requests, reproducible from ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        self.random = random.Random(seed)
        self.ids: dict[str, list[str]] = {name: [] for name in RESOURCES}
        self.users = [basic_auth("alice", "pw"), basic_auth("bob", "pw")]

    # Values --------------------------------------------------------------------------------

    def string(self) -> str:
        r = self.random
        if r.random() < 0.5:
            return r.choice(STRINGS)
        return "".join(
            chr(r.choice((r.randrange(32, 127), r.randrange(0, 0x110000))))
            for _ in range(r.randrange(0, 12))
        )

    def number(self) -> Any:
        r = self.random
        choice = r.random()
        if choice < 0.4:
            return Raw(r.choice(NUMBER_TEXTS))
        if choice < 0.7:
            return r.choice((r.randrange(-(2**70), 2**70), r.randrange(-100, 100)))
        return r.choice((r.uniform(-1e308, 1e308), r.random(), r.expovariate(1e-3)))

    def json_value(self, depth: int = 0) -> Any:
        r = self.random
        kind = r.random()
        if depth > 4 or kind < 0.3:
            return r.choice((self.string(), self.number(), True, False, None))
        if kind < 0.35:
            nesting = r.choice((50, 600, 1100, 5000, 20000))
            return Raw("[" * nesting + "]" * nesting)
        if kind < 0.65:
            return [self.json_value(depth + 1) for _ in range(r.randrange(0, 4))]
        return {self.string(): self.json_value(depth + 1) for _ in range(r.randrange(0, 4))}

    def record(self, resource: str) -> dict[str, Any]:
        r = self.random
        data: dict[str, Any] = {}
        required = "title" if resource == "articles" else "text"
        if r.random() < 0.35:
            # Mostly valid: one hostile value in an otherwise good record reaches the storage.
            name = r.choice(("author", "tags", "rank", "v", "body", "code"))
            value = {"k": self.json_value(2)} if name in ("author", "v") else self.json_value(3)
            return {"data": {required: "ok", name: value}}
        if r.random() < 0.8:
            data[required] = self.string() if r.random() < 0.5 else "ok"
        for name in r.sample(("body", "rank", "author", "tags", "read", "code", "v", "id"), 3):
            if r.random() < 0.5:
                data[name] = self.json_value(1)
        if r.random() < 0.1:
            data[self.string()] = self.json_value(1)
        body: dict[str, Any] = {"data": data}
        if r.random() < 0.3:
            body["permissions"] = {
                r.choice(("read", "write", "x", "")): [self.string() for _ in range(2)]
            }
        if r.random() < 0.05:
            return r.choice(([], "x", None, {"data": self.json_value(3)}))  # type: ignore[return-value]
        return body

    def encode(self, value: Any) -> bytes:
        r = self.random
        text = dump(value).encode("utf-8", "surrogatepass")
        mutation = r.random()
        if mutation < 0.75 or not text:
            return text
        if mutation < 0.85:
            i = r.randrange(len(text))
            return text[:i] + bytes([r.randrange(256)]) + text[i + 1 :]
        if mutation < 0.9:
            return text[: r.randrange(len(text))]
        if mutation < 0.95:
            return r.choice((b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00")) + text
        return dump(value).encode(r.choice(("utf-16", "utf-32", "latin-1")), "replace")

    # Request parts -------------------------------------------------------------------------

    def query(self) -> str:
        r = self.random
        count = r.choice((0, 1, 1, 2, 3, 5, r.choice((50, 300, 1200))))
        parts = []
        for _ in range(count):
            if r.random() < 0.3:
                name = r.choice(SPECIAL_PARAMS)
            else:
                name = r.choice(PREFIXES) + r.choice(FIELDS)
            name = name.replace("\x00", "%00").replace("é", "%C3%A9")
            if r.random() < 0.05:
                value = ",".join(str(i) for i in range(r.choice((10, 600, 3000))))
            elif name == "_sort" and r.random() < 0.3:
                value = ",".join(r.choice(FIELDS[:12]) for _ in range(r.choice((2, 50, 500))))
            else:
                value = r.choice(QUERY_VALUES)
            parts.append(f"{name}={value}")
        return "&".join(parts)

    def record_id(self, resource: str) -> str:
        r = self.random
        choice = r.random()
        if choice < 0.5 and self.ids[resource]:
            return r.choice(self.ids[resource])
        if choice < 0.7:
            return str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        return r.choice(PATH_SEGMENTS)

    def path(self, resource: str, record: bool) -> str:
        r = self.random
        prefix = r.choice(("", "/v2", "/v1/")) if r.random() < 0.08 else "/v1"
        path = f"{prefix}/{resource}"
        if record:
            path += "/" + self.record_id(resource)
        if r.random() < 0.1:
            path += "/" + r.choice(PATH_SEGMENTS)
        if r.random() < 0.05:
            path = "/" + r.choice(PATH_SEGMENTS) + r.choice(("", "/articles"))
        if r.random() < 0.5:
            path += "?" + self.query()
        return path

    def headers(self, content_type: bool) -> dict[str, str]:
        r = self.random
        headers: dict[str, str] = {}
        auth = r.random()
        if auth < 0.9:
            headers.update(r.choice(self.users))
        elif auth < 0.97:
            user, password = r.choice((("", "pw"), ("alice", ""), ("", ""), ("a\x00", "b")))
            headers.update(basic_auth(user, password))
        else:
            headers["Authorization"] = r.choice(("Basic", "Basic !!", "Bearer x", "Basic Og=="))
        if content_type:
            chosen = r.choice(CONTENT_TYPES) if r.random() < 0.15 else "application/json"
            if chosen is not None:
                headers["Content-Type"] = chosen
        accept = r.choice(ACCEPTS) if r.random() < 0.1 else None
        if accept is not None:
            headers["Accept"] = accept
        if r.random() < 0.15:
            name = r.choice(("If-Match", "If-None-Match"))
            headers[name] = r.choice(
                ("*", '"1"', '"99999999999999999999999"', '"x"', "", '"-1"', "\xff", '"NaN"')
            )
        if r.random() < 0.05:
            headers["Origin"] = r.choice(("https://evil.example", "null", "\xff"))
        return headers

    def subrequest(self) -> dict[str, Any]:
        r = self.random
        resource = r.choice(RESOURCES)
        if r.random() < 0.4:
            # A good write beside the hostile ones: it must stay only if acknowledged.
            field_name = "title" if resource == "articles" else "text"
            return {"method": "POST", "path": f"/{resource}", "body": {"data": {field_name: "ok"}}}
        method = r.choice(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "post", "TRACE", ""))
        sub: dict[str, Any] = {
            "method": method,
            "path": self.path(resource, method.upper() in ("PUT", "PATCH", "DELETE", "GET")),
        }
        if sub["path"].startswith("/v1"):
            sub["path"] = sub["path"][3:] or "/"
        if method.upper() in ("POST", "PUT", "PATCH") or r.random() < 0.1:
            sub["body"] = self.record(resource)
        if r.random() < 0.2:
            sub["headers"] = {
                r.choice(("Content-Type", "If-Match", "X-A", "X A", "X\x00")): r.choice(
                    ("text/plain", '"1"', "a\r\nb", "\x00", "\ud800", "application/json")
                )
            }
        if r.random() < 0.05:
            sub[r.choice(("x", "body", "path"))] = self.json_value(2)
        return sub

    def batch(self) -> Any:
        r = self.random
        count = r.choice((1, 2, 3, 5, 25, 26))
        body: dict[str, Any] = {"requests": [self.subrequest() for _ in range(count)]}
        if r.random() < 0.2:
            body["defaults"] = {"method": "POST", "path": "/articles"}
        if r.random() < 0.05:
            return r.choice(({"requests": "x"}, [], {"requests": [1, None]}, self.json_value()))
        return body

    def request(self) -> Request:
        r = self.random
        resource = r.choice(RESOURCES)
        kind = r.random()
        if kind < 0.3:
            method = r.choice(("POST", "POST", "PUT", "PATCH"))
            path = self.path(resource, method != "POST")
            body = self.encode(self.record(resource))
            return Request(method, path, body, self.headers(True))
        if kind < 0.55:
            method = r.choice(("GET", "GET", "GET", "HEAD", "DELETE"))
            return Request(method, self.path(resource, False), None, self.headers(False))
        if kind < 0.75:
            method = r.choice(("GET", "DELETE", "HEAD", "OPTIONS"))
            return Request(method, self.path(resource, True), None, self.headers(False))
        if kind < 0.95:
            return Request("POST", "/v1/batch", self.encode(self.batch()), self.headers(True))
        path = "/" + "/".join(
            r.choice(PATH_SEGMENTS + ("v1", "__heartbeat__", "batch"))
            for _ in range(r.randrange(1, 4))
        )
        method = r.choice(("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"))
        return Request(method, path, None, self.headers(False))

    def learn(self, request: Request, answer: Answer) -> None:
        """Remember ids of created records, so that later requests target real ones."""
        if request.method not in ("POST", "PUT") or answer.status not in (200, 201):
            return
        try:
            record_id = answer.json()["data"]["id"]
        except (ValueError, KeyError, TypeError):
            return
        resource = "notes" if "/notes" in request.path else "articles"
        ids = self.ids[resource]
        if isinstance(record_id, str) and record_id not in ids:
            ids.append(record_id)
            del ids[:-50]


_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b")


class ErrorCapture(logging.Handler):
    """Keeps the last line (the exception) of the service's last error log."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        lines = [line.strip() for line in self.format(record).splitlines() if line.strip()]
        raised = [line for line in lines if _RAISED.match(line)]
        self.last = (raised or lines or [""])[-1][:300] or None

    def take(self) -> str | None:
        last, self.last = self.last, None
        return last

    @contextlib.contextmanager
    def installed(self) -> Iterator[ErrorCapture]:
        logger = logging.getLogger("cliquet")
        saved = (logger.propagate, logger.level)
        logger.addHandler(self)
        logger.propagate, logger.level = False, logging.ERROR
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.propagate, logger.level = saved


@dataclass
class Report:
    sent: int = 0
    seconds: float = 0.0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: int = 0
    non_json: int = 0
    list_failures: int = 0
    reproducers: list[str] = field(default_factory=list)
    signatures: collections.Counter[str] = field(default_factory=collections.Counter)
    capture: ErrorCapture | None = None
    tracked: int = 0
    lost_writes: int = 0

    def lost(self, what: str) -> None:
        self.lost_writes += 1
        if len(self.reproducers) < MAX_REPRODUCERS * 2:
            self.reproducers.append(f"write lost: {what}")

    @property
    def failed(self) -> bool:
        return bool(self.server_errors or self.non_json or self.list_failures or self.lost_writes)

    def record(self, request: Request, answer: Answer) -> None:
        self.sent += 1
        self.statuses[answer.status] += 1
        logged = self.capture.take() if self.capture else None
        found = problems(answer)
        if not found:
            return
        if answer.escaped or answer.status >= 500 or any("outage" in p for p in found):
            self.server_errors += 1
        else:
            self.non_json += 1
        # One reproducer per kind of failure: what went wrong, and where.
        cause = re.sub(r"\d+", "N", answer.escaped or logged or "; ".join(found))
        signature = f"{answer.status} {request.method} {request.path.split('?')[0][:12]} {cause}"
        self.signatures[signature] += 1
        if self.signatures[signature] == 1 and len(self.reproducers) < MAX_REPRODUCERS:
            self.reproducers.append(
                f"{'; '.join(found)} (logged: {logged})\n    {request.reproducer()}\n"
                f"    {answer!r}"
            )

    def summary(self, backend: str, seed: int) -> str:
        histogram = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        lines = [
            f"backend {backend}, seed {seed}: {self.sent} requests in {self.seconds:.1f} s",
            f"statuses: {histogram}",
            f"5xx (or exception, or 503 for client input): {self.server_errors}",
            f"non-JSON answers (or errors not in the JSON error format): {self.non_json}",
            f"collection lists not answering 200: {self.list_failures}",
            f"kinds of failure: {len(self.signatures)}",
            f"acknowledged writes checked afterwards: {self.tracked}, lost or altered: "
            f"{self.lost_writes}",
        ]
        if self.reproducers:
            lines.append("first reproducers:")
            lines.extend(f"  {r}" for r in self.reproducers)
        return "\n".join(lines)


def run(
    app: Any,
    generator: Generator,
    requests: int,
    seconds: float | None = None,
    report: Report | None = None,
) -> Report:
    """Send up to ``requests`` requests (and for at most ``seconds``) to ``app``."""
    report = report or Report()
    tracker = Tracker()
    start = time.monotonic()
    for i in range(requests):
        if seconds is not None and time.monotonic() - start > seconds:
            break
        request = generator.request()
        answer = send(app, request.method, request.path, request.body, request.headers)
        report.record(request, answer)
        generator.learn(request, answer)
        tracker.learn(request, answer, generator)
        if (i + 1) % LIST_EVERY == 0:
            _check_lists(app, generator, report)
    _check_lists(app, generator, report)
    tracker.verify(app, report)
    report.seconds = time.monotonic() - start
    return report


class Tracker:
    """The state the service acknowledged: every 2xx write, in order, directly or in a batch.

    At the end each record must read back as its last acknowledged write left it (a deleted
    one must be gone): a write answered 2xx and then lost, or one refused and kept, shows.
    """

    def __init__(self) -> None:
        # (resource, owner or "" for notes, id) -> (last writer's headers, record or None)
        self.state: dict[tuple[str, str, str], tuple[dict[str, str], dict[str, Any] | None]] = {}

    def learn(self, request: Request, answer: Answer, generator: Generator) -> None:
        auth = request.headers.get("Authorization", "")
        if not 200 <= answer.status < 300 or not auth:
            return
        try:
            body = answer.json() if answer.body else None
        except ValueError:
            return
        if request.path.split("?")[0] == "/v1/batch":
            self._learn_batch(request, body, auth, generator)
        else:
            self._apply(request.method, request.path, body, auth, generator)

    def _learn_batch(self, request: Request, body: Any, auth: str, generator: Generator) -> None:
        try:
            sent = json.loads(request.body or b"")
            defaults = sent.get("defaults") or {}
            subrequests = [{**defaults, **sub} for sub in sent["requests"]]
            slots = body["responses"]
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        for sub, slot in zip(subrequests, slots, strict=False):
            headers = sub.get("headers") or {}
            if "Authorization" in headers or not 200 <= slot.get("status", 0) < 300:
                continue
            method = str(sub.get("method") or "GET").upper()
            self._apply(method, slot.get("path") or "", slot.get("body"), auth, generator)

    def _apply(self, method: str, path: str, body: Any, auth: str, generator: Generator) -> None:
        if method not in ("POST", "PUT", "PATCH", "DELETE") or not isinstance(body, dict):
            return
        parts = [urllib.parse.unquote(p) for p in path.split("?")[0].split("/")]
        if len(parts) < 3 or parts[:2] != ["", "v1"] or parts[2] not in RESOURCES:
            return
        resource = parts[2]
        owner = auth if resource == "articles" else ""
        data = body.get("data")
        records = data if isinstance(data, list) else [data]
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            key = (resource, owner, record["id"])
            deleted = method == "DELETE" or record.get("deleted") is True
            self.state[key] = ({"Authorization": auth}, None if deleted else record)
            if not deleted and record["id"] not in generator.ids[resource]:
                generator.ids[resource].append(record["id"])
                del generator.ids[resource][:-50]

    def verify(self, app: Any, report: Report) -> None:
        for (resource, _, record_id), (headers, record) in self.state.items():
            path = f"/v1/{resource}/{urllib.parse.quote(record_id, safe='')}"
            answer = send(app, "GET", path, None, headers)
            report.tracked += 1
            if record is None:
                if answer.status == 200:
                    report.lost(f"deleted (acknowledged) but still there: {answer!r}")
                continue
            if answer.status != 200:
                report.lost(f"acknowledged {json.dumps(record)[:300]} but {answer!r}")
                continue
            stored = answer.json()["data"]
            changed = {k: (v, stored.get(k)) for k, v in record.items() if stored.get(k) != v}
            if changed:
                report.lost(f"{path}: acknowledged vs stored {changed!r}"[:600])


def _check_lists(app: Any, generator: Generator, report: Report) -> None:
    """A collection that one write made unreadable is the worst outcome: check them all."""
    for user in generator.users:
        for resource in RESOURCES:
            for query in ("", "?_sort=-last_modified", "?_since=0"):
                answer = send(app, "GET", f"/v1/{resource}{query}", None, user)
                if answer.status != 200:
                    report.list_failures += 1
                    if len(report.reproducers) < MAX_REPRODUCERS:
                        report.reproducers.append(f"list failed: {answer!r}")


def _sql_settings(url: str) -> dict[str, str]:
    return {
        "cliquet.storage_backend": "cliquet.storage.sql",
        "cliquet.storage_url": url,
        "cliquet.permission_backend": "cliquet.permission.sql",
        "cliquet.permission_url": url,
        "cliquet.migrate_on_startup": "true",
    }


@contextlib.contextmanager
def make_app(backend: str) -> Iterator[Any]:
    """The resource test service on ``backend``, its files or database removed afterwards."""

    def setup(config: Any) -> None:
        config.scan("tests.resource.testapp")

    if backend == "memory":
        yield build_app(setup=setup)
        return
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            app = build_app(_sql_settings(f"sqlite:///{directory}/fuzz.db"), setup=setup)
            try:
                yield app
            finally:
                _dispose(app)
        return
    # The suite's server (CLIQUET_TEST_POSTGRESQL_URL), a database of its own dropped after.
    from tests.servers import postgresql_database

    with postgresql_database() as url:
        app = build_app(_sql_settings(url), setup=setup)
        try:
            yield app
        finally:
            _dispose(app)


def _dispose(app: Any) -> None:
    registry = app.app.registry
    for backend in (registry.storage, registry.permission):
        engine = getattr(backend, "engine", None)
        if engine is not None:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="memory")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # The service logs every 5xx with its trace: the report keeps the exception line.
    logging.getLogger().setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")  # webtest's lint on unknown methods
    with ErrorCapture().installed() as capture, make_app(args.backend) as app:
        report = run(
            app, Generator(args.seed), args.requests, args.seconds, Report(capture=capture)
        )
    print(report.summary(args.backend, args.seed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
