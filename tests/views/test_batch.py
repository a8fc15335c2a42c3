"""``POST /batch`` over HTTP, against the resource test service (articles and notes)."""

import pytest
from pyramid import httpexceptions

from cliquet.authentication import basicauth_userid
from cliquet.errors import ERRORS, http_error
from cliquet.events import AfterResourceChanged, ResourceChanged
from cliquet.storage import StorageError
from cliquet.testing.web import TEST_SETTINGS, build_app
from tests.resource import conftest as resource_fixtures
from tests.test_events import failing_commits

# The resource test service (tests/resource/testapp.py), over every storage backend.
backend_settings = resource_fixtures.backend_settings
make_resource_app = resource_fixtures.make_resource_app
app = resource_fixtures.app
alice = resource_fixtures.alice
bob = resource_fixtures.bob

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]
ALICE = basicauth_userid(SECRET, "alice", "pw")
BOB = basicauth_userid(SECRET, "bob", "pw")
ARTICLE_ID = "0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44"


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["code"] == status
    assert response.json["errno"] == errno


def batch(app, body, *, headers=None, status=200):
    return app.post_json("/v1/batch", body, headers=headers or {}, status=status)


def titles(app, auth):
    return sorted(r["title"] for r in app.get("/v1/articles", headers=auth).json["data"])


# Defaults and answers


def test_defaults_are_merged_into_each_request(app, alice):
    body = {
        "defaults": {
            "method": "POST",
            "path": "/articles",
            "headers": alice,
            "body": {"data": {"title": "default"}},
        },
        "requests": [
            {},
            {"body": {"data": {"title": "own body"}}},
            {"method": "GET"},
            {"method": "GET", "path": "/notes"},
        ],
    }
    responses = batch(app, body).json["responses"]

    assert [r["status"] for r in responses] == [201, 201, 200, 200]
    assert responses[0]["body"]["data"]["title"] == "default"
    assert responses[1]["body"]["data"]["title"] == "own body"
    listed = sorted(r["title"] for r in responses[2]["body"]["data"])
    assert listed == ["default", "own body"]
    assert responses[3]["body"] == {"data": []}
    assert titles(app, alice) == ["default", "own body"]


def test_request_headers_are_merged_over_default_headers(app, alice):
    created = app.post_json("/v1/articles", {"data": {"title": "x"}}, headers=alice).json["data"]
    etag = f'"{created["last_modified"]}"'
    body = {
        "defaults": {"method": "GET", "headers": alice},
        "requests": [
            {"path": f"/articles/{created['id']}", "headers": {"If-None-Match": etag}},
            {"path": f"/articles/{created['id']}"},
        ],
    }
    responses = batch(app, body).json["responses"]
    # The first kept the default Authorization (else 404) and added its precondition.
    assert [r["status"] for r in responses] == [304, 200]


def test_every_response_has_status_path_headers_and_body_in_order(app, alice):
    body = {
        "requests": [
            {"method": "PUT", "path": f"/articles/{ARTICLE_ID}", "body": {"data": {"title": "a"}}},
            {"method": "GET", "path": f"/v1/articles/{ARTICLE_ID}"},
            {"method": "GET", "path": "/articles?_sort=title"},
            {"method": "DELETE", "path": f"/articles/{ARTICLE_ID}"},
        ]
    }
    responses = batch(app, body, headers=alice).json["responses"]

    for response in responses:
        assert set(response) == {"status", "path", "headers", "body"}
    assert [r["status"] for r in responses] == [201, 200, 200, 200]
    assert [r["path"] for r in responses] == [
        f"/v1/articles/{ARTICLE_ID}",
        f"/v1/articles/{ARTICLE_ID}",
        "/v1/articles?_sort=title",
        f"/v1/articles/{ARTICLE_ID}",
    ]
    created = responses[0]["body"]["data"]
    assert responses[0]["headers"]["ETag"] == f'"{created["last_modified"]}"'
    assert responses[0]["headers"]["Content-Type"].startswith("application/json")
    assert responses[1]["body"] == {"data": created}
    assert len(responses[2]["body"]["data"]) == 1
    assert responses[3]["body"]["data"]["deleted"] is True


def test_path_without_version_prefix_is_accepted(app, alice):
    body = {"requests": [{"path": "/"}, {"path": "/v1/"}, {"path": "/__heartbeat__"}]}
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [200, 200, 200]
    assert responses[0]["body"]["project_name"] == "testapp"
    assert responses[1]["body"] == responses[0]["body"]


def test_an_empty_batch_answers_no_responses(app):
    assert batch(app, {"requests": []}).json == {"responses": []}


# What a subrequest answers as its own request would

ORIGIN = {
    "wsgi.url_scheme": "https",
    "HTTP_HOST": "api.example.com:8443",
    "SERVER_NAME": "api.example.com",
    "SERVER_PORT": "8443",
}


@pytest.mark.parametrize("mount", ["", "/api"])
def test_subrequest_urls_name_the_batch_origin_and_mount_path(app, alice, mount):
    environ = {**ORIGIN, "SCRIPT_NAME": mount}
    for title in ("a", "b"):
        record = {"data": {"title": title}}
        app.post_json(f"{mount}/v1/articles", record, headers=alice, extra_environ=environ)
    alone = app.get(f"{mount}/v1/articles?_limit=1", headers=alice, extra_environ=environ)
    body = {
        "requests": [
            {"path": "/"},
            {"path": "/articles?_limit=1"},
            {"path": "/articles/?_limit=1"},
        ]
    }
    response = app.post_json(f"{mount}/v1/batch", body, headers=alice, extra_environ=environ)
    hello, listing, redirect = response.json["responses"]
    base = f"https://api.example.com:8443{mount}/v1"
    assert hello["body"]["url"] == f"{base}/"
    assert listing["headers"]["Next-Page"] == alone.headers["Next-Page"]
    assert listing["headers"]["Next-Page"].startswith(f"{base}/articles?")
    assert redirect["status"] == 307
    assert redirect["headers"]["Location"] == f"{base}/articles?_limit=1"


def test_a_head_subrequest_answers_no_body(app, alice):
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=alice).json["data"]
    paths = ["/articles", f"/articles/{created['id']}", f"/articles/{ARTICLE_ID}"]
    requests = [{"method": method, "path": p} for p in paths for method in ("GET", "HEAD")]
    body = {"requests": requests}
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [200, 200, 200, 200, 404, 404]
    for got, head in zip(responses[::2], responses[1::2], strict=True):
        assert got["body"] is not None
        assert head["body"] is None
        for name in ("ETag", "Last-Modified", "Content-Type"):
            assert head["headers"].get(name) == got["headers"].get(name)
    # The count of the list, as a HEAD sent alone answers it (a GET pays for none).
    assert responses[1]["headers"]["Total-Records"] == "1"
    assert "Total-Records" not in responses[0]["headers"]


# Failing subrequests answered in their slot


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_failing_subrequests_are_answered_in_their_slot(app, alice):
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "first"}}},
            {"method": "GET", "path": f"/articles/{ARTICLE_ID}"},
            {"body": {"data": {"rank": "not a number"}}},
            {"path": "/unknown"},
            {"method": "PATCH", "path": "/articles", "body": {}},
            {"body": {"data": {"title": "last"}}},
        ],
    }
    response = batch(app, body, headers=alice)
    assert response.status_code == 200
    responses = response.json["responses"]
    assert [r["status"] for r in responses] == [201, 404, 400, 404, 405, 201]
    assert responses[1]["body"]["errno"] == 110
    assert responses[2]["body"]["errno"] == 107
    assert responses[3]["body"]["errno"] == 111
    assert responses[4]["body"]["errno"] == 115
    # A client error stays in its slot: the others are stored.
    assert titles(app, alice) == ["first", "last"]


def test_subrequest_with_bad_precondition_fails_alone(app, alice):
    created = app.post_json("/v1/articles", {"data": {"title": "x"}}, headers=alice).json["data"]
    url = f"/articles/{created['id']}"
    body = {
        "requests": [
            {"method": "PATCH", "path": url, "headers": {"If-Match": '"1"'}, "body": {}},
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "y"}}},
        ]
    }
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [412, 201]
    assert responses[0]["body"]["errno"] == 114
    assert titles(app, alice) == ["x", "y"]


# The batch itself refused


def test_more_than_batch_max_requests_is_refused(make_resource_app, alice):
    app = make_resource_app({"cliquet.batch_max_requests": "2"})
    post = {"method": "POST", "path": "/articles", "body": {"data": {"title": "x"}}}

    response = batch(app, {"requests": [post] * 3}, headers=alice, status=400)
    assert_error(response, 400, 107)
    assert titles(app, alice) == []

    responses = batch(app, {"requests": [post] * 2}, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [201, 201]


def test_default_batch_max_requests_is_25(app, alice):
    get = {"path": "/articles"}
    assert len(batch(app, {"requests": [get] * 25}, headers=alice).json["responses"]) == 25
    assert_error(batch(app, {"requests": [get] * 26}, headers=alice, status=400), 400, 107)


@pytest.mark.parametrize(
    "path", ["/batch", "/v1/batch", "/batch/", "/batch?x=1", "/%62atch", "/v1/b%61tch/"]
)
def test_subrequest_to_batch_is_refused(app, alice, path):
    body = {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "x"}}},
            {"method": "POST", "path": path, "body": {"requests": []}},
        ]
    }
    response = batch(app, body, headers=alice, status=400)
    assert_error(response, 400, 107)
    assert titles(app, alice) == []


def test_malformed_json_is_refused(app, alice):
    response = app.post(
        "/v1/batch",
        b'{"requests": [',
        headers={**alice, "Content-Type": "application/json"},
        status=400,
    )
    assert_error(response, 400, 106)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"requests": "GET /articles"},
        {"requests": [{"path": "/articles", "bogus": 1}]},
        {"requests": [{"method": "BREW", "path": "/articles"}]},
        {"requests": [{"method": "GET"}]},
        {"requests": [{"path": "articles"}]},
        {"defaults": {"bogus": 1}, "requests": []},
        [],
        # Values of the wrong type, in the defaults even when no request uses them.
        {"requests": [{"path": "/articles", "headers": {"X-Any": 5}}]},
        {"requests": [{"path": "/articles", "headers": {"X-Any": {}}}]},
        {"requests": [{"path": "/articles", "method": 5}]},
        {"defaults": {"headers": {"X-Any": {}}}, "requests": []},
        {"defaults": {"headers": []}, "requests": []},
        {"defaults": {"method": "BREW"}, "requests": []},
        {"defaults": {"path": "articles"}, "requests": []},
        {"defaults": None, "requests": []},
        {"defaults": [], "requests": []},
        {"defaults": 0, "requests": []},
        # A % that does not start a percent-encoded byte (RFC 3986 section 2.1).
        {"requests": [{"path": "/articles%zz"}]},
        {"requests": [{"path": "/articles?title=%"}]},
        {"requests": [{"path": "/articles%4"}]},
        {"defaults": {"path": "/batch"}, "requests": []},
        {"requests": [], "bogus": 1},
    ],
)
def test_malformed_batch_is_refused(app, alice, body):
    response = batch(app, body, headers=alice, status=400)
    assert_error(response, 400, 107)
    assert response.json["details"][0]["name"].split(".")[0] in ("requests", "defaults", "bogus")


# Authentication


def test_subrequests_inherit_the_batch_authorization(app, alice, bob):
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "alice's"}}},
            {"body": {"data": {"title": "bob's"}}, "headers": bob},
        ],
    }
    batch(app, body, headers=alice)
    assert titles(app, alice) == ["alice's"]
    assert titles(app, bob) == ["bob's"]


def test_anonymous_subrequests_get_401_in_their_slot(app):
    body = {"requests": [{"path": "/notes"}, {"path": "/"}]}
    responses = batch(app, body).json["responses"]
    assert [r["status"] for r in responses] == [401, 200]
    assert responses[0]["body"]["errno"] == 104


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_subrequests_on_shared_records(app, alice, bob):
    body = {
        "requests": [
            {
                "method": "PUT",
                "path": f"/notes/{ARTICLE_ID}",
                "body": {"data": {"text": "x"}, "permissions": {"read": [BOB]}},
            }
        ]
    }
    (response,) = batch(app, body, headers=alice).json["responses"]
    assert response["status"] == 201
    assert response["body"]["permissions"] == {"read": [BOB], "write": [ALICE]}
    app.get(f"/v1/notes/{ARTICLE_ID}", headers=bob, status=200)
    body = {"requests": [{"method": "DELETE", "path": f"/notes/{ARTICLE_ID}"}]}
    (response,) = batch(app, body, headers=bob).json["responses"]
    assert response["status"] == 403
    assert response["body"]["errno"] == 121


# Events and the batch's unit of work


@pytest.fixture
def recorded(make_resource_app):
    """The test service recording every resource event; ``boom`` titles crash a subscriber."""
    events = []

    def crash_on_boom(event):
        for impacted in event.impacted_records:
            if impacted["new"].get("title") == "boom":
                raise RuntimeError("subscriber crashed")

    def setup(config):
        config.add_subscriber(events.append, ResourceChanged)
        config.add_subscriber(events.append, AfterResourceChanged)
        config.add_subscriber(crash_on_boom, ResourceChanged)

    return make_resource_app(setup=setup), events


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_one_event_per_subrequest_write(recorded, alice):
    app, events = recorded
    existing = app.post_json("/v1/articles", {"data": {"title": "x"}}, headers=alice).json["data"]
    events.clear()
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "a"}}},
            {"body": {"data": {"title": "b"}}},
            {"method": "GET"},
            {"method": "DELETE", "path": f"/articles/{existing['id']}"},
            {"method": "GET", "path": f"/articles/{ARTICLE_ID}"},
        ],
    }
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [201, 201, 200, 200, 404]

    changed = [e for e in events if isinstance(e, ResourceChanged)]
    after = [e for e in events if isinstance(e, AfterResourceChanged)]
    assert [e.payload["action"] for e in changed] == ["create", "create", "delete"]
    assert [e.impacted_records[0]["new"] for e in changed[:2]] == [
        responses[0]["body"]["data"],
        responses[1]["body"]["data"],
    ]
    assert changed[2].payload["id"] == existing["id"]
    assert all(e.payload["user_id"] == ALICE for e in changed)
    # Committed once, at the end of the batch.
    assert events == changed + after
    assert [e.payload for e in after] == [e.payload for e in changed]


def assert_rolled_back(response, status, errno, index, path):
    """The batch answered as its failing subrequest did, naming it; no slot claims success."""
    assert_error(response, status, errno)
    assert "responses" not in response.json
    details = response.json["details"]
    assert details["rolled_back"] is True
    assert details["request"]["index"] == index
    assert details["request"]["path"] == path
    assert details["request"]["status"] == status
    assert details["request"]["body"]["errno"] == errno


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_5xx_subrequest_fails_the_whole_batch(recorded, alice):
    app, events = recorded
    kept = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json["data"]
    events.clear()
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "a"}}},
            {"method": "PATCH", "path": f"/articles/{kept['id']}", "body": {"data": {"rank": 2}}},
            {"body": {"data": {"title": "boom"}}},
            {"body": {"data": {"title": "c"}}},
        ],
    }
    response = batch(app, body, headers=alice, status=500)
    assert_rolled_back(response, 500, 999, 2, "/v1/articles")

    # Every backend of this app rolls back: nothing of the batch stays, nothing is announced.
    assert app.get("/v1/articles", headers=alice).json["data"] == [kept]
    assert not [e for e in events if isinstance(e, AfterResourceChanged)]
    # The subrequests after the failing one were not run.
    assert [e.impacted_records[0]["new"]["title"] for e in events] == ["a", "kept", "boom"]
    # And the service goes on.
    app.post_json("/v1/articles", {"data": {"title": "after"}}, headers=alice, status=201)
    assert titles(app, alice) == ["after", "kept"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_backend_failure_in_a_subrequest_fails_the_whole_batch(app, alice, monkeypatch):
    kept = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json["data"]
    storage = app.app.registry.storage

    def failing_delete(*args, **kwargs):
        raise StorageError("backend went away")

    monkeypatch.setattr(storage, "delete", failing_delete)
    body = {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "a"}}},
            {"method": "DELETE", "path": f"/articles/{kept['id']}"},
        ]
    }
    response = batch(app, body, headers=alice, status=503)
    assert_rolled_back(response, 503, 201, 1, f"/v1/articles/{kept['id']}")
    assert response.headers["Retry-After"] == "30"
    monkeypatch.undo()
    assert titles(app, alice) == ["kept"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_failing_commit_fails_the_whole_batch(app, alice, monkeypatch):
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [{"body": {"data": {"title": "a"}}}, {"body": {"data": {"title": "b"}}}],
    }
    with failing_commits(app.app.registry, monkeypatch):
        response = batch(app, body, headers=alice, status=503)
    assert_error(response, 503, 201)
    assert response.headers["Retry-After"] == "30"
    assert titles(app, alice) == []
    app.post_json("/v1/articles", {"data": {"title": "after"}}, headers=alice, status=201)
    assert titles(app, alice) == ["after"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_5xx_subrequest_rolls_back_shared_permissions_too(recorded, alice, bob):
    app, _ = recorded
    body = {
        "requests": [
            {
                "method": "PUT",
                "path": f"/notes/{ARTICLE_ID}",
                "body": {"data": {"text": "x"}, "permissions": {"read": [BOB]}},
            },
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "boom"}}},
        ]
    }
    response = batch(app, body, headers=alice, status=500)
    assert_rolled_back(response, 500, 999, 1, "/v1/articles")
    app.get(f"/v1/notes/{ARTICLE_ID}", headers=alice, status=403)
    assert app.app.registry.permission.get_accessible_objects([ALICE, BOB]) == {}


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_subscriber_refusing_a_subrequest_fails_the_whole_batch(make_resource_app, alice):
    # The backends cannot undo one subrequest apart from the others: all of it goes.
    def no_drafts(event):
        for impacted in event.impacted_records:
            if impacted["new"].get("title") == "draft":
                raise http_error(httpexceptions.HTTPForbidden(), errno=ERRORS.FORBIDDEN)

    app = make_resource_app(setup=lambda config: config.add_subscriber(no_drafts, ResourceChanged))
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "a"}}},
            {"body": {"data": {"title": "draft"}}},
            {"body": {"data": {"title": "c"}}},
        ],
    }
    response = batch(app, body, headers=alice, status=403)
    assert_rolled_back(response, 403, 121, 1, "/v1/articles")
    assert titles(app, alice) == []


@pytest.mark.redis
def test_on_redis_storage_each_subrequest_stands_alone(redis_url, redis_prefix, alice):
    # Redis cannot roll back: what the slots say is what happened, 2xx slots included.
    app = build_app(
        {
            "cliquet.storage_backend": "cliquet.storage.redis",
            "cliquet.storage_url": redis_url,
            "cliquet.storage_prefix": redis_prefix,
        },
        setup=lambda config: config.scan("tests.resource.testapp"),
    )
    app.app.registry.storage.flush()

    def crash_on_boom(event):
        if event.impacted_records[0]["new"].get("title") == "boom":
            raise RuntimeError("subscriber crashed")

    app.app.registry.registerHandler(crash_on_boom, (ResourceChanged,))
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"body": {"data": {"title": "a"}}},
            {"body": {"data": {"title": "boom"}}},
            {"body": {"data": {"title": "c"}}},
        ],
    }
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [201, 500, 201]
    # The refused write is answered 500 yet happened: a subscriber cannot undo it on Redis.
    assert titles(app, alice) == ["a", "boom", "c"]


@pytest.mark.redis
def test_on_redis_storage_a_backend_failure_ends_the_batch(
    redis_url, redis_prefix, alice, monkeypatch
):
    # Each subrequest would wait out the backend's timeout again: a batch of 25 on a Redis
    # that hangs would answer after 25 timeouts. The first 503 errno 201 ends the batch; the
    # later subrequests are not run, and their slots say so (found by the fault suite).
    app = build_app(
        {
            "cliquet.storage_backend": "cliquet.storage.redis",
            "cliquet.storage_url": redis_url,
            "cliquet.storage_prefix": redis_prefix,
        },
        setup=lambda config: config.scan("tests.resource.testapp"),
    )
    storage = app.app.registry.storage
    calls = []

    def failing_create(*args, **kwargs):
        calls.append(1)
        raise StorageError("backend went away")

    monkeypatch.setattr(storage, "create", failing_create)
    body = {
        "defaults": {"method": "POST", "path": "/articles"},
        "requests": [
            {"method": "GET"},
            {"body": {"data": {"title": "a"}}},
            {"body": {"data": {"title": "b"}}},
            {"method": "GET"},
        ],
    }
    responses = batch(app, body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [200, 503, 503, 503]
    assert len(calls) == 1
    for slot in responses[1:]:
        assert slot["body"]["errno"] == ERRORS.BACKEND
        assert slot["headers"]["Retry-After"] == "30"
        assert slot["headers"]["Content-Type"].startswith("application/json")
    assert [r["path"] for r in responses[2:]] == ["/v1/articles", "/v1/articles"]
    assert "not run" in responses[2]["body"]["message"].lower()
    monkeypatch.undo()
    assert titles(app, alice) == []


class _LibraryError(Exception):
    """Like SQLAlchemy's errors: a ``code`` attribute that is no HTTP status."""

    def __init__(self, code):
        super().__init__(f"library error {code}")
        self.code = code


@pytest.mark.parametrize("code", ["e3q8", None, 404])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_a_crashing_view_rolls_back_the_whole_batch(make_resource_app, alice, code):
    from cornice import Service

    crash = Service(name="crash", path="/crash")

    @crash.post()
    def crashing(request):
        raise _LibraryError(code)

    def setup(config):
        config.add_cornice_service(crash)

    app = make_resource_app(setup=setup)
    body = {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "a"}}},
            {"method": "POST", "path": "/crash"},
        ]
    }
    response = batch(app, body, headers=alice, status=500)
    assert_rolled_back(response, 500, 999, 1, "/v1/crash")
    assert titles(app, alice) == []
