"""A provider that is down, slow or answers garbage: 503 errno 201, never 500 nor 401."""

import json
import socket
from urllib.parse import parse_qs, urlparse

import pytest
from pyramid.interfaces import ISecurityPolicy

from cliquet.testing.web import basic_auth
from tests.openid.conftest import CALLBACK, CLIENT_ID, bearer, openid_app, serve_in_thread


def unavailable(response):
    assert response.status_code == 503, response.text
    assert response.content_type == "application/json"
    assert response.json["errno"] == 201
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text


def _garbage_provider(environ, start_response):
    """A provider whose every answer is wrong in the way its first path segment names."""
    mode, _, rest = environ["PATH_INFO"].strip("/").partition("/")
    base = f"http://{environ['HTTP_HOST']}/{mode}"
    document = {
        "issuer": base,
        "jwks_uri": f"{base}/jwks",
        "userinfo_endpoint": f"{base}/userinfo",
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
    }
    status, body = "200 OK", json.dumps({"keys": []}).encode()
    if rest == ".well-known/openid-configuration":
        if mode == "wrong-issuer":
            document["issuer"] = "https://elsewhere.example"
        if mode == "no-jwks":
            del document["jwks_uri"]
        if mode == "bad-endpoint":
            document["userinfo_endpoint"] = "file:///etc/passwd"
        if mode == "huge":  # a valid document, but of 2 MiB
            document["padding"] = "x" * (2 << 20)
        body = {
            "html": b"<html>Service Unavailable</html>",
            "list": b"[]",
            "500": b"{}",
        }.get(mode, json.dumps(document).encode())
        if mode == "500":
            status = "500 Internal Server Error"
    elif rest == "jwks" and mode == "jwks-garbage":
        body = b'{"keys": "none"}'
    elif rest == "userinfo":
        body = {"userinfo-garbage": b"nope", "userinfo-list": b"[]"}.get(mode, b"{}")
        if mode == "userinfo-500":
            status = "502 Bad Gateway"
    elif rest == "token":
        body = {"token-garbage": b"nope", "token-no-access": b'{"id_token": "x"}'}.get(mode, b"")
    start_response(status, [("Content-Type", "application/json")])
    return [body]


@pytest.fixture(scope="module")
def garbage():
    with serve_in_thread(_garbage_provider) as url:
        yield url


@pytest.fixture(scope="module")
def silent():
    """A provider that takes connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_start_up_needs_no_provider(free_port):
    app = openid_app(f"http://127.0.0.1:{free_port}")
    assert "user" not in app.get("/v1/").json
    assert app.get("/v1/", headers=basic_auth()).json["user"]["id"].startswith("basicauth:")


@pytest.mark.parametrize("audience", ["", CLIENT_ID])
def test_a_provider_that_is_down_is_503(free_port, audience):
    app = openid_app(f"http://127.0.0.1:{free_port}", audience=audience)
    unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))
    unavailable(app.get("/v1/", headers=bearer("a.b.c"), expect_errors=True))


def test_a_provider_that_never_answers_is_503(silent):
    app = openid_app(silent, timeout_seconds="0.2")
    unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))


@pytest.mark.parametrize(
    "mode",
    [
        "html",
        "huge",
        "list",
        "500",
        "wrong-issuer",
        "no-jwks",
        "bad-endpoint",
        "userinfo-garbage",
        "userinfo-list",
        "userinfo-500",
    ],
)
def test_a_provider_answering_garbage_is_503(garbage, mode):
    app = openid_app(f"{garbage}/{mode}")
    unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))


def test_a_key_set_that_is_garbage_is_503(garbage, provider):
    app = openid_app(f"{garbage}/jwks-garbage", audience=CLIENT_ID)
    token = provider.sign(iss=f"{garbage}/jwks-garbage")
    unavailable(app.get("/v1/articles", headers=bearer(token), expect_errors=True))


def test_the_login_view_with_the_provider_down_is_503(free_port):
    app = openid_app(f"http://127.0.0.1:{free_port}")
    response = app.get("/v1/openid/mock/login", params={"callback": CALLBACK}, status=503)
    unavailable(response)


@pytest.mark.parametrize("mode", ["token-garbage", "token-no-access"])
def test_a_token_endpoint_answering_garbage_is_503(garbage, mode):
    app = openid_app(f"{garbage}/{mode}")
    response = app.get("/v1/openid/mock/login", params={"callback": CALLBACK}, status=307)
    state = parse_qs(urlparse(response.headers["Location"]).query)["state"][0]
    params = {"state": state, "code": "a-code"}
    unavailable(app.get("/v1/openid/mock/token", params=params, status=503))


def test_the_provider_back_up_is_used_again(provider):
    """Nothing of an outage is kept: the first answer after it is taken."""
    from tests.openid.conftest import LoopbackProvider

    app = openid_app(provider.issuer)
    token = LoopbackProvider(provider.issuer).tokens("alice")["access_token"]
    from cliquet.authentication.openid.provider import Provider, ProviderUnavailable

    def down(self, method, url, **kwargs):
        raise ProviderUnavailable("down")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Provider, "call", down)
        unavailable(app.get("/v1/", headers=bearer(token), expect_errors=True))
    assert app.get("/v1/", headers=bearer(token)).json["user"] == {"id": "mock:alice"}


@pytest.mark.parametrize("path", ["/v1/", "/v1/articles"])
def test_a_request_asks_a_failing_provider_once(free_port, path):
    """Whoever asks who the user is after the first failure (logs, error views) is told the
    same: a provider that hangs costs one timeout per request, not one per question."""
    from cliquet.authentication.openid.provider import Provider, ProviderUnavailable

    app = openid_app(f"http://127.0.0.1:{free_port}")
    calls = []

    def down(self, method, url, **kwargs):
        calls.append(url)
        raise ProviderUnavailable("down")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Provider, "call", down)
        unavailable(app.get(path, headers=bearer("a-token"), expect_errors=True))
    assert len(calls) == 1


@pytest.fixture(scope="module")
def trickling():
    """A provider that answers each request with a valid discovery document, a byte at a
    time over about 1.5 s: within every read's timeout, past any sane bound of the whole."""
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    document = json.dumps(
        {
            "issuer": base,
            "jwks_uri": f"{base}/jwks",
            "userinfo_endpoint": f"{base}/userinfo",
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
        }
    ).encode()

    outcomes = []

    def answer(connection):
        with connection:
            connection.recv(65536)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(document)}\r\nConnection: close\r\n\r\n"
            connection.sendall(head.encode())
            pause = 1.5 / len(document)
            try:
                for index in range(len(document)):
                    connection.sendall(document[index : index + 1])
                    time.sleep(pause)
            except OSError:
                outcomes.append("cut")  # the client gave up: what the test wants
            else:
                outcomes.append("whole")

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield base, outcomes
    listener.close()


def test_a_provider_trickling_its_answer_is_cut_off(trickling):
    import time

    base, outcomes = trickling
    app = openid_app(base, timeout_seconds="0.3")
    unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))
    for _ in range(60):  # until the provider's thread notices the client is gone
        if outcomes:
            break
        time.sleep(0.05)
    assert outcomes == ["cut"]


def _encoded_answers(environ, start_response):
    document = json.dumps({"padding": "x" * 50000}).encode()
    if environ["PATH_INFO"] == "/gzip":
        import gzip

        start_response("200 OK", [("Content-Encoding", "gzip")])
        return [gzip.compress(document)]
    start_response("200 OK", [("Content-Type", "application/json")])
    return (document[i : i + 1000] for i in range(0, len(document), 1000))  # chunked


@pytest.mark.parametrize("path", ["/chunked", "/gzip"])
def test_chunked_and_compressed_answers_are_read(path):
    from cliquet.authentication.openid.provider import Provider

    with serve_in_thread(_encoded_answers) as url:
        provider = Provider(
            url, cache_prefix="t:", timeout_seconds=2, metadata_ttl_seconds=1,
            jwks_refresh_seconds=0,
        )  # fmt: skip
        status, value = provider.call("GET", url + path)
    assert (status, len(value["padding"])) == (200, 50000)


def test_a_provider_that_timed_out_is_not_waited_for_again_at_once(silent, monkeypatch):
    """Every request waiting out the timeout would hold every thread of the service (basic
    auth and anonymous requests too): after a timeout, the provider is not asked again for
    ``timeout_seconds``, requests are answered 503 at once."""
    import time

    import requests

    app = openid_app(silent, timeout_seconds="0.2")
    asked = []
    original = requests.request

    def counting(*args, **kwargs):
        asked.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(requests, "request", counting)
    for _ in range(5):
        unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))
    assert len(asked) == 1
    app.get("/v1/", headers=basic_auth(), status=200)
    time.sleep(0.25)  # the window is timeout_seconds: then the provider is asked again
    unavailable(app.get("/v1/articles", headers=bearer("a-token"), expect_errors=True))
    assert len(asked) == 2


def test_jwts_are_verified_with_the_keys_known_while_the_provider_is_down(provider):
    """Discovery and keys past their TTL, the provider down: the last ones known still verify
    tokens locally (a JWT needs no provider), the userinfo path is 503."""
    from cliquet.authentication.openid.provider import Provider, ProviderUnavailable

    app = openid_app(provider.issuer, audience=CLIENT_ID)
    token = provider.sign(sub="olivia")
    assert app.get("/v1/", headers=bearer(token)).json["user"] == {"id": "mock:olivia"}
    cache = app.app.registry.cache
    policy = app.app.registry.queryUtility(ISecurityPolicy).get_policy("mock")
    for name in ("metadata", "jwks"):  # as if metadata_ttl_seconds had passed
        cache.delete(f"{policy.cache_prefix}{name}")

    def down(self, method, url, **kwargs):
        raise ProviderUnavailable("down")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Provider, "call", down)
        another = provider.sign(sub="paul")
        assert app.get("/v1/", headers=bearer(another)).json["user"] == {"id": "mock:paul"}
        # A kid nobody knows needs the provider: it cannot say, 503.
        forged = provider.sign(sub="quentin", headers={"kid": "rotated-meanwhile"})
        unavailable(app.get("/v1/", headers=bearer(forged), expect_errors=True))
        unavailable(app.get("/v1/", headers=bearer("an-opaque-token"), expect_errors=True))
