"""Hostile clients, careless operators, broken providers: what the OpenID Connect policy does.

Each test is a class of attack found by a review of the policy and its login views.
"""

import pytest
from pyramid.exceptions import ConfigurationError

from cliquet.testing.web import build_app
from tests.openid.conftest import policy_settings


def _settings(**options):
    settings = {"multiauth.policies": "mock", **policy_settings("https://a.example.com")}
    settings.update({f"multiauth.policy.mock.{k}": v for k, v in options.items()})
    return settings


# Settings an operator gets wrong: refused at start-up, never a failure at request time -------


@pytest.mark.parametrize(
    "options",
    [
        {"verification_ttl_seconds": "inf"},
        {"timeout_seconds": "inf"},
        {"timeout_seconds": "1e400"},
        {"metadata_ttl_seconds": "Infinity"},
        {"state_ttl_seconds": "inf"},
        {"jwks_refresh_seconds": "inf"},
        {"issuer": "https://"},
        {"issuer": "https:///path"},
        {"issuer": "https://exa mple.com"},
        {"issuer": "https://a.example.com/?x=1"},
        {"issuer": "https://a.example.com/#frag"},
        {"issuer": "https://user@a.example.com"},
        {"introspect": "maybe"},
        {"login_callback_urls": "*"},
        {"login_callback_urls": "https://*"},
        {"login_callback_urls": "app.example.com/*"},
        {"login_callback_urls": "https://app.example.com@evil.example/*"},
        {"login_callback_urls": "https://app.example.com\\*"},
    ],
)
def test_a_wrong_setting_stops_start_up(options):
    with pytest.raises(ConfigurationError, match="OpenIDConnectPolicy") as error:
        build_app(_settings(**options))
    assert next(iter(options)) in str(error.value)


@pytest.mark.parametrize(
    "patterns",
    [
        "https://app.example.com/*",
        "https://*.example.com/login#tokens=",
        "http://localhost:*/cb*",
        "https://app.example.com/a https://b.example.com:8443/*",
    ],
)
def test_callback_patterns_that_start(patterns):
    assert build_app(_settings(login_callback_urls=patterns)).get("/v1/").status_code == 200


# Login callbacks: tokens only ever go to the hosts the settings name --------------------------


@pytest.fixture(scope="module")
def wildcard_app(provider):
    from tests.openid.conftest import openid_app

    return openid_app(
        provider.issuer,
        login_callback_urls="https://*.example.com/* http://localhost:*/cb*",
    )


@pytest.mark.parametrize(
    "callback",
    [
        "https://evil.test/x.example.com/",
        "https://evil.test?.example.com/",
        "https://evil.test#.example.com/",
        "https://evil.test\\.example.com/",
        "https://app.example.com\\@evil.test/",
        "https://evil.test\\@app.example.com/",
        "https://a@evil.test/.example.com/",
        "https://app.example.com@evil.test/",
        "https://app.example.com:@evil.test/",
        "https://evil.test%2f.example.com/",
        "https://evil.test:443.example.com/",
        "https://%65vil.example.com/",
        "https://.example.com/",
        "http://app.example.com/",
        "http://localhost:8000@evil.test/cb",
        "http://localhost:80:80/cb",
        "//evil.test/.example.com/",
    ],
)
def test_a_callback_to_another_host_is_refused(wildcard_app, callback):
    response = wildcard_app.get(
        "/v1/openid/mock/login", params={"callback": callback}, expect_errors=True
    )
    assert response.status_code == 400, callback
    assert response.json["errno"] == 107
    assert response.json["details"][0]["name"] == "callback"


@pytest.mark.parametrize(
    "callback",
    [
        "https://app.example.com/#tokens=",
        "https://APP.Example.com/login?x=1#tokens=",
        "https://a.b.example.com/",
        "http://localhost:5173/cb#t=",
    ],
)
def test_a_callback_the_patterns_allow_is_taken(wildcard_app, callback):
    response = wildcard_app.get("/v1/openid/mock/login", params={"callback": callback})
    assert response.status_code == 307
