"""A real OpenID Connect provider on loopback (oidc-provider-mock), and services using it.

The provider runs in a thread of the test process, one per test module. Beside the
provider's own endpoints (discovery, JWKS, authorize, token, userinfo), the test hooks under
``/test/`` hand out its private key (to sign tokens it never issued: expired, of another
audience, with a ``kid``), rotate its key, and answer RFC 7662 introspection, which the mock
does not offer by itself.
"""

import contextlib
import pathlib
import socket
import threading
import warnings
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlparse

import flask
import jwt
import pytest
import requests
import werkzeug.serving

from cliquet.testing.web import build_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import oidc_provider_mock
    from authlib import jose
    from oidc_provider_mock._storage import User, storage

HERE = pathlib.Path(__file__).parent
CLIENT_ID = "cliquet-test"
CLIENT_SECRET = "client-secret"
CALLBACK = "https://app.example/login#tokens="
POLICY = "cliquet.authentication.openid.OpenIDConnectPolicy"


def pytest_collection_modifyitems(items):
    """The mock and authlib warn of their own deprecations on every request: not ours."""
    for item in items:
        if HERE in pathlib.Path(item.path).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore:.*deprecated"))


@contextlib.contextmanager
def serve_in_thread(app):
    """Serve the WSGI ``app`` on a free loopback port; yields its base URL."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


def _add_test_hooks(app):
    def private_key():
        return flask.jsonify(storage.jwk.as_dict(is_private=True))

    def rotate():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage.jwk = jose.RSAKey.generate_key(is_private=True)
        return flask.jsonify(storage.jwk.as_dict(is_private=True))

    def introspect():
        # RFC 7662: the client authenticates; any token, known or not, is answered 200.
        if flask.request.authorization is None:
            return flask.jsonify({"error": "invalid_client"}), 401
        token = storage.get_access_token(flask.request.form.get("token", ""))
        if token is None or token.expires_at < datetime.now(timezone.utc):
            return flask.jsonify({"active": False})
        return flask.jsonify(
            {
                "active": True,
                "sub": token.user_id,
                "scope": token.scope,
                "exp": int(token.expires_at.timestamp()),
                "iss": flask.request.host_url.rstrip("/"),
            }
        )

    discovery = app.view_functions["oidc-provider-mock.openid_config"]

    def discovery_with_introspection():
        document = discovery().get_json()
        document["introspection_endpoint"] = flask.request.host_url + "test/introspect"
        return flask.jsonify(document)

    app.add_url_rule("/test/private-key", "test_private_key", private_key)
    app.add_url_rule("/test/rotate", "test_rotate", rotate, methods=["POST"])
    app.add_url_rule("/test/introspect", "test_introspect", introspect, methods=["POST"])
    app.view_functions["oidc-provider-mock.openid_config"] = discovery_with_introspection


class LoopbackProvider:
    """The provider as a test drives it: log users in, sign tokens, rotate keys, revoke."""

    def __init__(self, url):
        self.issuer = url
        self.metadata = requests.get(f"{url}/.well-known/openid-configuration", timeout=5).json()

    def authorize(self, authorization_url, sub):
        """The user ``sub`` consents at the provider: the redirection it answers."""
        response = requests.post(
            authorization_url, data={"sub": sub}, allow_redirects=False, timeout=5
        )
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def tokens(self, sub, *, redirect_uri="https://app.example/cb"):
        """The token answer of a login of ``sub``, obtained without the service's views."""
        query = urlencode(
            {
                "client_id": CLIENT_ID,
                "response_type": "code",
                "scope": "openid email",
                "redirect_uri": redirect_uri,
                "state": "s" * 20,
            }
        )
        location = self.authorize(f"{self.metadata['authorization_endpoint']}?{query}", sub)
        code = parse_qs(urlparse(location).query)["code"][0]
        response = requests.post(
            self.metadata["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def private_key(self):
        return requests.get(f"{self.issuer}/test/private-key", timeout=5).json()

    def rotate(self):
        """A new signing key; returns it (a private JWK with its ``kid``)."""
        return requests.post(f"{self.issuer}/test/rotate", timeout=5).json()

    def revoke(self, sub):
        requests.post(f"{self.issuer}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()

    def sign(self, claims=None, *, key=None, headers=None, algorithm="RS256", **overrides):
        """A JWT of the provider's key (or ``key``) with sensible claims, and ``overrides``."""
        now = int(datetime.now(timezone.utc).timestamp())
        payload = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "alice",
            "iat": now,
            "exp": now + 600,
            **(claims or {}),
            **overrides,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        jwk = key or self.private_key()
        signing_key = jwt.PyJWK(jwk, algorithm=algorithm).key if isinstance(jwk, dict) else jwk
        return jwt.encode(payload, signing_key, algorithm=algorithm, headers=headers)


@pytest.fixture(scope="module")
def provider():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = oidc_provider_mock.app(
            user_claims=[
                User(sub="alice", claims={"email": "alice@example.com"}),
                User(sub="bob", claims={}),
            ]
        )
    _add_test_hooks(app)
    with serve_in_thread(app) as url:
        yield LoopbackProvider(url)


def policy_settings(issuer, name="mock", **options):
    settings = {
        f"multiauth.policy.{name}.use": POLICY,
        f"multiauth.policy.{name}.issuer": issuer,
        f"multiauth.policy.{name}.client_id": CLIENT_ID,
        f"multiauth.policy.{name}.client_secret": CLIENT_SECRET,
        f"multiauth.policy.{name}.login_callback_urls": "https://app.example/login*",
        f"multiauth.policy.{name}.timeout_seconds": "2",
        f"multiauth.policy.{name}.jwks_refresh_seconds": "0",
    }
    settings.update({f"multiauth.policy.{name}.{k}": str(v) for k, v in options.items()})
    return settings


def openid_app(issuer, *, policies="mock basicauth", name="mock", extra=None, **options):
    """The resource test service (``/v1/articles``) taking the provider's tokens."""
    settings = {
        "multiauth.policies": policies,
        "cliquet.includes": "cliquet.authentication.openid",
        **policy_settings(issuer, name, **options),
        **(extra or {}),
    }
    return build_app(settings, setup=lambda config: config.scan("tests.resource.testapp"))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def free_port():
    """A loopback port nothing listens on (the provider is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def provider_calls():
    """The URLs the policies ask of providers during a test, in order."""
    from cliquet.authentication.openid.provider import Provider

    seen = []
    original = Provider.call

    def counting(self, method, url, **kwargs):
        seen.append(url)
        return original(self, method, url, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Provider, "call", counting)
        yield seen
