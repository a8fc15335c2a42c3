"""Basic auth user ids and policies plugged through ``multiauth.policies``."""

import base64
import re

import pytest
from pyramid.authentication import CallbackAuthenticationPolicy
from pyramid.exceptions import ConfigurationError

from cliquet.authentication import basicauth_userid
from cliquet.testing.web import TEST_SETTINGS, basic_auth, build_app

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]


class DummyPolicy(CallbackAuthenticationPolicy):
    """Authenticates whoever the ``X-Dummy-User`` header names (a stand-in for OAuth...)."""

    def __init__(self, header="X-Dummy-User"):
        self.header = header
        self.callback = None

    def unauthenticated_userid(self, request):
        user = request.headers.get(self.header)
        return f"dummy:{user}" if user else None

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


def _userid(app, headers=None):
    body = app.get("/v1/", headers=headers or {}).json
    return body.get("user", {}).get("id")


def test_basic_auth_user_id_format(app):
    userid = _userid(app, basic_auth("alice", "secret"))
    assert re.fullmatch(r"basicauth:[0-9a-f]{64}", userid)
    assert userid == basicauth_userid(SECRET, "alice", "secret")


def test_same_credentials_same_user_id(app):
    first = _userid(app, basic_auth("alice", "secret"))
    assert _userid(app, basic_auth("alice", "secret")) == first
    # Stable across processes sharing the secret, too.
    assert _userid(build_app(), basic_auth("alice", "secret")) == first


def test_different_password_different_user_id(app):
    assert _userid(app, basic_auth("alice", "secret")) != _userid(
        app, basic_auth("alice", "other")
    )


def test_different_user_different_user_id(app):
    assert _userid(app, basic_auth("alice", "secret")) != _userid(app, basic_auth("bob", "secret"))


def test_different_secret_different_user_id(app):
    other = build_app({"cliquet.userid_hmac_secret": "another-secret"})
    assert _userid(app, basic_auth()) != _userid(other, basic_auth())
    assert _userid(other, basic_auth()) == basicauth_userid("another-secret", "alice", "secret")


def test_user_id_does_not_reveal_credentials(app):
    userid = _userid(app, basic_auth("alice", "wonderland"))
    assert "alice" not in userid
    assert "wonderland" not in userid


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic garbage!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode("ascii"),
        "Basic ",
        "Basic",
        "Bearer some-token",
    ],
)
def test_malformed_authorization_is_anonymous(app, authorization):
    response = app.get("/v1/", headers={"Authorization": authorization}, expect_errors=True)
    assert response.status_code == 200
    assert "user" not in response.json


@pytest.mark.parametrize(
    "settings",
    [
        {"multiauth.policies": "nonexistent"},
        {"multiauth.policies": "no.such.module.Policy"},
        {"multiauth.policies": "dummy", "multiauth.policy.dummy.use": "tests.nowhere.Policy"},
    ],
)
def test_unimportable_policy_stops_start_up(settings):
    with pytest.raises(ConfigurationError, match="multiauth.policies"):
        build_app(settings)


@pytest.fixture
def multi_app():
    return build_app(
        {
            "multiauth.policies": "dummy basicauth",
            "multiauth.policy.dummy.use": "tests.test_authentication.DummyPolicy",
        }
    )


def test_plugged_policy_authenticates(multi_app):
    assert _userid(multi_app, {"X-Dummy-User": "bob"}) == "dummy:bob"


def test_basic_auth_still_works_next_to_plugged_policy(multi_app):
    assert _userid(multi_app, basic_auth("alice", "secret")) == basicauth_userid(
        SECRET, "alice", "secret"
    )


def test_anonymous_next_to_plugged_policy(multi_app):
    assert _userid(multi_app) is None


def test_plugged_policy_settings_are_passed_to_it():
    app = build_app(
        {
            "multiauth.policies": "dummy basicauth",
            "multiauth.policy.dummy.use": "tests.test_authentication.DummyPolicy",
            "multiauth.policy.dummy.header": "X-Other-User",
        }
    )
    assert _userid(app, {"X-Other-User": "carol"}) == "dummy:carol"
    assert _userid(app, {"X-Dummy-User": "bob"}) is None


def _raw_basic(raw):
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


@pytest.mark.parametrize(
    "raw",
    [
        b":",
        b"alice:",
        b":secret",
        b" : ",
        b"alice:\t",
        b"\xff\xfe:\xff",
        b"al\x00ice:secret",
        b"alice:sec\nret",
        b"alice:secret\x7f",
    ],
)
def test_credentials_that_cannot_be_an_account_are_refused(app, raw):
    response = app.get("/v1/", headers=_raw_basic(raw), expect_errors=True)
    assert response.status_code == 401
    assert response.content_type == "application/json"
    assert response.json["errno"] == 105
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_spaces_inside_credentials_are_kept(app):
    userid = _userid(app, basic_auth("alice smith", " pass word "))
    assert userid == basicauth_userid(SECRET, "alice smith", " pass word ")


def test_non_ascii_utf8_credentials_authenticate(app):
    userid = _userid(app, basic_auth("élodie", "mot-de-passe-ü"))
    assert userid == basicauth_userid(SECRET, "élodie", "mot-de-passe-ü")
