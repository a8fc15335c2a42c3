"""Item 10: a batch never acknowledges a write that is not there afterwards.

Whatever the service chooses (the whole batch refused, or each slot saying it was rolled back),
the state after the batch is the state before plus exactly the writes answered 2xx.
"""

import json
import uuid

import pytest
from pyramid import httpexceptions

from cliquet.errors import ERRORS, http_error
from cliquet.events import ResourceChanged
from cliquet.storage import StorageError
from tests.security.hostile import ALICE, problems, send

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
NOTE_ID = str(uuid.uuid4())
UNKNOWN_ID = str(uuid.uuid4())


def _sabotage(event):
    """``boom`` crashes (500), ``refused`` is forbidden (403), deleting ``doomed`` is 503."""
    for impacted in event.impacted_records:
        new = impacted.get("new") or {}
        old = impacted.get("old") or {}
        marker = new.get("title") or new.get("text")
        if marker == "boom":
            raise RuntimeError("subscriber crashed")
        if marker == "refused":
            raise http_error(httpexceptions.HTTPForbidden(), errno=ERRORS.FORBIDDEN)
        if event.payload["action"] == "delete" and old.get("title") == "doomed":
            raise StorageError("backend lost while deleting")


@pytest.fixture
def sabotaged(make_resource_app):
    return make_resource_app(
        setup=lambda config: config.add_subscriber(_sabotage, ResourceChanged)
    )


def _post(title):
    return {"method": "POST", "path": "/articles", "body": {"data": {"title": title}}}


def _cases():
    """(id, requests given the ids of the records ``kept`` and ``doomed``, crash expected)."""
    yield "post-500-post", lambda k, d: [_post("a"), _post("boom"), _post("c")], True
    yield "500-first", lambda k, d: [_post("boom"), _post("a"), _post("c")], True
    yield (
        "post-delete-503",
        lambda k, d: [
            _post("a"),
            {"method": "DELETE", "path": f"/articles/{d}"},
        ],
        True,
    )
    yield (
        "post-delete-503-post",
        lambda k, d: [
            _post("a"),
            {"method": "DELETE", "path": f"/articles/{d}"},
            _post("c"),
        ],
        True,
    )
    yield (
        "patch-then-500",
        lambda k, d: [
            {"method": "PATCH", "path": f"/articles/{k}", "body": {"data": {"rank": 2}}},
            _post("boom"),
        ],
        True,
    )
    yield (
        "delete-then-500",
        lambda k, d: [
            {"method": "DELETE", "path": f"/articles/{k}"},
            _post("boom"),
        ],
        True,
    )
    yield (
        "put-then-500",
        lambda k, d: [
            {"method": "PUT", "path": f"/articles/{k}", "body": {"data": {"title": "replaced"}}},
            _post("boom"),
        ],
        True,
    )
    yield (
        "note-put-then-500",
        lambda k, d: [
            {"method": "PUT", "path": f"/notes/{NOTE_ID}", "body": {"data": {"text": "n"}}},
            _post("boom"),
        ],
        True,
    )
    yield (
        "note-500",
        lambda k, d: [
            _post("a"),
            {"method": "POST", "path": "/notes", "body": {"data": {"text": "boom"}}},
        ],
        True,
    )
    yield (
        "post-subscriber-403-post",
        lambda k, d: [_post("a"), _post("refused"), _post("c")],
        False,
    )
    yield (
        "post-400-post",
        lambda k, d: [
            _post("a"),
            {"method": "POST", "path": "/articles", "body": {"data": {"rank": 1}}},
            _post("c"),
        ],
        False,
    )
    yield (
        "post-bad-json-type-post",
        lambda k, d: [
            _post("a"),
            {"method": "POST", "path": "/articles", "body": {"data": {"title": 1, "rank": "x"}}},
            _post("c"),
        ],
        False,
    )
    yield (
        "post-404-post",
        lambda k, d: [
            _post("a"),
            {"method": "PATCH", "path": f"/articles/{UNKNOWN_ID}", "body": {"data": {"rank": 1}}},
            _post("c"),
        ],
        False,
    )
    yield (
        "post-unknown-path",
        lambda k, d: [_post("a"), {"method": "POST", "path": "/nothing"}],
        False,
    )
    yield (
        "post-412",
        lambda k, d: [
            _post("a"),
            {
                "method": "PUT",
                "path": f"/articles/{k}",
                "headers": {"If-Match": '"1"'},
                "body": {"data": {"title": "lost"}},
            },
            _post("c"),
        ],
        False,
    )
    yield (
        "post-409-unique",
        lambda k, d: [
            {"method": "POST", "path": "/notes", "body": {"data": {"text": "n1"}}},
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "a"}}},
        ],
        False,
    )
    yield "all-good", lambda k, d: [_post("a"), _post("b")], False


CASES = [pytest.param(build, crash, id=name) for name, build, crash in _cases()]


def _state(app, alice):
    """alice's articles and notes as she reads them, by id."""
    articles = app.get("/v1/articles", headers=alice).json["data"]
    notes = app.get("/v1/notes", headers=alice).json["data"]
    return {
        **{("articles", r["id"]): r for r in articles},
        **{("notes", r["id"]): r for r in notes},
    }


def _collection_and_id(slot, request):
    path = slot.get("path") or request["path"]
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts and parts[0].startswith("v") and parts[0][1:].isdigit():
        parts = parts[1:]
    return parts


@pytest.mark.parametrize("build, crash", CASES)
def test_every_acknowledged_write_is_there_afterwards(sabotaged, alice, build, crash):
    app = sabotaged
    kept = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json["data"]
    doomed = app.post_json("/v1/articles", {"data": {"title": "doomed"}}, headers=alice).json
    before = _state(app, alice)
    requests = build(kept["id"], doomed["data"]["id"])
    body = json.dumps({"requests": requests}).encode()
    answer = send(app, "POST", "/v1/batch", body, {**alice, "Content-Type": "application/json"})

    found = problems(answer, allow_5xx=crash)
    assert not found, f"{found}: {answer!r}"
    expected = dict(before)
    if answer.status != 200:
        # The whole batch was refused: none of it may stay.
        assert answer.status >= 400, answer
    else:
        slots = answer.json()["responses"]
        assert len(slots) == len(requests), answer
        for slot, request in zip(slots, requests, strict=True):
            if request["method"] not in WRITES or not 200 <= slot["status"] < 300:
                continue
            parts = _collection_and_id(slot, request)
            record = slot["body"]["data"]
            key = (parts[0], record["id"])
            if request["method"] == "DELETE":
                expected.pop(key, None)
            else:
                expected[key] = record

    after = _state(app, alice)
    assert set(after) == set(expected), (
        f"acknowledged but absent: {sorted(set(expected) - set(after))}; "
        f"present but not acknowledged: {sorted(set(after) - set(expected))}; "
        f"answer: {answer!r}"
    )
    for key, record in expected.items():
        assert after[key] == record, f"{key}: acknowledged {record}, stored {after[key]}"
        fetched = send(app, "GET", f"/v1/{key[0]}/{key[1]}", None, alice)
        assert fetched.status == 200, fetched
    # And the service goes on.
    app.post_json("/v1/articles", {"data": {"title": "after"}}, headers=alice, status=201)


def test_acknowledged_ids_are_alices(sabotaged, alice):
    # The model of the test above reads alice's collections only: check it sees her writes.
    app = sabotaged
    body = {"requests": [_post("a")]}
    slots = app.post_json("/v1/batch", body, headers=alice).json["responses"]
    assert slots[0]["status"] == 201
    assert app.app.registry.storage.get_all("article", ALICE)[0][0]["title"] == "a"
