"""Conditional requests, sync bounds copied from an ETag, and the trailing-slash redirect.

What PROTOCOL.md's "Preconditions" section promises: every answer about a record or a list
carries ``ETag`` and ``Last-Modified`` (304 and 412 included), entity tags are compared as
RFC 9110 says (weak for ``If-None-Match``, strong for ``If-Match``, lists and ``*``), and a
header the service could not have answered is 400 whatever the record.
"""

import datetime
import email.utils

import pytest

from tests.resource.test_record import URL, assert_error, assert_invalid, create, url

UNKNOWN_ID = "2dc1483f-a0af-44d0-aa85-5c5100e834bb"
OTHER_ID = "7d1c0b9e-2a4f-4e6b-8c3d-5f9a1b2c3d4e"
PRECONDITIONS = ("If-Match", "If-None-Match")
# Not an entity tag of this service: not RFC 9110 syntax, or not a quoted timestamp.
MALFORMED = [
    '"*"',
    "abc",
    "123",
    '"123',
    '123"',
    '"abc"',
    '""',
    '"1.5"',
    "W/123",
    'w/"123"',
    'W/ "123"',
    '"1" "2"',
    '"1";"2"',
    '*, "1"',
    '"1", *',
    "**",
    ",",
    "",
]


# Helpers ---------------------------------------------------------------------------------


@pytest.fixture
def article(app, alice):
    return create(app, alice, title="kept")


def etag(timestamp):
    return f'"{timestamp}"'


def collection_timestamp(app, headers):
    return int(app.get(URL, headers=headers).headers["ETag"][1:-1])


def assert_dated(response, timestamp):
    """``ETag`` and ``Last-Modified`` both say ``timestamp`` (epoch milliseconds)."""
    assert response.headers["ETag"] == etag(timestamp)
    last_modified = email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
    expected = datetime.datetime.fromtimestamp(timestamp // 1000, tz=datetime.timezone.utc)
    assert last_modified == expected
    assert response.headers["Last-Modified"].endswith(" GMT")


def send(app, method, path, headers, **kwargs):
    """``method`` on ``path``; writes send a valid record."""
    if method in ("PUT", "PATCH", "POST"):
        body = b'{"data": {"title": "changed"}}'
        headers = {**headers, "Content-Type": "application/json"}
        return app.request(path, method=method, body=body, headers=headers, **kwargs)
    return app.request(path, method=method, headers=headers, **kwargs)


def stored(app, alice):
    return app.get(URL, headers=alice).json["data"]


# 1. Every answer about a record or a list is dated, 304 and 412 included -----------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_304_of_a_record_carries_etag_and_last_modified(app, alice, article, method):
    headers = {**alice, "If-None-Match": etag(article["last_modified"])}
    response = send(app, method, url(article), headers, status=304)
    assert response.body == b""
    assert_dated(response, article["last_modified"])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_304_of_a_list_carries_etag_and_last_modified(app, alice, article, method):
    timestamp = collection_timestamp(app, alice)
    response = send(app, method, URL, {**alice, "If-None-Match": etag(timestamp)}, status=304)
    assert response.body == b""
    assert_dated(response, timestamp)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_412_of_a_record_carries_the_current_record_dates(app, alice, article, method):
    current = app.patch_json(url(article), {"data": {"rank": 2}}, headers=alice).json["data"]
    create(app, alice, title="later")  # the collection is newer than the record
    headers = {**alice, "If-Match": etag(article["last_modified"])}
    response = send(app, method, url(article), headers, expect_errors=True)
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == current
    assert_dated(response, current["last_modified"])


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_412_of_a_list_carries_the_collection_dates(app, alice, article, method):
    timestamp = collection_timestamp(app, alice)
    headers = {**alice, "If-Match": etag(timestamp - 1)}
    response = send(app, method, URL, headers, expect_errors=True)
    assert_error(response, 412, 114)
    assert_dated(response, timestamp)
    assert stored(app, alice) == [article]


@pytest.mark.parametrize("value", ['"123"', "*"])
def test_a_412_of_a_missing_record_carries_the_collection_dates(app, alice, article, value):
    """No record, no record date: the collection's says when anything in it last changed."""
    timestamp = collection_timestamp(app, alice)
    headers = {**alice, "If-Match": value}
    response = send(app, "PUT", url(UNKNOWN_ID), headers, expect_errors=True)
    body = assert_error(response, 412, 114)
    assert "details" not in body
    assert_dated(response, timestamp)
    assert stored(app, alice) == [article]


def test_a_412_of_a_post_of_a_taken_id_carries_that_record_dates(app, alice, article):
    create(app, alice, title="later")
    body = {"data": {"id": article["id"], "title": "again"}}
    headers = {**alice, "If-None-Match": "*"}
    response = app.post_json(URL, body, headers=headers, expect_errors=True)
    assert assert_error(response, 412, 114)["details"]["existing"] == article
    assert_dated(response, article["last_modified"])


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_412_of_if_none_match_on_a_write_carries_the_record_dates(app, alice, article, method):
    create(app, alice, title="later")
    headers = {**alice, "If-None-Match": "*"}
    response = send(app, method, url(article), headers, expect_errors=True)
    assert_error(response, 412, 114)
    assert_dated(response, article["last_modified"])
    assert app.get(url(article), headers=alice).json["data"] == article


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
def test_every_answer_about_a_record_is_dated(app, alice, article, method):
    response = send(app, method, url(article), alice)
    assert response.status_code == 200
    timestamp = article["last_modified"]
    if method != "HEAD" and method != "GET":
        timestamp = response.json["data"]["last_modified"]
    assert_dated(response, timestamp)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
def test_every_answer_about_a_list_is_dated(app, alice, article, method):
    response = send(app, method, URL, alice)
    assert_dated(response, collection_timestamp(app, alice))


# 2. Entity tags compared as RFC 9110 says ------------------------------------------------


def _matching(form, timestamp):
    return {
        "strong": f'"{timestamp}"',
        "weak": f'W/"{timestamp}"',
        "list": f'"1", "{timestamp}"',
        "weak-list": f'"1",W/"{timestamp}" , "2"',
        "list-with-empty-elements": f', "1",, "{timestamp}",',
        "star": "*",
    }[form]


FORMS = ["strong", "weak", "list", "weak-list", "list-with-empty-elements", "star"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_of_a_record_is_304_for_any_form_naming_it(app, alice, article, method):
    for form in FORMS:
        value = _matching(form, article["last_modified"])
        headers = {**alice, "If-None-Match": value}
        response = send(app, method, url(article), headers, status=304)
        assert_dated(response, article["last_modified"])


def test_if_none_match_of_a_list_is_304_for_any_form_naming_it(app, alice, article):
    timestamp = collection_timestamp(app, alice)
    for form in FORMS:
        value = _matching(form, timestamp)
        response = app.get(URL, headers={**alice, "If-None-Match": value}, status=304)
        assert_dated(response, timestamp)


def test_if_none_match_naming_other_etags_is_200(app, alice, article):
    for value in ('"1", "2"', 'W/"1"', '"1", W/"2"'):
        response = app.get(url(article), headers={**alice, "If-None-Match": value})
        assert response.json["data"] == article
        assert_dated(response, article["last_modified"])
        response = app.get(URL, headers={**alice, "If-None-Match": value})
        assert response.json["data"] == [article]


def test_if_none_match_star_of_a_missing_record_is_404(app, alice):
    response = app.get(url(UNKNOWN_ID), headers={**alice, "If-None-Match": "*"}, status=404)
    assert_error(response, 404, 110)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_none_match_naming_a_record_fails_its_writes(app, alice, article, method):
    for form in FORMS:
        value = _matching(form, article["last_modified"])
        headers = {**alice, "If-None-Match": value}
        response = send(app, method, url(article), headers, status=412)
        assert response.json["details"]["existing"] == article
    assert app.get(url(article), headers=alice).json["data"] == article


def test_if_none_match_of_a_new_record_lets_put_create_it(app, alice):
    for value, record_id in (('"1", W/"2"', UNKNOWN_ID), ("*", OTHER_ID)):
        send(app, "PUT", url(record_id), {**alice, "If-None-Match": value}, status=201)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("form", ["strong", "list", "list-with-empty-elements", "star"])
def test_if_match_naming_a_record_lets_its_writes_through(app, alice, article, method, form):
    value = _matching(form, article["last_modified"])
    response = send(app, method, url(article), {**alice, "If-Match": value}, status=200)
    assert response.json["data"]["last_modified"] > article["last_modified"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_if_match_compares_strongly_a_weak_tag_never_matches(app, alice, article, method):
    for form in ("weak", "weak-list"):
        value = _matching(form, article["last_modified"])
        headers = {**alice, "If-Match": value}
        response = send(app, method, url(article), headers, expect_errors=True)
        assert_error(response, 412, 114)
    assert app.get(url(article), headers=alice).json["data"] == article


def test_if_match_of_a_list_accepts_a_list_and_star(app, alice, article):
    timestamp = collection_timestamp(app, alice)
    for value in (f'"1", "{timestamp}"', "*"):
        assert app.get(URL, headers={**alice, "If-Match": value}).json["data"] == [article]


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_precondition_is_400_naming_it(app, alice, article, value):
    for header in PRECONDITIONS:
        for method, path in (("PUT", url(UNKNOWN_ID)), ("GET", url(article))):
            response = send(app, method, path, {**alice, header: value}, expect_errors=True)
            assert_invalid(response, location="header", name=header)
    assert stored(app, alice) == [article]


@pytest.mark.parametrize("header", PRECONDITIONS)
def test_a_malformed_precondition_is_400_whether_or_not_the_record_exists(
    app, alice, article, header
):
    for method, target in [
        ("GET", "record"),
        ("HEAD", "record"),
        ("PUT", "record"),
        ("PATCH", "record"),
        ("DELETE", "record"),
        ("GET", "missing"),
        ("HEAD", "missing"),
        ("PUT", "missing"),
        ("PATCH", "missing"),
        ("DELETE", "missing"),
        ("GET", "list"),
        ("POST", "list"),
        ("DELETE", "list"),
    ]:
        path = {"record": url(article), "missing": url(UNKNOWN_ID), "list": URL}[target]
        response = send(app, method, path, {**alice, header: '"*"'}, expect_errors=True)
        assert response.status_code == 400, (method, target)
        if method != "HEAD":
            assert_invalid(response, location="header", name=header)
    assert stored(app, alice) == [article]


@pytest.mark.parametrize(
    ("method", "target", "query", "name"),
    [
        ("GET", "list", "_sort=nothere", "_sort"),
        ("HEAD", "list", "min_nothere=1", "min_nothere"),
        ("GET", "list", "_token=forged", "_token"),
        ("DELETE", "list", "_limit=0", "_limit"),
        ("GET", "record", "_fields=nothere", "_fields"),
    ],
)
@pytest.mark.parametrize("header", ["If-None-Match: *", 'If-Match: "1"'])
def test_a_malformed_querystring_is_400_whatever_the_preconditions(
    app, alice, article, method, target, query, name, header
):
    """The request is refused as it would be without them: no 304 nor 412 (RFC 9110 13.1)."""
    field, value = header.split(": ")
    path = f"{url(article) if target == 'record' else URL}?{query}"
    response = send(app, method, path, {**alice, field: value}, expect_errors=True)
    assert response.status_code == 400, response.status
    if method != "HEAD":
        assert_invalid(response, location="querystring", name=name)
    assert stored(app, alice) == [article]


# 3. Sync bounds copied from an ETag; a cache buster --------------------------------------


@pytest.fixture
def history(app, alice):
    """a, b, c created, then a deleted: returns the records and a's tombstone."""
    a = create(app, alice, title="a")
    b = create(app, alice, title="b")
    c = create(app, alice, title="c")
    tombstone = app.delete(url(a), headers=alice).json["data"]
    return a, b, c, tombstone


def _ids(app, alice, query):
    return [r["id"] for r in app.get(f"{URL}?{query}", headers=alice).json["data"]]


@pytest.mark.parametrize("param", ["_since", "_before"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_sync_bounds_accept_the_quoted_etag(app, alice, history, param):
    a, b, c, tombstone = history
    bounds = (b, c) if param == "_since" else (c, tombstone)
    for timestamp in (bound["last_modified"] for bound in bounds):
        bare = _ids(app, alice, f"{param}={timestamp}")
        assert 0 < len(bare) < 3
        assert _ids(app, alice, f'{param}="{timestamp}"') == bare
        assert _ids(app, alice, f"{param}=%22{timestamp}%22") == bare


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_since_of_a_list_etag_gets_what_changed_after_it(app, alice, history):
    a, b, c, tombstone = history
    since = app.get(URL, headers=alice).headers["ETag"]
    d = create(app, alice, title="d")
    assert _ids(app, alice, f"_since={since}") == [d["id"]]


@pytest.mark.parametrize("param", ["_since", "_before"])
def test_sync_bounds_quoted_wrongly_are_400(app, alice, param):
    for value in ('"abc"', '"12', '12"', '""', '"1.5"', "'12'", 'W/"12"', '""12""', '"-"'):
        response = app.get(f"{URL}?{param}={value}", headers=alice, expect_errors=True)
        assert_invalid(response, location="querystring", name=param)


def test_expected_is_accepted_and_ignored(app, alice, history):
    a, b, c, tombstone = history
    since = f"_since={b['last_modified']}"
    for value in ("", "1", '"1796000000000"', "abc", "1,2"):
        assert _ids(app, alice, f"_expected={value}") == _ids(app, alice, "")
        assert _ids(app, alice, f"{since}&_expected={value}") == _ids(app, alice, since)


def test_expected_follows_the_pages(app, alice, history):
    a, b, c, tombstone = history
    response = app.get(f"{URL}?_limit=1&_expected=42", headers=alice)
    seen = [r["id"] for r in response.json["data"]]
    while "Next-Page" in response.headers:
        assert "_expected=42" in response.headers["Next-Page"]
        response = app.get(response.headers["Next-Page"], headers=alice)
        seen += [r["id"] for r in response.json["data"]]
    assert seen == [c["id"], b["id"]]


def test_other_unknown_underscore_parameters_stay_400(app, alice):
    for param in ("_expectedx", "_Expected", "_expect", "_unknown", "__"):
        response = app.get(f"{URL}?{param}=1", headers=alice, expect_errors=True)
        assert_invalid(response, location="querystring", name=param)


# 4. A trailing slash redirects to the path without it ------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
def test_a_list_path_with_a_trailing_slash_redirects(app, alice, method):
    response = send(app, method, f"{URL}/?_limit=2&title=x", alice, status=307)
    assert response.headers["Location"] == f"http://localhost{URL}?_limit=2&title=x"
    assert stored(app, alice) == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_record_path_with_a_trailing_slash_redirects(app, alice, article, method):
    response = send(app, method, f"{url(article)}//", alice, status=307)
    assert response.headers["Location"] == f"http://localhost{url(article)}"
    assert app.get(url(article), headers=alice).json["data"] == article


def test_the_redirect_leads_to_the_same_answer(app, alice, article):
    response = app.get(f"{URL}/?_limit=1", headers=alice, status=307)
    followed = app.get(response.headers["Location"], headers=alice)
    assert followed.json["data"] == [article]
    body = {"data": {"title": "posted"}}
    response = app.post_json(f"{URL}/", body, headers=alice, status=307)
    app.post_json(response.headers["Location"], body, headers=alice, status=201)


def test_the_redirect_keeps_the_path_percent_encoded(app, alice):
    response = app.get(f"{URL}/a%20b%0Ac/", headers=alice, expect_errors=True)
    assert response.status_code == 400  # a control character is refused before routing
    response = app.get(f"{URL}/%C3%A9%3F/?q=%C3%A9", headers=alice, status=307)
    assert response.headers["Location"] == f"http://localhost{URL}/%C3%A9%3F?q=%C3%A9"


def test_the_redirect_is_built_on_the_public_url(make_resource_app, alice):
    app = make_resource_app(
        {"cliquet.http_scheme": "https", "cliquet.http_host": "api.example.com:8443"}
    )
    headers = {**alice, "Host": "evil.example.net"}
    response = app.get(f"{URL}/?_limit=1", headers=headers, status=307)
    assert response.headers["Location"] == f"https://api.example.com:8443{URL}?_limit=1"


def test_the_redirect_refuses_a_host_that_is_not_one(app, alice):
    headers = {**alice, "Host": "evil.example.net/x"}
    response = app.get(f"{URL}/", headers=headers, expect_errors=True)
    assert_invalid(response, location="header", name="Host")


def test_the_redirect_never_leaves_the_service(app, alice):
    for path in (
        "//evil.example.net/",
        "/v1//evil.example.net/",
        "/v1/%2F%2Fevil.example.net/",
        "/v1/\\evil.example.net/",
        "/v1/articles/..//evil.example.net/",
        "/v1/articles/%2F%2Fevil.example.net/",
    ):
        response = app.get(path, headers=alice, expect_errors=True)
        if 300 <= response.status_code < 400:
            assert response.headers["Location"].startswith("http://localhost/v1/"), path
        else:
            assert_error(response, 404, 111)


def test_a_path_without_a_route_once_stripped_stays_404(app, alice):
    for path in ("/v1/unknown/", f"{URL}/not-a-uuid/extra/", "/v1/article/", "/v2/articles/"):
        assert_error(app.get(path, headers=alice, expect_errors=True), 404, 111)


def test_the_hello_view_keeps_its_slash(app):
    assert app.get("/v1/", status=200).json["url"] == "http://localhost/v1/"
