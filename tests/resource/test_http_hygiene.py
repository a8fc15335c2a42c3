"""What a browser or a proxy may do with the service: media types, caching, public URLs.

Through HTTP only, on every storage backend: a cross-site form cannot write (415), a client
that takes no JSON is told so (406), private answers are never cached, and absolute URLs
name the configured public origin, never the ``Host`` a client sent.
"""

import json
from urllib.parse import urlsplit

import pytest

URL = "/v1/articles"
RECORD = {"data": {"title": "hello"}}
BODY = json.dumps(RECORD).encode()


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["code"] == status
    assert response.json["errno"] == errno
    return response.json


def listed(app, auth):
    return app.get(URL, headers=auth).json["data"]


@pytest.fixture
def record_url(app, alice):
    record = app.post_json(URL, RECORD, headers=alice, status=201).json["data"]
    return f"{URL}/{record['id']}"


# Item 5: only JSON bodies are written --------------------------------------------------


REFUSED_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "text/json",
]


@pytest.mark.parametrize("content_type", REFUSED_TYPES + [None])
def test_post_with_a_non_json_body_is_415_and_stores_nothing(app, alice, content_type):
    headers = dict(alice)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = app.post(URL, BODY, headers=headers, expect_errors=True)
    body = assert_error(response, 415, 107)
    assert body["details"][0]["location"] == "header"
    assert body["details"][0]["name"] == "Content-Type"
    assert listed(app, alice) == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_record_writes_with_a_non_json_body_are_415(app, alice, record_url, method, content_type):
    headers = {**alice, "Content-Type": content_type}
    body = json.dumps({"data": {"title": "changed"}}).encode()
    response = app.request(
        record_url, method=method, body=body, headers=headers, expect_errors=True
    )
    assert_error(response, 415, 107)
    assert app.get(record_url, headers=alice).json["data"]["title"] == "hello"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_bodies_are_accepted(app, alice, content_type):
    response = app.post(URL, BODY, headers={**alice, "Content-Type": content_type}, status=201)
    assert response.json["data"]["title"] == "hello"


@pytest.mark.parametrize(
    "content_type", ["application/merge-patch+json", "application/json-patch+json"]
)
def test_patch_types_are_not_refused_as_media_types(app, alice, record_url, content_type):
    body = json.dumps({"data": {"title": "patched"}}).encode()
    response = app.patch(
        record_url, body, headers={**alice, "Content-Type": content_type}, expect_errors=True
    )
    assert response.status_code != 415


def test_merge_patch_type_is_only_for_patch(app, alice):
    headers = {**alice, "Content-Type": "application/merge-patch+json"}
    response = app.post(URL, BODY, headers=headers, expect_errors=True)
    assert_error(response, 415, 107)


def test_bodyless_writes_need_no_content_type(app, alice, record_url):
    app.delete(record_url, headers=alice, status=200)
    app.delete(URL, headers=alice, status=200)


def test_post_without_body_is_not_a_media_type_error(app, alice):
    response = app.post(URL, headers=alice, expect_errors=True)
    assert response.status_code == 400  # the record is missing, not the type


def test_cross_site_form_cannot_write_to_batch(app, alice):
    body = json.dumps({"requests": [{"method": "POST", "path": "/articles", "body": RECORD}]})
    headers = {**alice, "Content-Type": "text/plain"}
    response = app.post("/v1/batch", body.encode(), headers=headers, expect_errors=True)
    assert_error(response, 415, 107)
    assert listed(app, alice) == []


def test_batch_subrequest_with_a_non_json_type_is_refused_in_its_slot(app, alice):
    requests = [
        {"method": "POST", "path": "/articles", "body": RECORD},
        {
            "method": "POST",
            "path": "/articles",
            "body": {"data": {"title": "plain"}},
            "headers": {"Content-Type": "text/plain"},
        },
    ]
    response = app.post_json("/v1/batch", {"requests": requests}, headers=alice, status=200)
    slots = response.json["responses"]
    assert [s["status"] for s in slots] == [201, 415]
    assert slots[1]["body"]["errno"] == 107
    assert [r["title"] for r in listed(app, alice)] == ["hello"]


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/html, application/xhtml+xml",
        "application/xml",
        "application/json;q=0",
        "application/json;q=0, */*",
        "text/*, application/*;q=0",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", URL), ("GET", "/v1/"), ("POST", URL)])
def test_accept_excluding_json_is_406(app, alice, accept, method, path):
    headers = {**alice, "Accept": accept, "Content-Type": "application/json"}
    body = BODY if method == "POST" else b""
    response = app.request(path, method=method, body=body, headers=headers, expect_errors=True)
    body = assert_error(response, 406, 107)
    assert body["details"][0]["name"] == "Accept"
    assert listed(app, alice) == []


@pytest.mark.parametrize(
    "accept",
    [
        "*/*",
        "application/*",
        "application/json",
        "text/html, application/json;q=0.5",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=UTF-8",
        "text/html;q=1, */*;q=0.1",
        "",
        "x",
    ],
)
def test_accept_allowing_json_is_served(app, alice, accept):
    response = app.get(URL, headers={**alice, "Accept": accept})
    assert response.status_code == 200
    assert response.content_type == "application/json"


# Item 6: caching -----------------------------------------------------------------------


def _vary(response):
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", URL, 200),
        ("GET", "/v1/", 200),
        ("GET", "/v1/articles/0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44", 404),
        ("GET", "/v1/nowhere", 404),
        ("POST", URL, 201),
    ],
)
def test_answers_are_not_cached_and_vary_on_credentials(app, alice, method, path, status):
    body = BODY if method == "POST" else b""
    headers = {**alice, "Content-Type": "application/json"}
    response = app.request(path, method=method, body=body, headers=headers, expect_errors=True)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-cache"
    assert {"authorization", "origin"} <= _vary(response)


def test_anonymous_error_is_not_cached(app):
    response = app.get(URL, expect_errors=True)
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-cache"
    assert {"authorization", "origin"} <= _vary(response)


def test_not_modified_keeps_its_etag_and_gets_cache_headers(app, alice, record_url):
    etag = app.get(record_url, headers=alice).headers["ETag"]
    response = app.get(record_url, headers={**alice, "If-None-Match": etag}, status=304)
    assert response.body == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "no-cache"
    assert {"authorization", "origin"} <= _vary(response)


@pytest.fixture
def public_app(make_resource_app):
    return make_resource_app(
        {
            "cliquet.article_read_principals": "system.Everyone",
            "cliquet.article_cache_expires_seconds": "60",
        }
    )


def test_public_collection_may_be_cached_by_anonymous_readers(public_app, alice):
    public_app.post_json(URL, RECORD, headers=alice, status=201)
    response = public_app.get(URL)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=60"
    assert {"authorization", "origin"} <= _vary(response)


def test_public_collection_stays_private_for_authenticated_readers(public_app, alice):
    response = public_app.get(URL, headers=alice)
    assert response.headers["Cache-Control"] == "no-cache"


def test_cache_expiry_only_for_the_resource_it_names(public_app):
    response = public_app.get("/v1/notes", expect_errors=True)
    assert response.headers["Cache-Control"] == "no-cache"


def test_invalid_cache_expiry_stops_start_up(make_resource_app):
    from pyramid.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="cliquet.article_cache_expires_seconds"):
        make_resource_app({"cliquet.article_cache_expires_seconds": "soon"})


# Item 7: the public origin, never the client's Host ------------------------------------

EVIL = {"Host": "evil.example"}


@pytest.fixture
def origin_app(make_resource_app):
    return make_resource_app(
        {"cliquet.http_scheme": "https", "cliquet.http_host": "api.example.com"}
    )


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_hello_url_names_the_public_origin(origin_app):
    response = origin_app.get("/v1/", headers=EVIL)
    assert response.json["url"] == "https://api.example.com/v1/"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "https://api.example.com/v1/"),
        ("/articles?x=1", "https://api.example.com/v1/articles?x=1"),
        ("/v1", "https://api.example.com/v1/"),
    ],
)
def test_redirects_name_the_public_origin(origin_app, path, location):
    response = origin_app.get(path, headers=EVIL, status=307)
    assert response.headers["Location"] == location


def test_next_page_names_the_public_origin(origin_app, alice):
    for _ in range(3):
        origin_app.post_json(URL, RECORD, headers=alice, status=201)
    response = origin_app.get(f"{URL}?_limit=1", headers={**alice, **EVIL})
    assert _origin(response.headers["Next-Page"]) == "https://api.example.com"
    # The link works.
    assert len(origin_app.get(response.headers["Next-Page"], headers=alice).json["data"]) == 1


def test_next_page_in_a_batch_names_the_public_origin(origin_app, alice):
    for _ in range(2):
        origin_app.post_json(URL, RECORD, headers=alice, status=201)
    body = {"requests": [{"path": "/articles?_limit=1"}]}
    response = origin_app.post_json("/v1/batch", body, headers={**alice, **EVIL})
    slot = response.json["responses"][0]
    assert _origin(slot["headers"]["Next-Page"]) == "https://api.example.com"


def test_public_host_may_carry_a_port(make_resource_app):
    app = make_resource_app(
        {"cliquet.http_scheme": "http", "cliquet.http_host": "api.example.com:8080"}
    )
    assert app.get("/v1/", headers=EVIL).json["url"] == "http://api.example.com:8080/v1/"


def test_public_scheme_alone_keeps_the_request_host(make_resource_app):
    app = make_resource_app({"cliquet.http_scheme": "https"})
    url = app.get("/v1/", headers={"Host": "api.internal"}).json["url"]
    assert url == "https://api.internal/v1/"


def test_without_settings_the_request_origin_is_used(app):
    assert app.get("/v1/").json["url"] == "http://localhost/v1/"


@pytest.mark.parametrize(
    "settings",
    [
        {"cliquet.http_scheme": "ftp"},
        {"cliquet.http_host": "https://api.example.com"},
        {"cliquet.http_host": "api.example.com/v1"},
        {"cliquet.http_host": "api.example.com:port"},
        {"cliquet.http_host": "api.example.com:0"},
        {"cliquet.http_host": "api.example.com:99999"},
        {"cliquet.http_host": "api..example.com"},
        {"cliquet.http_host": ".example.com"},
    ],
)
def test_invalid_public_origin_stops_start_up(make_resource_app, settings):
    from pyramid.exceptions import ConfigurationError

    (name,) = settings
    with pytest.raises(ConfigurationError, match=name):
        make_resource_app(settings)


# Item 9: empty credentials -------------------------------------------------------------


@pytest.mark.parametrize(("user", "password"), [("", ""), ("alice", ""), ("", "pw")])
def test_empty_user_or_password_cannot_write(app, user, password):
    from cliquet.testing.web import basic_auth

    response = app.post_json(URL, RECORD, headers=basic_auth(user, password), expect_errors=True)
    assert_error(response, 401, 105)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
