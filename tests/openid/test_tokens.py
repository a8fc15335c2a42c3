"""Which tokens the policy takes, against a real provider: JWTs checked locally, others asked."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from cliquet.testing.web import basic_auth
from tests.openid.conftest import CLIENT_ID, bearer, openid_app


@pytest.fixture(scope="module")
def app(provider):
    return openid_app(provider.issuer, audience=CLIENT_ID, verification_ttl_seconds="0.3")


def refused(app, token, *, errno=105, path="/v1/articles"):
    response = app.get(path, headers=bearer(token), expect_errors=True)
    assert response.status_code == 401, response.text
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno
    return response


def user(app, token):
    return app.get("/v1/", headers=bearer(token)).json.get("user", {}).get("id")


def test_a_token_of_the_provider_is_its_sub(app, provider):
    assert user(app, provider.sign(sub="carol")) == "mock:carol"
    app.get("/v1/articles", headers=bearer(provider.sign(sub="carol")), status=200)


def test_a_refused_token_says_why_in_www_authenticate(app, provider):
    response = refused(app, provider.sign(exp=int(time.time()) - 60))
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_an_expired_token_is_refused(app, provider):
    refused(app, provider.sign(exp=int(time.time()) - 60))


def test_a_token_of_another_audience_is_refused(app, provider):
    refused(app, provider.sign(aud="another-service"))


def test_a_service_of_another_audience_refuses_the_id_token(provider):
    other = openid_app(provider.issuer, audience="another-service")
    refused(other, provider.tokens("alice")["id_token"])


def test_a_token_of_another_issuer_is_not_taken(app, provider):
    token = provider.sign(iss="https://elsewhere.example")
    assert user(app, token) is None
    refused(app, token, errno=104)


def test_a_token_of_another_real_provider_is_not_taken(app, provider):
    import oidc_provider_mock

    from tests.openid.conftest import LoopbackProvider, serve_in_thread

    with serve_in_thread(oidc_provider_mock.app()) as url:
        token = LoopbackProvider(url).tokens("alice")["id_token"]
    refused(app, token, errno=104)


def test_a_token_signed_by_another_key_is_refused(app, provider):
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(app, provider.sign(key=stranger))


def test_alg_none_is_refused(app, provider):
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    claims = json.dumps({"iss": provider.issuer, "aud": CLIENT_ID, "sub": "mallory",
                         "exp": int(time.time()) + 600}).encode()  # fmt: skip
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    refused(app, f"{header}.{payload}.")


def test_hs256_keyed_by_the_public_key_is_refused(app, provider):
    public = jwt.PyJWK(provider.private_key(), algorithm="RS256").key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "mallory",
              "exp": int(time.time()) + 600}  # fmt: skip
    # pyjwt refuses to sign with a PEM as an HMAC secret: build the token by hand.
    import hashlib
    import hmac

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    refused(app, f"{signing_input}.{b64(signature)}")


@pytest.mark.parametrize("typ", ["JWE", "logout+jwt", "secevent+jwt", 7])
def test_a_token_of_another_type_is_refused(app, provider, typ):
    refused(app, provider.sign(headers={"typ": typ}))


def test_access_token_jwts_are_taken(app, provider):
    assert user(app, provider.sign(headers={"typ": "at+jwt"})) == "mock:alice"


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "opaque-token-the-provider-never-gave",
        "x" * 9000,
        "to ken",
        "tök€n",
        "a" * 100 + "\x00",
    ],
)
def test_malformed_tokens_are_refused(app, token):
    refused(app, token)


def test_an_empty_bearer_is_refused(app):
    response = app.get("/v1/", headers={"Authorization": "Bearer "}, expect_errors=True)
    assert (response.status_code, response.json["errno"]) == (401, 105)


def test_claims_that_are_no_user_id_are_refused(app, provider):
    for sub in (None, "", "   ", "a\nb", "x" * 300, True, ["alice"], {"id": 1}):
        refused(app, provider.sign(sub=sub))


def test_a_token_without_expiry_is_refused(app, provider):
    refused(app, provider.sign(exp=None))


def test_a_token_not_yet_valid_is_refused(app, provider):
    refused(app, provider.sign(nbf=int(time.time()) + 600))


def test_an_unknown_kid_is_refused(app, provider):
    refused(app, provider.sign(headers={"kid": "no-such-key"}))


def test_a_token_naming_its_kid_is_taken(app, provider):
    key = provider.private_key()
    assert user(app, provider.sign(key=key, headers={"kid": key["kid"]})) == "mock:alice"


def test_key_rotation(app, provider):
    before = provider.private_key()
    assert user(app, provider.sign(key=before, sub="dave")) == "mock:dave"
    after = provider.rotate()
    assert after["kid"] != before["kid"]
    # Tokens of the new key, without kid (as the provider issues them) and with it.
    assert user(app, provider.tokens("erin")["id_token"]) == "mock:erin"
    assert user(app, provider.sign(key=after, headers={"kid": after["kid"]})) == "mock:alice"
    # The old key is gone from the provider's set: a new token of it is refused.
    refused(app, provider.sign(key=before, sub="frank"))
    refused(app, provider.sign(key=before, sub="frank", headers={"kid": before["kid"]}))


def test_basic_auth_still_works_beside(app):
    userid = app.get("/v1/", headers=basic_auth("alice")).json["user"]["id"]
    assert userid.startswith("basicauth:")


# Opaque access tokens: the provider's userinfo, and introspection --------------------------


def test_a_revoked_token_is_refused_once_the_ttl_passed(app, provider):
    token = provider.tokens("grace")["access_token"]
    assert user(app, token) == "mock:grace"
    provider.revoke("grace")
    assert user(app, token) == "mock:grace"  # still the cached answer
    time.sleep(0.35)
    refused(app, token)


def test_the_userinfo_answer_is_cached(app, provider, provider_calls):
    token = provider.tokens("heidi")["access_token"]
    for _ in range(3):
        assert user(app, token) == "mock:heidi"
    assert [url for url in provider_calls if url.endswith("/userinfo")] == [
        provider.metadata["userinfo_endpoint"]
    ]


def test_the_cache_holds_no_token(app, provider):
    token = provider.tokens("ivan")["access_token"]
    cache = app.app.registry.cache
    written = []
    original = cache.set

    def recording(key, value, ttl=None):
        written.append((key, value))
        return original(key, value, ttl=ttl)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache, "set", recording)
        assert user(app, token) == "mock:ivan"
    assert ("mock:ivan" in repr(written)) and token not in repr(written)


def test_userid_field_picks_another_claim(provider):
    by_email = openid_app(provider.issuer, userid_field="email")
    token = provider.tokens("alice")["access_token"]
    assert user(by_email, token) == "mock:alice@example.com"


def test_introspection_when_asked(provider):
    introspecting = openid_app(
        provider.issuer, introspect="true", verification_ttl_seconds="0", audience=CLIENT_ID
    )
    token = provider.tokens("judy")["access_token"]
    assert user(introspecting, token) == "mock:judy"
    provider.revoke("judy")
    refused(introspecting, token)
    refused(introspecting, "never-issued")


def test_another_header_type(provider):
    app = openid_app(provider.issuer, header_type="Token")
    token = provider.tokens("alice")["access_token"]
    assert app.get("/v1/", headers={"Authorization": f"Token {token}"}).json["user"] == {
        "id": "mock:alice"
    }
    # A bearer header is not this policy's.
    app.get("/v1/articles", headers=bearer(token), status=401)


def test_two_providers_side_by_side(provider):
    from tests.openid.conftest import policy_settings

    app = openid_app(
        provider.issuer,
        policies="first second",
        name="first",
        audience=CLIENT_ID,
        extra=policy_settings(provider.issuer.replace("127.0.0.1", "localhost"), "second",
                              audience=CLIENT_ID),
    )  # fmt: skip
    assert user(app, provider.sign()) == "first:alice"
    second_issuer = provider.issuer.replace("127.0.0.1", "localhost")
    assert user(app, provider.sign(iss=second_issuer)) == "second:alice"


def test_unknown_kids_refetch_the_keys_at_most_once_per_period(provider, provider_calls):
    app = openid_app(provider.issuer, audience=CLIENT_ID, jwks_refresh_seconds="60")
    for index in range(5):
        refused(app, provider.sign(headers={"kid": f"forged-{index}"}))
    # Once to know them, once anew for the first unknown kid; the others wait the period.
    assert provider_calls.count(provider.metadata["jwks_uri"]) == 2
