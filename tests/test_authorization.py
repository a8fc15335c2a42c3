"""The principals of a request, and the decisions of the authorization policy made with them.

A request's principals are ``system.Everyone``, and when authenticated ``system.Authenticated``,
the user id, what the authentication policies add, and the principals stored for the user in
the permission backend (``add_user_principal``). They are computed once per request.
"""

import pytest
from pyramid.authorization import Authenticated, Everyone

from cliquet.authentication import basicauth_userid
from cliquet.authorization import get_principals
from cliquet.testing.web import TEST_SETTINGS, basic_auth
from tests.resource import conftest as resource_fixtures

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

backend_settings = resource_fixtures.backend_settings
make_resource_app = resource_fixtures.make_resource_app
app = resource_fixtures.app
alice = resource_fixtures.alice
bob = resource_fixtures.bob

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]
ALICE = basicauth_userid(SECRET, "alice", "pw")
BOB = basicauth_userid(SECRET, "bob", "pw")
NOTE_ID = "3a6b5c1e-6f8e-4f0b-9b7b-6d5b1d2f7a10"
URL = f"/v1/notes/{NOTE_ID}"


@pytest.fixture
def carol():
    return basic_auth("carol", "pw")


class LocalNetworkPolicy:
    """Authenticates nobody, but gives every request the principal ``net:local``."""

    def authenticated_userid(self, request):
        return None

    def unauthenticated_userid(self, request):
        return None

    def effective_principals(self, request):
        return [Everyone, "net:local"]

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request):
        return []


def share(app, auth, permissions):
    body = {"data": {"id": NOTE_ID, "text": "shared"}, "permissions": permissions}
    return app.post_json("/v1/notes", body, headers=auth, status=201).json


def listed_ids(app, headers):
    return [r["id"] for r in app.get("/v1/notes", headers=headers).json["data"]]


def principals_of(app, headers):
    """The principals :func:`get_principals` gives a request of these headers."""
    from pyramid.request import Request
    from pyramid.threadlocal import RequestContext

    request = Request.blank("/v1/", headers=headers)
    request.registry = app.app.registry
    with RequestContext(request):
        return get_principals(request)


# Principals stored in the permission backend


def test_user_principals_of_the_backend_grant_record_rights(app, alice, bob, carol):
    app.app.registry.permission.add_user_principal(BOB, "group:readers")
    share(app, alice, {"read": ["group:readers"]})

    assert app.get(URL, headers=bob).json["data"]["text"] == "shared"
    assert listed_ids(app, bob) == [NOTE_ID]
    app.patch_json(URL, {"data": {"text": "x"}}, headers=bob, status=403)
    app.get(URL, headers=carol, status=403)
    assert listed_ids(app, carol) == []


def test_user_principals_of_the_backend_grant_write(app, alice, bob):
    app.app.registry.permission.add_user_principal(BOB, "group:editors")
    share(app, alice, {"write": ["group:editors"]})
    patched = app.patch_json(URL, {"data": {"text": "by bob"}}, headers=bob).json
    assert patched["data"]["text"] == "by bob"
    assert app.delete("/v1/notes", headers=bob).json["data"][0]["id"] == NOTE_ID


def test_user_principals_of_the_backend_grant_collection_rights(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_read_principals": "group:auditors"})
    app.app.registry.permission.add_user_principal(BOB, "group:auditors")
    app.post_json("/v1/notes", {"data": {"id": NOTE_ID, "text": "a"}}, headers=alice)
    assert listed_ids(app, bob) == [NOTE_ID]
    app.get(URL, headers=bob, status=200)


def test_removing_a_user_principal_takes_the_right_back(app, alice, bob):
    permission = app.app.registry.permission
    permission.add_user_principal(BOB, "group:readers")
    share(app, alice, {"read": ["group:readers"]})
    app.get(URL, headers=bob, status=200)
    permission.remove_user_principal(BOB, "group:readers")
    app.get(URL, headers=bob, status=403)
    assert listed_ids(app, bob) == []


def test_principals_of_a_request(app, alice):
    app.app.registry.permission.add_user_principal(ALICE, "group:readers")
    assert principals_of(app, alice) == {Everyone, Authenticated, ALICE, "group:readers"}
    assert principals_of(app, {}) == {Everyone}


def test_user_principals_are_read_once_per_request(app, alice, bob, monkeypatch):
    permission = app.app.registry.permission
    permission.add_user_principal(BOB, "group:readers")
    share(app, alice, {"read": ["group:readers"]})
    calls = []
    original = permission.get_user_principals

    def counting(user_id):
        calls.append(user_id)
        return original(user_id)

    monkeypatch.setattr(permission, "get_user_principals", counting)
    assert listed_ids(app, bob) == [NOTE_ID]
    assert calls == [BOB]
    calls.clear()
    app.get(URL, headers=bob, status=200)
    assert calls == [BOB]


def test_anonymous_requests_do_not_query_user_principals(app, monkeypatch):
    permission = app.app.registry.permission
    monkeypatch.setattr(permission, "get_user_principals", lambda user_id: pytest.fail("queried"))
    app.get("/v1/notes", status=401)


# Principals of the authentication policies


def test_principals_of_every_authentication_policy_count(make_resource_app, alice, bob):
    app = make_resource_app(
        {
            "multiauth.policies": "basicauth localnet",
            "multiauth.policy.localnet.use": "tests.test_authorization.LocalNetworkPolicy",
        }
    )
    share(app, alice, {"read": ["net:local"]})
    assert app.get(URL, headers=bob).json["data"]["id"] == NOTE_ID
    assert app.get(URL).json["data"]["id"] == NOTE_ID
    assert "net:local" in principals_of(app, bob)


def test_groupfinder_principals_count(make_resource_app, alice, bob):
    app = make_resource_app({"multiauth.groupfinder": "tests.test_authorization.groupfinder"})
    share(app, alice, {"read": ["group:found"]})
    assert app.get(URL, headers=bob).json["data"]["id"] == NOTE_ID
    assert listed_ids(app, bob) == [NOTE_ID]


def groupfinder(userid, request):
    return ["group:found"] if userid == BOB else []
