"""What every answer to a hostile request must look like, and how to send one raw.

Shared by the security suite and by the fuzzer (``tests/security/fuzz.py``): a request is sent
byte for byte (no JSON encoding, no default ``Content-Type``), an exception escaping the WSGI
application counts as the 500 a WSGI server would answer, and :func:`problems` lists what is
wrong with an answer (empty when it is acceptable).
"""

from __future__ import annotations

import json
import string
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import webob
import webtest

from cliquet.authentication import basicauth_userid
from cliquet.errors import ERRORS
from cliquet.testing.web import TEST_SETTINGS

__all__ = [
    "ALICE",
    "Answer",
    "BOB",
    "EVERYONE",
    "assert_answered",
    "assert_refused",
    "ERRNOS",
    "problems",
    "send",
    "stored",
    "user_id",
]

ERRNOS = {int(e) for e in ERRORS}
_SAFE = "".join(c for c in string.printable if c not in string.whitespace) + " "
# The collections of the resource test service (tests/resource/testapp.py) and their owners.
ARTICLES = "article"
NOTES = "note"


@dataclass
class Answer:
    """What the service answered; ``escaped`` holds an exception the application let out."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    escaped: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        body = self.body[:400].decode("utf-8", "replace")
        where = f"{self.method} {self.path[:100]!r}"
        if self.escaped:
            return f"<{where}: exception escaped the application: {self.escaped}>"
        return f"<{where}: {self.status} {self.content_type!r} {body}>"


def send(
    app: webtest.TestApp,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Send ``body`` as it is, with exactly ``headers`` (percent-escapes of ``path`` decoded
    into ``PATH_INFO`` as a WSGI server would, the query string left raw)."""
    # What a client puts on the wire: the path in ASCII, anything else percent-encoded.
    path = urllib.parse.quote(path, safe=_SAFE, encoding="utf-8", errors="surrogatepass")
    request = webob.Request.blank(path, method=method)
    for name, value in (headers or {}).items():
        request.headers[name] = value
    if body is not None:
        request.body = body
    try:
        response = app.do_request(request, status=None, expect_errors=True)
    except Exception as e:  # noqa: BLE001 - the WSGI server would answer 500
        return Answer(method, path, 500, escaped=f"{type(e).__name__}: {e}"[:300])
    return Answer(method, path, response.status_int, dict(response.headers), response.body)


def problems(answer: Answer, *, errno: int | None = None, allow_5xx: bool = False) -> list[str]:
    """What is wrong with ``answer`` for a hostile request: a 5xx (unless ``allow_5xx``), an
    error that is not cliquet's JSON error, an answer that is not JSON at all."""
    found = []
    if answer.escaped:
        return [f"exception escaped the application ({answer.escaped})"]
    if not allow_5xx:
        if answer.status >= 500:
            found.append(f"answered {answer.status}")
        if answer.status == 503 or ("Retry-After" in answer.headers and answer.status != 429):
            found.append("answered as a backend outage (clients retry those forever)")
    if answer.method == "HEAD" or answer.status in (204, 304) or 300 <= answer.status < 400:
        return found
    if not answer.content_type.startswith("application/json"):
        found.append(f"Content-Type is {answer.content_type!r}, not JSON")
        return found
    try:
        body = answer.json()
    except ValueError:
        return [*found, "body is not JSON"]
    if answer.status >= 400:
        if not isinstance(body, dict):
            return [*found, "error body is not an object"]
        for name in ("code", "errno", "error", "message"):
            if name not in body:
                found.append(f"error body has no {name!r}")
        if body.get("code") != answer.status:
            found.append(f"error code {body.get('code')!r} is not the status")
        if body.get("errno") not in ERRNOS:
            found.append(f"errno {body.get('errno')!r} is not in the errno table")
        if errno is not None and body.get("errno") != errno:
            found.append(f"errno {body.get('errno')!r}, expected {errno}")
    return found


def assert_refused(answer, *, status=None, errno=None, name=None):
    """A 4xx cliquet JSON error (with ``errno``, naming ``name`` in ``details``)."""
    found = problems(answer, errno=errno)
    assert not found, f"{found}: {answer!r}"
    assert 400 <= answer.status < 500, f"not refused: {answer!r}"
    if status is not None:
        assert answer.status == status, f"status {answer.status}, expected {status}: {answer!r}"
    if name is not None:
        body = answer.json()
        named = json.dumps(body.get("details"), ensure_ascii=False) + body.get("message", "")
        assert name in named, f"{name!r} not named in details or message: {answer!r}"


def assert_answered(answer, *, errno=None):
    """Any status below 500; JSON; errors in cliquet's format."""
    found = problems(answer, errno=errno)
    assert not found, f"{found}: {answer!r}"


def user_id(user: str, password: str) -> str:
    """The id basic auth gives ``user:password`` in the test service."""
    return basicauth_userid(TEST_SETTINGS["cliquet.userid_hmac_secret"], user, password)


def stored(app: webtest.TestApp, parents: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every live record of the test service's collections, read from the storage itself:
    the articles of the given owners and all notes."""
    storage = app.app.registry.storage
    articles = []
    for parent in parents:
        records, _ = storage.get_all(ARTICLES, parent)
        articles.extend(records)
    notes, _ = storage.get_all(NOTES, "")
    return {"articles": articles, "notes": notes}


ALICE = user_id("alice", "pw")
BOB = user_id("bob", "pw")
EVERYONE = "system.Everyone"
