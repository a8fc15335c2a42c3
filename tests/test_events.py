"""Resource events over HTTP: ``ResourceChanged`` inside the request's transaction,
``AfterResourceChanged`` once committed, nothing for a write that failed."""

import contextlib

import pytest
from pyramid import httpexceptions

from cliquet.authentication import basicauth_userid
from cliquet.errors import ERRORS, http_error
from cliquet.events import ACTIONS, AfterResourceChanged, ResourceChanged
from cliquet.storage import RecordNotFoundError, StorageError
from cliquet.testing.web import TEST_SETTINGS
from tests.resource import conftest as resource_fixtures

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

# The resource test service (tests/resource/testapp.py), over every storage backend.
backend_settings = resource_fixtures.backend_settings
make_resource_app = resource_fixtures.make_resource_app
alice = resource_fixtures.alice
bob = resource_fixtures.bob

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]
ALICE = basicauth_userid(SECRET, "alice", "pw")
BOB = basicauth_userid(SECRET, "bob", "pw")
ARTICLE_ID = "5b1c0e7e-2f0a-4c0e-8d53-0f6a8c9a2b11"

PAYLOAD_KEYS = {"action", "resource_name", "user_id", "uri", "timestamp"}


class Recorder:
    """Keeps every resource event it is notified of, in order."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def of(self, cls):
        return [e for e in self.events if type(e) is cls]

    @property
    def changed(self):
        return self.of(ResourceChanged)

    @property
    def after(self):
        return self.of(AfterResourceChanged)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def serve(make_resource_app, recorder):
    """The test service with ``recorder`` subscribed, and maybe more subscribers after it."""

    def make(*subscribers, settings=None):
        def setup(config):
            config.add_subscriber(recorder, ResourceChanged)
            config.add_subscriber(recorder, AfterResourceChanged)
            for subscriber, event_class in subscribers:
                config.add_subscriber(subscriber, event_class)

        return make_resource_app(settings, setup)

    return make


@pytest.fixture
def app(serve):
    return serve()


def refuse_with_403(event):
    raise http_error(
        httpexceptions.HTTPForbidden(), errno=ERRORS.FORBIDDEN, message="Refused by a subscriber."
    )


def refuse_with_crash(event):
    raise RuntimeError("subscriber bug")


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno


def post_article(app, auth, **data):
    body = {"data": {"title": "hello", **data}}
    return app.post_json("/v1/articles", body, headers=auth, status=201).json["data"]


# Payloads


def test_create_fires_one_event_with_the_new_record(app, recorder, alice):
    record = post_article(app, alice)

    (event,) = recorder.changed
    assert PAYLOAD_KEYS <= set(event.payload)
    assert event.payload["action"] == ACTIONS.CREATE.value == "create"
    assert event.payload["resource_name"] == "article"
    assert event.payload["user_id"] == ALICE
    assert event.payload["uri"] == "/articles"
    assert event.payload["timestamp"] == record["last_modified"]
    assert event.impacted_records == [{"new": record}]
    assert event.request is not None


def test_put_creation_fires_a_create_event_with_the_id(app, recorder, alice):
    url = f"/v1/articles/{ARTICLE_ID}"
    record = app.put_json(url, {"data": {"title": "x"}}, headers=alice, status=201).json["data"]

    (event,) = recorder.changed
    assert event.payload["action"] == "create"
    assert event.payload["id"] == ARTICLE_ID
    assert event.payload["uri"] == "/articles"
    assert event.payload["timestamp"] == record["last_modified"]
    assert event.impacted_records == [{"new": record}]


@pytest.mark.parametrize("method", ["patch_json", "put_json"])
def test_update_fires_one_event_with_old_and_new(app, recorder, alice, method):
    old = post_article(app, alice)
    recorder.events.clear()
    url = f"/v1/articles/{old['id']}"
    new = getattr(app, method)(url, {"data": {"title": "changed"}}, headers=alice).json["data"]

    (event,) = recorder.changed
    assert event.payload["action"] == "update"
    assert event.payload["resource_name"] == "article"
    assert event.payload["user_id"] == ALICE
    assert event.payload["uri"] == "/articles"
    assert event.payload["id"] == old["id"]
    assert event.payload["timestamp"] == new["last_modified"]
    assert event.impacted_records == [{"old": old, "new": new}]


def test_delete_fires_one_event_with_the_tombstone(app, recorder, alice):
    old = post_article(app, alice)
    recorder.events.clear()
    tombstone = app.delete(f"/v1/articles/{old['id']}", headers=alice).json["data"]

    (event,) = recorder.changed
    assert event.payload["action"] == "delete"
    assert event.payload["id"] == old["id"]
    assert event.payload["uri"] == "/articles"
    assert event.payload["timestamp"] == tombstone["last_modified"]
    assert event.impacted_records == [{"old": old, "new": tombstone}]
    assert tombstone["deleted"] is True


def test_collection_delete_fires_one_event_with_every_tombstone(app, recorder, alice):
    ids = {post_article(app, alice, rank=i)["id"] for i in range(3)}
    recorder.events.clear()
    tombstones = app.delete("/v1/articles", headers=alice).json["data"]

    (event,) = recorder.changed
    assert event.payload["action"] == "delete"
    assert event.payload["uri"] == "/articles"
    assert "id" not in event.payload
    assert event.payload["timestamp"] == max(t["last_modified"] for t in tombstones)
    news = [impacted["new"] for impacted in event.impacted_records]
    assert sorted(news, key=lambda t: t["id"]) == sorted(tombstones, key=lambda t: t["id"])
    assert {t["id"] for t in news} == ids
    assert all(t["deleted"] for t in news)


def test_collection_delete_of_nothing_fires_nothing(app, recorder, alice):
    app.delete("/v1/articles", headers=alice, status=200)
    assert recorder.events == []


def test_reads_fire_nothing(app, recorder, alice):
    record = post_article(app, alice)
    recorder.events.clear()
    app.get("/v1/articles", headers=alice)
    app.get(f"/v1/articles/{record['id']}", headers=alice)
    assert recorder.events == []


def test_patch_that_changes_nothing_fires_nothing(app, recorder, alice):
    record = post_article(app, alice)
    recorder.events.clear()
    url = f"/v1/articles/{record['id']}"
    app.patch_json(url, {"data": {"title": "hello"}}, headers=alice, status=200)
    assert recorder.events == []


def test_shareable_resource_events(app, recorder, alice, bob):
    body = {"data": {"text": "hi"}, "permissions": {"read": [BOB]}}
    record = app.post_json("/v1/notes", body, headers=alice, status=201).json["data"]
    url = f"/v1/notes/{record['id']}"
    app.patch_json(url, {"permissions": {"write": [BOB]}}, headers=alice)
    new = app.patch_json(url, {"data": {"text": "bob"}}, headers=bob).json["data"]

    create, share, update = recorder.changed
    assert create.payload["resource_name"] == "note"
    assert create.payload["uri"] == "/notes"
    assert create.impacted_records == [{"new": record}]
    assert share.payload["action"] == "update"
    assert update.payload["user_id"] == BOB
    assert update.payload["id"] == record["id"]
    assert update.impacted_records[0]["new"] == new


# AfterResourceChanged


def test_after_resource_changed_has_the_same_payload_and_comes_after(app, recorder, alice):
    record = post_article(app, alice)
    app.delete(f"/v1/articles/{record['id']}", headers=alice)

    kinds = [type(e) for e in recorder.events]
    assert kinds == [ResourceChanged, AfterResourceChanged] * 2
    for changed, after in zip(recorder.events[::2], recorder.events[1::2], strict=True):
        assert after.payload == changed.payload
        assert after.impacted_records == changed.impacted_records


def test_after_resource_changed_sees_the_write_committed(serve, alice):
    seen = []

    def look(event):
        storage = event.request.registry.storage
        record = event.impacted_records[0]["new"]
        seen.append(storage.get("article", ALICE, record["id"]))

    app = serve((look, AfterResourceChanged))
    record = post_article(app, alice)
    assert seen == [record]


def test_after_resource_changed_subscriber_failure_does_not_fail_the_request(
    serve, recorder, alice
):
    app = serve((refuse_with_crash, AfterResourceChanged))
    record = post_article(app, alice)

    listed = app.get("/v1/articles", headers=alice).json["data"]
    assert listed == [record]
    assert len(recorder.after) == 1


# Failed writes fire nothing


def test_invalid_write_fires_nothing(app, recorder, alice):
    app.post_json("/v1/articles", {"data": {"rank": 1}}, headers=alice, status=400)
    app.post_json("/v1/articles", {"nodata": 1}, headers=alice, status=400)
    assert recorder.events == []


def test_write_on_a_missing_record_fires_nothing(app, recorder, alice):
    url = f"/v1/articles/{ARTICLE_ID}"
    app.patch_json(url, {"data": {"title": "x"}}, headers=alice, status=404)
    app.delete(url, headers=alice, status=404)
    assert recorder.events == []


def test_failed_precondition_fires_nothing(app, recorder, alice):
    record = post_article(app, alice)
    recorder.events.clear()
    url = f"/v1/articles/{record['id']}"
    stale = {"If-Match": '"1"', **alice}
    app.patch_json(url, {"data": {"title": "x"}}, headers=stale, status=412)
    app.put_json(url, {"data": {"title": "x"}}, headers=stale, status=412)
    app.delete(url, headers=stale, status=412)
    create_only = {"If-None-Match": "*", **alice}
    app.put_json(url, {"data": {"title": "x"}}, headers=create_only, status=412)
    assert recorder.events == []


def test_forbidden_write_fires_nothing(app, recorder, alice, bob):
    record = app.post_json("/v1/notes", {"data": {"text": "x"}}, headers=alice).json["data"]
    recorder.events.clear()
    app.patch_json(f"/v1/notes/{record['id']}", {"data": {"text": "y"}}, headers=bob, status=403)
    app.post_json("/v1/notes", {"data": {"text": "y"}}, status=401)
    assert recorder.events == []


# A ResourceChanged subscriber may refuse the write


@pytest.mark.parametrize(
    ("refuse", "status", "errno"),
    [(refuse_with_403, 403, ERRORS.FORBIDDEN), (refuse_with_crash, 500, ERRORS.UNDEFINED)],
)
def test_refused_creation_is_not_stored(serve, recorder, alice, refuse, status, errno):
    app = serve((refuse, ResourceChanged))
    response = app.post_json(
        "/v1/articles", {"data": {"title": "x"}}, headers=alice, status=status
    )
    assert_error(response, status, errno)

    assert app.get("/v1/articles", headers=alice).json["data"] == []
    app.put_json(
        f"/v1/articles/{ARTICLE_ID}", {"data": {"title": "x"}}, headers=alice, status=status
    )
    app.get(f"/v1/articles/{ARTICLE_ID}", headers=alice, status=404)
    assert len(recorder.changed) == 2
    assert recorder.after == []


@pytest.mark.parametrize(("refuse", "status"), [(refuse_with_403, 403), (refuse_with_crash, 500)])
def test_refused_update_keeps_the_old_value(make_resource_app, recorder, alice, refuse, status):
    refusing = {"on": False}

    def maybe_refuse(event):
        if refusing["on"]:
            refuse(event)

    def setup(config):
        config.add_subscriber(maybe_refuse, ResourceChanged)
        config.add_subscriber(recorder, AfterResourceChanged)

    app = make_resource_app(setup=setup)
    record = post_article(app, alice)
    url = f"/v1/articles/{record['id']}"
    recorder.events.clear()
    refusing["on"] = True

    app.patch_json(url, {"data": {"title": "changed"}}, headers=alice, status=status)
    app.put_json(url, {"data": {"title": "changed"}}, headers=alice, status=status)
    assert app.get(url, headers=alice).json["data"] == record
    app.delete(url, headers=alice, status=status)
    assert app.get(url, headers=alice).json["data"] == record
    app.delete("/v1/articles", headers=alice, status=status)
    assert app.get("/v1/articles", headers=alice).json["data"] == [record]
    # The collection's timestamp may have moved on, but no tombstone is left behind.
    since = app.get(f"/v1/articles?_since={record['last_modified']}", headers=alice).json
    assert since["data"] == []
    assert recorder.after == []


def test_refused_shareable_write_stores_no_permissions(make_resource_app, alice, bob):
    refusing = {"on": True}

    def maybe_refuse(event):
        if refusing["on"]:
            refuse_with_403(event)

    app = make_resource_app(
        setup=lambda config: config.add_subscriber(maybe_refuse, ResourceChanged)
    )
    permission = app.app.registry.permission
    url = f"/v1/notes/{ARTICLE_ID}"
    body = {"data": {"text": "x"}, "permissions": {"read": [BOB]}}
    app.put_json(url, body, headers=alice, status=403)
    app.post_json("/v1/notes", body, headers=alice, status=403)
    assert permission.get_accessible_objects([ALICE, BOB]) == {}
    assert app.get("/v1/notes", headers=alice).json["data"] == []

    refusing["on"] = False
    app.put_json(url, {"data": {"text": "x"}}, headers=alice, status=201)
    refusing["on"] = True
    app.patch_json(url, {"permissions": {"read": [BOB]}}, headers=alice, status=403)
    app.get(url, headers=bob, status=403)
    app.delete(url, headers=alice, status=403)
    assert app.get(url, headers=alice).json["permissions"] == {"write": [ALICE]}


def test_subscriber_may_refuse_only_some_writes(serve, recorder, alice):
    def no_drafts(event):
        for impacted in event.impacted_records:
            if impacted["new"].get("title") == "draft":
                refuse_with_403(event)

    app = serve((no_drafts, ResourceChanged))
    kept = post_article(app, alice)
    app.post_json("/v1/articles", {"data": {"title": "draft"}}, headers=alice, status=403)
    assert app.get("/v1/articles", headers=alice).json["data"] == [kept]
    assert [e.payload["action"] for e in recorder.after] == ["create"]


# The seed's "second way": a plain subscriber, no base class


def test_plain_subscriber_can_index_records(serve, alice, bob):
    index = {}

    def indexer(event):
        for impacted in event.impacted_records:
            new = impacted["new"]
            key = (event.payload["resource_name"], new["id"])
            if new.get("deleted"):
                index.pop(key, None)
            else:
                index[key] = new

    app = serve((indexer, AfterResourceChanged))
    first = post_article(app, alice)
    second = post_article(app, bob, title="bob's")
    assert index == {("article", first["id"]): first, ("article", second["id"]): second}

    changed = app.patch_json(
        f"/v1/articles/{first['id']}", {"data": {"title": "new"}}, headers=alice
    ).json["data"]
    assert index[("article", first["id"])] == changed
    app.delete("/v1/articles", headers=bob)
    assert index == {("article", first["id"]): changed}
    app.delete(f"/v1/articles/{first['id']}", headers=alice)
    assert index == {}


# The unit of work itself failing


@contextlib.contextmanager
def failing_commits(registry, monkeypatch):
    """Make the unit of work's commit fail where it would: the database refusing the SQL
    backends' ``COMMIT``, the memory ones' own ``commit`` raising."""
    engine = getattr(registry.storage, "engine", None)
    if engine is None:

        def failing_commit():
            raise StorageError("commit failed")

        monkeypatch.setattr(registry.storage, "commit", failing_commit)
        try:
            yield
        finally:
            monkeypatch.undo()
        return

    def refuse(dbapi_connection):
        raise engine.dialect.loaded_dbapi.OperationalError("commit refused")

    monkeypatch.setattr(engine.dialect, "do_commit", refuse)
    try:
        yield
    finally:
        monkeypatch.undo()


def test_failed_commit_rolls_every_backend_back(app, recorder, alice, monkeypatch):
    body = {"data": {"text": "x"}, "permissions": {"read": [BOB]}}
    with failing_commits(app.app.registry, monkeypatch):
        response = app.post_json("/v1/notes", body, headers=alice, status=503)
    assert_error(response, 503, ERRORS.BACKEND)
    assert recorder.after == []
    assert len(recorder.changed) == 1  # fired inside the transaction, which then failed

    assert app.get("/v1/notes", headers=alice).json["data"] == []
    assert app.app.registry.permission.get_accessible_objects([ALICE, BOB]) == {}
    app.post_json("/v1/notes", body, headers=alice, status=201)
    assert len(recorder.after) == 1


def test_a_rolled_back_request_leaves_nothing_and_fires_no_after_event(
    serve, recorder, alice
):
    """A subscriber refusing the write after it was stored: the answer is the refusal,
    the record and its permissions are gone, and no AfterResourceChanged fires."""
    app = serve((refuse_with_crash, ResourceChanged))
    body = {"data": {"text": "x"}, "permissions": {"read": [BOB]}}
    response = app.put_json(f"/v1/notes/{ARTICLE_ID}", body, headers=alice, status=500)
    assert_error(response, 500, ERRORS.UNDEFINED)
    assert [e.payload["action"] for e in recorder.changed] == ["create"]
    assert recorder.after == []
    app.get(f"/v1/notes/{ARTICLE_ID}", headers=alice, status=403)
    assert app.app.registry.permission.get_accessible_objects([ALICE, BOB]) == {}
    storage = app.app.registry.storage
    with pytest.raises(RecordNotFoundError):
        storage.get("note", "", ARTICLE_ID)
