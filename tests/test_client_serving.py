"""``/v1/__client__/``: the JavaScript client served by the runtime, from the wheel's files."""

import hashlib
from importlib import resources
from pathlib import Path

import pytest

from cliquet.testing.web import build_app

FILES = ("cliquet-client.js", "cliquet-client.mjs")


def shipped(name):
    return (resources.files("cliquet") / "static" / "client" / name).read_bytes()


@pytest.fixture(scope="module")
def app():
    return build_app()


@pytest.mark.parametrize("name", FILES)
def test_serves_the_built_client(app, name):
    response = app.get(f"/v1/__client__/{name}")
    assert response.status_code == 200
    assert response.content_type == "text/javascript"
    assert response.charset == "utf-8"
    assert response.body == shipped(name)
    assert response.headers["ETag"] == f'"{hashlib.sha256(shipped(name)).hexdigest()[:32]}"'
    assert "max-age" in response.headers["Cache-Control"]


def test_the_bundles_are_the_client(app):
    iife = app.get("/v1/__client__/cliquet-client.js").text
    assert "var cliquet=(()=>{" in iife
    esm = app.get("/v1/__client__/cliquet-client.mjs").text
    assert "export{" in esm and " as Client," in esm


def test_a_known_etag_is_answered_304(app):
    etag = app.get("/v1/__client__/cliquet-client.js").headers["ETag"]
    response = app.get(
        "/v1/__client__/cliquet-client.js", headers={"If-None-Match": etag}, status=304
    )
    assert response.body == b""
    assert response.headers["ETag"] == etag


def test_index_lists_the_files(app):
    body = app.get("/v1/__client__/").json
    assert body["files"] == {name: f"http://localhost/v1/__client__/{name}" for name in FILES}
    assert body["version"]


@pytest.mark.parametrize("name", ["nope.js", "..%2Fsettings.py", "%2e%2e", "index.d.ts"])
def test_other_names_are_json_404(app, name):
    response = app.get(f"/v1/__client__/{name}", status=404)
    assert response.json["errno"] == 111


def test_browsers_accept_header_is_served(app):
    # What a browser sends for a script, and for a page it navigates to.
    for accept in ("*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"):
        app.get("/v1/__client__/cliquet-client.js", headers={"Accept": accept}, status=200)


def test_hello_advertises_the_client(app):
    capability = app.get("/v1/").json["capabilities"]["client"]
    assert capability["url"] == "/v1/__client__/"
    assert capability["files"] == list(FILES)
    assert capability["description"]


def test_a_setting_turns_it_off():
    app = build_app({"cliquet.client_enabled": "false"})
    assert "client" not in app.get("/v1/").json["capabilities"]
    assert app.get("/v1/__client__/cliquet-client.js", status=404).json["errno"] == 111


def test_the_wheel_declares_the_files():
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"static/client/*"' in pyproject


# What a hostile or odd client sends (a review found these held; kept so they keep holding) ---


def test_head_answers_the_headers_without_the_body(app):
    response = app.head("/v1/__client__/cliquet-client.js", status=200)
    assert response.body == b""
    assert response.headers["Content-Length"] == str(len(shipped("cliquet-client.js")))
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "if_none_match, status",
    [
        ("garbage", 200),
        ('W/"not-it"', 200),
        ("\x7f", 200),
        ("*", 304),
        ("W/{etag}", 304),  # weak comparison, as RFC 9110 says of If-None-Match
        ('"a", {etag}, "b"', 304),
    ],
)
def test_if_none_match_forms(app, if_none_match, status):
    etag = app.get("/v1/__client__/cliquet-client.js").headers["ETag"]
    response = app.get(
        "/v1/__client__/cliquet-client.js",
        headers={"If-None-Match": if_none_match.format(etag=etag)},
        status=status,
    )
    assert response.headers["ETag"] == etag


def test_a_range_is_answered_with_the_whole_file(app):
    response = app.get("/v1/__client__/cliquet-client.js", headers={"Range": "bytes=0-9"})
    assert response.status_code == 200 and response.body == shipped("cliquet-client.js")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/v1/__client__/", "/v1/__client__/cliquet-client.js"])
def test_other_methods_are_json_405(app, method, path):
    response = getattr(app, method)(path, status=405)
    assert response.json["errno"] == 115
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path", ["/v1/__client__/..%2f..%2fsetup.py", "/v1/__client__/%2e%2e%2fsetup.py"]
)
def test_encoded_traversal_is_json_404(app, path):
    assert app.get(path, status=404).json["errno"] == 111


def test_a_nul_in_the_name_is_json_400(app):
    assert app.get("/v1/__client__/cliquet-client.js%00", status=400).json["errno"] == 107
