"""Item 5: only JSON bodies are accepted (no cross-site form posts), only JSON is answered."""

import json

import pytest

from tests.security.hostile import assert_answered, assert_refused, send

RECORD = json.dumps({"data": {"title": "cross-site"}}).encode()
PATCH = json.dumps({"data": {"title": "patched"}}).encode()
JSON_PATCH = json.dumps([{"op": "replace", "path": "/data/title", "value": "patched"}]).encode()
BATCH = json.dumps(
    {"requests": [{"method": "POST", "path": "/articles", "body": {"data": {"title": "b"}}}]}
).encode()
FORM = b"data=%7B%22title%22%3A%22x%22%7D"
MULTIPART = (
    b'--xyz\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"title": "x"}\r\n--xyz--\r\n'
)

# What a page on another site can make a browser send without a CORS preflight, and others.
REFUSED_TYPES = [
    pytest.param("text/plain", RECORD, id="text-plain"),
    pytest.param("text/plain;charset=UTF-8", RECORD, id="text-plain-charset"),
    pytest.param("application/x-www-form-urlencoded", FORM, id="form-urlencoded"),
    pytest.param("application/x-www-form-urlencoded", RECORD, id="form-urlencoded-json-body"),
    pytest.param("multipart/form-data; boundary=xyz", MULTIPART, id="multipart"),
    pytest.param(None, RECORD, id="no-content-type"),
    pytest.param("text/html", RECORD, id="text-html"),
    pytest.param("application/xml", RECORD, id="xml"),
    pytest.param("application/jsonx", RECORD, id="json-lookalike"),
    pytest.param("application/json-patch+json", RECORD, id="json-patch-on-post"),
    pytest.param("application/merge-patch+json", RECORD, id="merge-patch-on-post"),
    pytest.param("", RECORD, id="empty-content-type"),
]


def _headers(auth, content_type):
    return {**auth, **({"Content-Type": content_type} if content_type is not None else {})}


@pytest.mark.parametrize("content_type, body", REFUSED_TYPES)
def test_post_with_a_non_json_body_is_415(app, alice, nothing_stored, content_type, body):
    answer = send(app, "POST", "/v1/articles", body, _headers(alice, content_type))
    assert_refused(answer, status=415)
    nothing_stored()


@pytest.mark.parametrize("content_type, body", REFUSED_TYPES)
def test_batch_with_a_non_json_body_is_415(app, alice, nothing_stored, content_type, body):
    answer = send(app, "POST", "/v1/batch", BATCH, _headers(alice, content_type))
    assert_refused(answer, status=415)
    nothing_stored()


@pytest.mark.parametrize(
    "method, content_type",
    [
        ("PUT", "text/plain"),
        ("PUT", None),
        ("PUT", "application/x-www-form-urlencoded"),
        ("PUT", "application/merge-patch+json"),
        ("PATCH", "text/plain"),
        ("PATCH", None),
        ("PATCH", "application/x-www-form-urlencoded"),
        ("PATCH", "multipart/form-data; boundary=xyz"),
    ],
    ids=lambda v: str(v),
)
def test_record_writes_with_a_non_json_body_are_415(app, alice, method, content_type):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    path = f"/v1/articles/{record['data']['id']}"
    answer = send(app, method, path, PATCH, _headers(alice, content_type))
    assert_refused(answer, status=415)
    assert app.get(path, headers=alice).json["data"] == record["data"]


def test_note_post_as_text_plain_is_415(app, alice, nothing_stored):
    body = json.dumps({"data": {"text": "x"}, "permissions": {"read": ["system.Everyone"]}})
    answer = send(app, "POST", "/v1/notes", body.encode(), _headers(alice, "text/plain"))
    assert_refused(answer, status=415)
    nothing_stored()


@pytest.mark.parametrize(
    "accept",
    ["text/html", "text/plain", "application/xml", "text/html, application/xhtml+xml", "image/*"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_accept_excluding_json_is_406(app, alice, nothing_stored, accept, method):
    body = RECORD if method == "POST" else None
    headers = {**alice, "Accept": accept, "Content-Type": "application/json"}
    answer = send(app, method, "/v1/articles", body, headers)
    assert_refused(answer, status=406)
    nothing_stored()


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "*/*",
        "application/*",
        "text/html, application/json;q=0.9",
        "application/json; charset=utf-8",
    ],
)
def test_an_accept_allowing_json_is_served(app, alice, accept):
    answer = send(app, "GET", "/v1/articles", None, {**alice, "Accept": accept})
    assert_answered(answer)
    assert answer.status == 200, answer


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"],
)
def test_json_bodies_are_accepted(app, alice, content_type):
    answer = send(app, "POST", "/v1/articles", RECORD, _headers(alice, content_type))
    assert_answered(answer)
    assert answer.status == 201, answer
    record = answer.json()["data"]
    assert app.get(f"/v1/articles/{record['id']}", headers=alice).json["data"] == record


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", PATCH),
        ("application/merge-patch+json", PATCH),
        ("application/json-patch+json", JSON_PATCH),
    ],
)
def test_patch_bodies_are_accepted(app, alice, content_type, body):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    path = f"/v1/articles/{record['data']['id']}"
    answer = send(app, "PATCH", path, body, _headers(alice, content_type))
    assert_answered(answer)
    assert answer.status == 200, answer
    assert app.get(path, headers=alice).json["data"]["title"] == "patched"


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD", "OPTIONS"])
def test_bodiless_requests_need_no_content_type(app, alice, method):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    headers = {**alice, "Origin": "https://example.com", "Access-Control-Request-Method": "GET"}
    answer = send(app, method, f"/v1/articles/{record['data']['id']}", None, headers)
    assert_answered(answer)
    assert answer.status == 200, answer
