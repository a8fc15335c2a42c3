"""Settings: a weak secret with basic auth refuses to start; a policy's own are checked."""

import secrets

import pytest
from pyramid.exceptions import ConfigurationError

from cliquet.authentication import weak_userid_hmac_secret
from cliquet.testing.web import build_app
from tests.openid.conftest import policy_settings

REQUIRED = {"cliquet.userid_hmac_secret_required": "true"}


@pytest.mark.parametrize(
    "secret, problem",
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("...", "placeholder"),
        ("changeme", "placeholder"),
        ("CHANGE-ME", "placeholder"),
        ("short", "shorter than 16"),
        ("a" * 32, "too few distinct characters"),
        ("abab" * 8, "too few distinct characters"),
        ("12341234123412341234", "too few distinct characters"),
    ],
)
def test_basic_auth_with_a_weak_secret_does_not_start(secret, problem):
    with pytest.raises(ConfigurationError, match=problem) as error:
        build_app({**REQUIRED, "cliquet.userid_hmac_secret": secret})
    assert "cliquet.userid_hmac_secret" in str(error.value)


def test_basic_auth_beside_a_provider_needs_the_secret_too():
    settings = {
        **REQUIRED,
        "cliquet.userid_hmac_secret": "",
        "multiauth.policies": "mock basicauth",
        **policy_settings("https://accounts.example.com"),
    }
    with pytest.raises(ConfigurationError, match="userid_hmac_secret"):
        build_app(settings)


def test_a_long_secret_starts():
    app = build_app({**REQUIRED, "cliquet.userid_hmac_secret": secrets.token_urlsafe(24)})
    assert app.get("/v1/").status_code == 200


def test_a_provider_alone_needs_no_secret():
    settings = {
        **REQUIRED,
        "cliquet.userid_hmac_secret": "",
        "multiauth.policies": "mock",
        **policy_settings("https://accounts.example.com"),
    }
    assert build_app(settings).get("/v1/").status_code == 200


def test_without_the_requirement_an_empty_secret_only_warns():
    basic = "cliquet.authentication.BasicAuthAuthenticationPolicy"
    settings = {"multiauth.policies": "basicauth", "multiauth.policy.basicauth.use": basic}
    assert weak_userid_hmac_secret(settings) == "is empty"
    assert weak_userid_hmac_secret({**settings, "cliquet.userid_hmac_secret": "..."}) is None
    assert build_app({"cliquet.userid_hmac_secret": ""}).get("/v1/").status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": ""},
        {"issuer": "accounts.example.com"},
        {"verification_ttl_seconds": "soon"},
        {"verification_ttl_seconds": "-1"},
        {"timeout_seconds": "0"},
        {"timeout_seconds": "nan"},
        {"header_type": "Bad Type"},
        {"userid_field": " "},
        {"issuer_url": "https://typo.example.com"},
    ],
)
def test_a_wrong_policy_setting_stops_start_up(options):
    settings = {"multiauth.policies": "mock", **policy_settings("https://a.example.com")}
    settings.update({f"multiauth.policy.mock.{k}": v for k, v in options.items()})
    with pytest.raises(ConfigurationError, match="OpenIDConnectPolicy"):
        build_app(settings)


def test_the_client_secret_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MULTIAUTH_POLICY_MOCK_CLIENT_SECRET", "from-the-environment")
    settings = {"multiauth.policies": "mock", **policy_settings("https://a.example.com")}
    app = build_app({**settings, "multiauth.policy.mock.client_secret": ""})
    from pyramid.interfaces import ISecurityPolicy

    policy = app.app.registry.queryUtility(ISecurityPolicy).get_policy("mock")
    assert policy.client_secret == "from-the-environment"
