"""End to end: log in through the service's views at a real provider, then use the tokens."""

import base64
import json
from urllib.parse import parse_qs, urlparse

import pytest

from tests.openid.conftest import CALLBACK, CLIENT_ID, bearer, openid_app


@pytest.fixture(scope="module")
def app(provider):
    return openid_app(provider.issuer, audience=CLIENT_ID)


def log_in(app, provider, sub, *, callback=CALLBACK):
    """The whole authorization code flow, as a browser follows it; the tokens handed over."""
    response = app.get("/v1/openid/mock/login", params={"callback": callback}, status=307)
    location = response.headers["Location"]
    assert location.startswith(provider.metadata["authorization_endpoint"] + "?")
    back = urlparse(provider.authorize(location, sub))
    assert back.path == "/v1/openid/mock/token"
    response = app.get(f"{back.path}?{back.query}", status=307)
    handed = response.headers["Location"]
    assert handed.startswith(callback)
    return json.loads(base64.urlsafe_b64decode(handed[len(callback) :]))


def test_login_hands_the_tokens_to_the_callback(app, provider):
    tokens = log_in(app, provider, "alice")
    assert tokens["token_type"] == "Bearer"
    assert {"access_token", "id_token", "expires_in"} <= set(tokens)


def test_the_login_asks_the_provider_for_a_code_with_a_state(app, provider):
    response = app.get("/v1/openid/mock/login", params={"callback": CALLBACK}, status=307)
    query = parse_qs(urlparse(response.headers["Location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid"]
    assert query["redirect_uri"] == ["http://localhost/v1/openid/mock/token"]
    assert len(query["state"][0]) >= 32


def test_hello_and_articles_with_the_access_token(app, provider):
    tokens = log_in(app, provider, "alice")
    hello = app.get("/v1/", headers=bearer(tokens["access_token"])).json
    assert hello["user"] == {"id": "mock:alice"}
    created = app.post_json(
        "/v1/articles", {"data": {"title": "Mine"}}, headers=bearer(tokens["access_token"])
    ).json["data"]
    listed = app.get("/v1/articles", headers=bearer(tokens["access_token"])).json["data"]
    assert [r["id"] for r in listed] == [created["id"]]


def test_the_id_token_is_verified_locally(app, provider):
    tokens = log_in(app, provider, "bob")
    hello = app.get("/v1/", headers=bearer(tokens["id_token"])).json
    assert hello["user"] == {"id": "mock:bob"}


def test_two_users_see_only_their_own_records(app, provider):
    alice = bearer(log_in(app, provider, "alice")["access_token"])
    bob = bearer(log_in(app, provider, "bob")["access_token"])
    mine = app.post_json("/v1/articles", {"data": {"title": "Alice's"}}, headers=alice).json
    theirs = app.post_json("/v1/articles", {"data": {"title": "Bob's"}}, headers=bob).json
    alice_ids = {r["id"] for r in app.get("/v1/articles", headers=alice).json["data"]}
    bob_ids = {r["id"] for r in app.get("/v1/articles", headers=bob).json["data"]}
    assert mine["data"]["id"] in alice_ids and mine["data"]["id"] not in bob_ids
    assert theirs["data"]["id"] in bob_ids and theirs["data"]["id"] not in alice_ids
    response = app.get(f"/v1/articles/{mine['data']['id']}", headers=bob, status=404)
    assert response.json["errno"] == 110
    app.delete(f"/v1/articles/{mine['data']['id']}", headers=bob, status=404)


def test_hello_lists_the_providers(app, provider):
    capability = app.get("/v1/").json["capabilities"]["openid"]
    assert capability["providers"] == [
        {
            "name": "mock",
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "header_type": "Bearer",
            "userid_field": "sub",
            "auth_path": "/openid/mock/login",
        }
    ]


# What the login views refuse ---------------------------------------------------------------


def _error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno
    return response.json


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"callback": ""},
        {"callback": "javascript:alert(1)"},
        {"callback": "https://evil.example/login#tokens="},
        {"callback": "https://app.example.evil/login"},
        {"callback": CALLBACK + "x" * 3000},
        {"callback": "https://app.example/login\r\nSet-Cookie: a=b"},
        {"callback": "https://app.example/login x"},
        {"callback": "https://app.example/login\u00e9"},
        {"callback": [CALLBACK, CALLBACK]},
        {"callback": CALLBACK, "scope": "openid\nemail"},
        {"callback": CALLBACK, "scope": "a  b"},
    ],
)
def test_login_refuses_a_bad_callback_or_scope(app, params):
    body = _error(app.get("/v1/openid/mock/login", params=params, expect_errors=True), 400, 107)
    assert body["details"][0]["location"] == "querystring"


def test_an_unknown_provider_is_404(app):
    _error(app.get("/v1/openid/nobody/login", params={"callback": CALLBACK}, status=404), 404, 111)
    _error(app.get("/v1/openid/basicauth/token", params={"state": "x"}, status=404), 404, 111)


def _state_and_code(app, provider, sub="alice"):
    response = app.get("/v1/openid/mock/login", params={"callback": CALLBACK}, status=307)
    back = parse_qs(urlparse(provider.authorize(response.headers["Location"], sub)).query)
    return back["state"][0], back["code"][0]


def test_a_state_serves_once(app, provider):
    state, code = _state_and_code(app, provider)
    app.get("/v1/openid/mock/token", params={"state": state, "code": code}, status=307)
    replay = app.get("/v1/openid/mock/token", params={"state": state, "code": code}, status=400)
    assert _error(replay, 400, 107)["details"][0]["name"] == "state"


@pytest.mark.parametrize(
    "params, name",
    [
        ({"code": "abc"}, "state"),
        ({"state": "made-up-state-made-up-state", "code": "abc"}, "state"),
        ({"state": "'; DROP TABLE", "code": "abc"}, "state"),
        ({"state": "x" * 5000, "code": "abc"}, "state"),
    ],
)
def test_the_token_view_refuses_an_unknown_state(app, params, name):
    response = app.get("/v1/openid/mock/token", params=params, status=400)
    assert _error(response, 400, 107)["details"][0]["name"] == name


def test_the_token_view_needs_a_code(app, provider):
    state, _code = _state_and_code(app, provider)
    response = app.get("/v1/openid/mock/token", params={"state": state}, status=400)
    assert _error(response, 400, 107)["details"][0]["name"] == "code"


def test_a_code_the_provider_does_not_know_is_refused(app, provider):
    state, _code = _state_and_code(app, provider)
    params = {"state": state, "code": "not-a-code-the-provider-gave"}
    response = app.get("/v1/openid/mock/token", params=params, status=400)
    assert _error(response, 400, 107)["details"][0]["name"] == "code"


def test_a_used_code_is_refused(app, provider):
    state, code = _state_and_code(app, provider)
    app.get("/v1/openid/mock/token", params={"state": state, "code": code}, status=307)
    state_again, _ = _state_and_code(app, provider)
    params = {"state": state_again, "code": code}
    _error(app.get("/v1/openid/mock/token", params=params, status=400), 400, 107)


def test_a_denied_login_is_401(app, provider):
    state, _code = _state_and_code(app, provider)
    params = {"state": state, "error": "access_denied"}
    body = _error(app.get("/v1/openid/mock/token", params=params, status=401), 401, 105)
    assert "access_denied" in body["message"]


def test_the_api_document_describes_the_bearer_scheme(app):
    from openapi_spec_validator import validate

    document = app.get("/v1/__api__").json
    validate(document)
    assert document["components"]["securitySchemes"]["mock"]["type"] == "http"
    assert document["components"]["securitySchemes"]["mock"]["scheme"] == "bearer"
    assert "/openid/{provider}/login" in document["paths"]


def test_a_batch_runs_as_the_token_s_user(app, provider):
    token = bearer(log_in(app, provider, "alice")["access_token"])
    body = {
        "requests": [
            {"method": "POST", "path": "/articles", "body": {"data": {"title": "In a batch"}}},
            {"method": "GET", "path": "/"},
        ]
    }
    responses = app.post_json("/v1/batch", body, headers=token).json["responses"]
    assert [r["status"] for r in responses] == [201, 200]
    assert responses[1]["body"]["user"] == {"id": "mock:alice"}
    created = responses[0]["body"]["data"]["id"]
    assert created in {r["id"] for r in app.get("/v1/articles", headers=token).json["data"]}


def test_a_subrequest_with_its_own_token_is_its_user(app, provider):
    alice = bearer(log_in(app, provider, "alice")["access_token"])
    bob = bearer(provider.tokens("bob")["access_token"])
    body = {
        "requests": [
            {"method": "GET", "path": "/"},
            {"method": "GET", "path": "/", "headers": bob},
        ]
    }
    responses = app.post_json("/v1/batch", body, headers=alice).json["responses"]
    assert [r["body"]["user"]["id"] for r in responses] == ["mock:alice", "mock:bob"]


def test_a_callback_not_allowed_names_the_setting(app):
    params = {"callback": "https://evil.example/#tokens="}
    body = _error(app.get("/v1/openid/mock/login", params=params, status=400), 400, 107)
    assert "multiauth.policy.mock.login_callback_urls" in body["message"]
