"""A hostile client and a browser against media types, public URLs and JSON Patch.

Through HTTP only, on every storage backend of the resource test service: what each attack
gets back, and that it changed nothing it should not have.
"""

import json
import time

import pytest

# The resource test service's fixtures (app, make_resource_app, alice, bob), per backend.
from tests.resource.conftest import *  # noqa: F403

ARTICLES = "/v1/articles"
NOTES = "/v1/notes"
JSON_PATCH = "application/json-patch+json"


def assert_error(response, status, errno):
    assert response.status_code == status, response.body
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno
    return response.json


def user_id(app, auth):
    return app.get("/v1/", headers=auth).json["user"]["id"]


# Media types: a JSON body is UTF-8, whatever it says ---------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin-1",
        "application/json;charset=UTF-16",
        "application/json; charset=ascii",
    ],
)
def test_a_json_body_declared_in_another_charset_is_415(app, alice, content_type):
    # RFC 8259: JSON exchanged between systems is UTF-8. Reading a latin-1 body as UTF-8
    # would store other text than the client sent.
    body = json.dumps({"data": {"title": "é"}}, ensure_ascii=False).encode("latin-1")
    response = app.post(
        ARTICLES, body, headers={**alice, "Content-Type": content_type}, expect_errors=True
    )
    details = assert_error(response, 415, 107)["details"]
    assert details[0]["name"] == "Content-Type"
    assert app.get(ARTICLES, headers=alice).json["data"] == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
    ],
)
def test_a_json_body_declared_utf8_is_accepted(app, alice, content_type):
    body = json.dumps({"data": {"title": "é"}}).encode()
    response = app.post(ARTICLES, body, headers={**alice, "Content-Type": content_type})
    assert response.status_code == 201
    assert response.json["data"]["title"] == "é"


def test_method_override_headers_do_not_change_the_method(app, alice):
    record = app.post_json(ARTICLES, {"data": {"title": "kept"}}, headers=alice).json["data"]
    url = f"{ARTICLES}/{record['id']}"
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        app.get(url, headers={**alice, header: "DELETE"}, status=200)
    app.get(url, headers=alice, status=200)


# Host: never written back unless it is a host -------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "a@evil.example",
        "evil.example/path",
        "evil.example\\x",
        "evil example",
        "evil.example:port",
        "[::1",
    ],
)
def test_a_host_header_that_is_not_a_host_is_400(app, host):
    # Without cliquet.http_host the request's Host names the service in absolute URLs;
    # one that is not a host[:port] would put the client's text in them (RFC 9112: 400).
    for path in ("/v1/", "/"):
        response = app.get(path, headers={"Host": host}, expect_errors=True)
        body = assert_error(response, 400, 107)
        assert body["details"][0] == {
            "location": "header",
            "name": "Host",
            "description": "Must be a host name or address, with an optional port.",
        }
        assert "Location" not in response.headers


@pytest.mark.parametrize(
    "host", ["api.example.com", "api.example.com:8443", "127.0.0.1:8000", "[::1]:8080"]
)
def test_a_valid_host_header_names_the_service(app, host):
    assert app.get("/v1/", headers={"Host": host}).json["url"] == f"http://{host}/v1/"


def test_with_a_public_host_the_request_host_is_ignored(make_resource_app):
    app = make_resource_app({"cliquet.http_host": "api.example.com"})
    response = app.get("/v1/", headers={"Host": "a@evil.example"})
    assert response.json["url"] == "http://api.example.com/v1/"


@pytest.mark.parametrize("path", ["//evil.example/path", "//evil.example/", "/\\evil.example/"])
def test_redirects_stay_on_the_service(app, path):
    response = app.get(path, headers={"Host": "api.example.com"}, expect_errors=True)
    if response.status_code in (301, 302, 307, 308):
        assert response.headers["Location"].startswith("http://api.example.com/v1/")


# JSON Patch: a patch costs what it carries -------------------------------------------------


@pytest.fixture
def note_url(app, alice):
    created = app.post_json(NOTES, {"data": {"text": "t"}}, headers=alice).json["data"]
    return f"{NOTES}/{created['id']}"


def json_patch(app, url, operations, auth, **kwargs):
    body = json.dumps(operations).encode()
    return app.patch(url, body, headers={**auth, "Content-Type": JSON_PATCH}, **kwargs)


def test_a_patch_doubling_a_value_is_refused_quickly(app, alice, note_url):
    operations = [{"op": "add", "path": "/data/a", "value": list(range(8))}]
    operations += [{"op": "copy", "from": "/data/a", "path": "/data/a/0"} for _ in range(40)]
    started = time.monotonic()
    response = json_patch(app, note_url, operations, alice, expect_errors=True)
    assert time.monotonic() - started < 5
    assert assert_error(response, 400, 109)["details"][0]["location"] == "body"
    assert "a" not in app.get(note_url, headers=alice).json["data"]


def test_a_patch_moving_a_value_back_and_forth_is_bounded(app, alice, note_url):
    big = {str(i): i for i in range(2000)}
    operations = [{"op": "add", "path": "/data/a", "value": big}]
    operations += [
        {"op": "move", "from": source, "path": target}
        for _ in range(2000)
        for source, target in (("/data/a", "/data/b/c"), ("/data/b/c", "/data/a"))
    ]
    operations.insert(1, {"op": "add", "path": "/data/b", "value": {}})
    response = json_patch(app, note_url, operations, alice, expect_errors=True)
    assert_error(response, 400, 109)


def test_copying_a_field_once_is_within_the_budget(app, alice, note_url):
    value = {str(i): i for i in range(100)}
    operations = [
        {"op": "add", "path": "/data/a", "value": value},
        {"op": "copy", "from": "/data/a", "path": "/data/b"},
        {"op": "move", "from": "/data/b", "path": "/data/c"},
    ]
    data = json_patch(app, note_url, operations, alice).json["data"]
    assert data["a"] == data["c"] == value
    assert "b" not in data


def test_a_patch_cannot_nest_deeper_than_a_body_may(app, alice, note_url):
    operations, path = [{"op": "add", "path": "/data/a", "value": {}}], "/data/a"
    for _ in range(70):
        path += "/x"
        operations.append({"op": "add", "path": path, "value": {}})
    response = json_patch(app, note_url, operations, alice, expect_errors=True)
    assert_error(response, 400, 109)
    assert "a" not in app.get(note_url, headers=alice).json["data"]


def test_copies_cannot_nest_deeper_than_a_body_may(app, alice, note_url):
    nested = {}
    for _ in range(40):
        nested = {"x": nested}
    operations = [
        {"op": "add", "path": "/data/a", "value": nested},
        {
            "op": "copy",
            "from": "/data/a",
            "path": "/data/a/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x",
        },
    ]
    response = json_patch(app, note_url, operations, alice, expect_errors=True)
    assert_error(response, 400, 109)


@pytest.mark.parametrize(
    "stored, tested",
    [
        (True, 1),
        (False, 0),
        (1, True),
        (0, False),
        ("1", 1),
        ([True], [1]),
        ({"a": 1}, {"a": True}),
    ],
)
def test_the_test_operation_compares_json_types(app, alice, note_url, stored, tested):
    operations = [
        {"op": "add", "path": "/data/v", "value": stored},
        {"op": "test", "path": "/data/v", "value": tested},
    ]
    response = json_patch(app, note_url, operations, alice, expect_errors=True)
    # A failed test: the patch does not apply to the record (RFC 5789 section 2.2).
    assert_error(response, 409, 122)
    assert "v" not in app.get(note_url, headers=alice).json["data"]


def test_the_test_operation_takes_equal_numbers(app, alice, note_url):
    operations = [
        {"op": "add", "path": "/data/v", "value": 1},
        {"op": "test", "path": "/data/v", "value": 1.0},
    ]
    assert json_patch(app, note_url, operations, alice).json["data"]["v"] == 1


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "add", "path": "/permissions/write/-", "value": "BOB"}],
        [{"op": "replace", "path": "/permissions/write", "value": ["BOB"]}],
        [{"op": "copy", "from": "/permissions/read", "path": "/permissions/write"}],
        [{"op": "test", "path": "/data/text", "value": "t"}],
    ],
)
def test_a_reader_cannot_patch_itself_into_a_writer(app, alice, bob, operations):
    bob_id = user_id(app, bob)
    created = app.post_json(
        NOTES, {"data": {"text": "t"}, "permissions": {"read": [bob_id]}}, headers=alice
    ).json
    url = f"{NOTES}/{created['data']['id']}"
    operations = json.loads(json.dumps(operations).replace("BOB", bob_id))
    response = json_patch(app, url, operations, bob, expect_errors=True)
    assert_error(response, 403, 121)
    assert app.get(url, headers=alice).json["permissions"] == created["permissions"]
