"""Hostile inputs: whatever a client sends, it gets a JSON 4xx naming what it got wrong.

Never a 5xx (a 503 errno 201 with ``Retry-After`` above all: clients retry those forever),
never a value stored that a backend cannot give back exactly, and the same answer on every
storage backend.
"""

import json
from urllib.parse import quote

import pytest

URL = "/v1/articles"
NOTES = "/v1/notes"
ARTICLE_ID = "0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def assert_invalid(response, *, name, errno=107, location="body"):
    """A JSON 400 whose single detail names ``name``; returns the body."""
    assert response.status_code == 400, response.text
    assert response.content_type == "application/json"
    body = response.json
    assert body["code"] == 400
    assert body["errno"] == errno
    assert isinstance(body["message"], str) and body["message"]
    assert [(d["location"], d["name"]) for d in body["details"]] == [(location, name)]
    return body


def post_raw(app, url, text, headers, *, method="post", content_type="application/json"):
    body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    send = getattr(app, method)
    return send(url, body, headers={**headers, "Content-Type": content_type}, expect_errors=True)


def nothing_stored(app, headers, url=URL):
    listed = app.get(url, headers=headers)
    assert listed.status_code == 200
    assert listed.json["data"] == []


# Numbers ---------------------------------------------------------------------------------

NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity"]
OUT_OF_RANGE = [
    "1e400",
    "-1e400",
    "1e-400",  # a non-zero number that would be stored as 0
    str(INT64_MAX + 1),
    str(INT64_MIN - 1),
    "1" * 5000,  # past Python's int parsing limit too
    "0.12345678901234567890123",  # more digits than a double keeps
]


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_non_finite_numbers_are_400_errno_106_naming_the_field(app, alice, number):
    text = f'{{"data": {{"title": "t", "author": {{"age": {number}}}}}}}'
    response = post_raw(app, URL, text, alice)
    assert_invalid(response, name="data.author.age", errno=106)
    nothing_stored(app, alice)


@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_numbers_no_backend_stores_exactly_are_400_naming_the_field(app, alice, number):
    text = f'{{"data": {{"title": "t", "author": {{"n": [1, {number}]}}}}}}'
    response = post_raw(app, URL, text, alice)
    assert_invalid(response, name="data.author.n.1")
    nothing_stored(app, alice)


@pytest.mark.parametrize("number", ["NaN", "1e400", str(2**64)])
def test_bad_numbers_in_a_patch_are_400(app, alice, number):
    created = app.post_json(URL, {"data": {"title": "t"}}, headers=alice).json["data"]
    url = f"{URL}/{created['id']}"
    for content_type in ("application/json", "application/merge-patch+json"):
        text = f'{{"data": {{"author": {{"n": {number}}}}}}}'
        response = post_raw(app, url, text, alice, method="patch", content_type=content_type)
        assert response.status_code == 400
        assert response.json["details"][0]["name"] == "data.author.n"
    assert app.get(url, headers=alice).json["data"] == created


ROUND_TRIPS = [
    1e300,
    -1e300,
    1e16,
    1.5e-7,
    5e-324,
    1.7976931348623157e308,
    0.1,
    100.0,
    -0.5,
    INT64_MAX,
    INT64_MIN,
    0,
    2**53 + 1,
]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_numbers_come_back_exactly_from_every_backend(app, alice):
    author = {f"n{i}": value for i, value in enumerate(ROUND_TRIPS)}
    created = app.post_json(URL, {"data": {"title": "t", "author": author}}, headers=alice)
    record_id = created.json["data"]["id"]
    fetched = app.get(f"{URL}/{record_id}", headers=alice).json["data"]["author"]
    listed = app.get(URL, headers=alice).json["data"][0]["author"]
    for got in (created.json["data"]["author"], fetched, listed):
        # The same value and the same JSON type (a float stays a float).
        assert {k: (type(v), v) for k, v in got.items()} == {
            k: (type(v), v) for k, v in author.items()
        }
        assert json.dumps(got, sort_keys=True) == json.dumps(author, sort_keys=True)


@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 1e300, 2**53 + 1])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_extreme_numbers_filter_and_sort_exactly(app, alice, value):
    other = value / 2 if isinstance(value, float) else value - 1 if value > 0 else value + 1
    for n in (value, other):
        app.post_json(URL, {"data": {"title": str(n), "author": {"n": n}}}, headers=alice)
    query = quote(json.dumps(value))
    found = app.get(f"{URL}?author.n={query}", headers=alice).json["data"]
    assert [r["author"]["n"] for r in found] == [value]
    ordered = app.get(f"{URL}?_sort=-author.n", headers=alice).json["data"]
    assert [r["author"]["n"] for r in ordered] == sorted([value, other], reverse=True)


# Strings ---------------------------------------------------------------------------------

BAD_STRINGS = [
    ("lone surrogate", r"\ud800"),
    ("low surrogate", r"\udfff"),
    ("NUL", r"\u0000"),
    ("NUL inside", r"a\u0000b"),
]


@pytest.mark.parametrize("label, escaped", BAD_STRINGS)
def test_bad_strings_in_values_are_400_naming_the_field(app, alice, label, escaped):
    text = f'{{"data": {{"title": "{escaped}"}}}}'
    assert_invalid(post_raw(app, URL, text, alice), name="data.title")
    text = f'{{"data": {{"title": "t", "tags": ["ok", "{escaped}"]}}}}'
    assert_invalid(post_raw(app, URL, text, alice), name="data.tags.1")
    nothing_stored(app, alice)


@pytest.mark.parametrize("label, escaped", BAD_STRINGS)
def test_bad_strings_in_keys_are_400(app, alice, label, escaped):
    text = f'{{"data": {{"title": "t", "author": {{"{escaped}": 1}}}}}}'
    body = assert_invalid(post_raw(app, URL, text, alice), name="data.author")
    assert "key" in body["details"][0]["description"]
    nothing_stored(app, alice)


def test_bad_strings_in_a_shareable_record_are_400(app, alice):
    text = r'{"data": {"text": "t", "free": "\u0000"}}'
    assert_invalid(post_raw(app, NOTES, text, alice), name="data.free")
    text = r'{"data": {"text": "t"}, "permissions": {"read": ["\ud800"]}}'
    assert_invalid(post_raw(app, NOTES, text, alice), name="permissions.read.0")


@pytest.mark.parametrize(
    "raw",
    [b'{"data": {"title": "\xff"}}', b'{"data": {"title": "\xed\xa0\x80"}}', b"\xef\xbb\xbf{}"],
    ids=["invalid-utf8", "encoded-surrogate", "bom"],
)
def test_body_not_utf8_json_is_400_errno_106(app, alice, raw):
    response = post_raw(app, URL, raw, alice)
    assert response.status_code == 400
    assert response.json["errno"] == 106
    nothing_stored(app, alice)


def test_body_in_another_unicode_encoding_is_400_errno_106(app, alice):
    raw = json.dumps({"data": {"title": "t"}}).encode("utf-16")
    response = post_raw(app, URL, raw, alice)
    assert response.status_code == 400
    assert response.json["errno"] == 106


# Depth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 600])
def test_deep_nesting_is_400_naming_where(app, alice, depth):
    nested = "[" * depth + "]" * depth
    text = f'{{"data": {{"title": "t", "author": {{"x": {nested}}}}}}}'
    body = assert_invalid(post_raw(app, URL, text, alice), name="data.author.x" + ".0" * 61)
    assert "64" in body["details"][0]["description"]
    nothing_stored(app, alice)


@pytest.mark.parametrize("depth", [5000, 100000])
def test_nesting_past_what_the_parser_reads_is_400_errno_106(app, alice, depth):
    nested = "[" * depth + "]" * depth
    text = f'{{"data": {{"title": "t", "author": {{"x": {nested}}}}}}}'
    assert_invalid(post_raw(app, URL, text, alice), name=None, errno=106)
    nothing_stored(app, alice)


def test_deep_nesting_in_a_patch_is_400(app, alice):
    created = app.post_json(URL, {"data": {"title": "t"}}, headers=alice).json["data"]
    url = f"{URL}/{created['id']}"
    nested = "{" + '"a": {' * 700 + "}" * 700 + "}"
    response = post_raw(
        app, url, f'{{"data": {{"author": {nested}}}}}', alice, method="patch",
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 400
    assert app.get(url, headers=alice).json["data"] == created


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_nesting_within_the_limit_is_stored(app, alice):
    nested: dict = {}
    for _ in range(30):
        nested = {"a": nested}
    response = app.post_json(URL, {"data": {"title": "t", "author": nested}}, headers=alice)
    assert response.json["data"]["author"] == nested


# Querystring -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, name",
    [
        ("title=%00", "title"),
        ("title=a%00b", "title"),
        ("title=%22%5Cu0000%22", "title"),
        ("title=%22%5Cud800%22", "title"),
        ("in_title=a,%22%5Cud800%22", "in_title"),
        ("like_title=%00", "like_title"),
        ("author.name=%00", "author.name"),
        ("rank=99999999999999999999", "rank"),
        ("rank=-9223372036854775809", "rank"),
        ("in_rank=1,99999999999999999999", "in_rank"),
        ("gt_rank=1e400", "gt_rank"),
        ("_since=99999999999999999999", "_since"),
        ("_before=99999999999999999999", "_before"),
        ("_since=-99999999999999999999", "_since"),
        ("in_last_modified=1,99999999999999999999", "in_last_modified"),
        ("last_modified=99999999999999999999", "last_modified"),
        ("_limit=99999999999999999999999", "_limit"),
    ],
)
def test_querystring_values_no_backend_handles_are_400(app, alice, query, name):
    app.post_json(URL, {"data": {"title": "t"}}, headers=alice)
    response = app.get(f"{URL}?{query}", headers=alice, expect_errors=True)
    assert_invalid(response, location="querystring", name=name)
    delete = app.delete(f"{URL}?{query}", headers=alice, expect_errors=True)
    assert_invalid(delete, location="querystring", name=name)
    assert len(app.get(URL, headers=alice).json["data"]) == 1


@pytest.mark.parametrize(
    "query, name",
    [
        ("title=%FF", "title"),
        ("a=1&title=%ED%A0%80", "title"),
        ("_sort=%FF", "_sort"),
        ("_token=%C0%AF", "_token"),
        ("%FF=1", None),
    ],
)
def test_querystring_not_utf8_is_400_naming_the_parameter(app, alice, query, name):
    response = app.get(f"{URL}?{query}", headers=alice, expect_errors=True)
    assert_invalid(response, location="querystring", name=name)


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_in_range_integers_filter_on_last_modified_and_since(app, alice):
    app.post_json(URL, {"data": {"title": "t"}}, headers=alice)
    for query in (f"_since={INT64_MIN}", f"_before={INT64_MAX}", f"in_last_modified={INT64_MAX}"):
        assert app.get(f"{URL}?{query}", headers=alice).status_code == 200


# Limits on the cost of one request ------------------------------------------------------


def test_too_many_filters_is_400_naming_the_first_one_over(app, alice):
    query = "&".join(f"title={i}" for i in range(1200))
    response = app.get(f"{URL}?{query}", headers=alice, expect_errors=True)
    body = assert_invalid(response, location="querystring", name="title")
    assert "50" in body["details"][0]["description"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filters_up_to_the_limit_are_served(app, alice):
    query = "&".join(f"not_title={i}" for i in range(50))
    assert app.get(f"{URL}?{query}", headers=alice).status_code == 200


@pytest.mark.parametrize("count", [11, 500])
def test_too_many_sort_fields_is_400(app, alice, count):
    sort = ",".join(["title", "-rank"] * count)[: None]
    fields = ",".join(f"author.f{i}" for i in range(count))
    for query in (f"_sort={fields}", f"_sort={sort}"):
        response = app.get(f"{URL}?{query}", headers=alice, expect_errors=True)
        assert_invalid(response, location="querystring", name="_sort")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_sort_fields_up_to_the_limit_are_served(app, alice):
    fields = ",".join(f"author.f{i}" for i in range(10))
    assert app.get(f"{URL}?_sort={fields}", headers=alice).status_code == 200


def test_too_many_in_values_is_400(app, alice):
    values = ",".join(str(i) for i in range(501))
    for param in ("in_title", "exclude_title", "in_last_modified"):
        response = app.get(f"{URL}?{param}={values}", headers=alice, expect_errors=True)
        assert_invalid(response, location="querystring", name=param)


def test_limits_are_settings(make_resource_app, alice):
    app = make_resource_app(
        {"cliquet.max_filters": "2", "cliquet.max_sort_fields": "1", "cliquet.max_in_values": "3"}
    )
    assert app.get(f"{URL}?title=a&not_title=b", headers=alice).status_code == 200
    assert_invalid(
        app.get(f"{URL}?title=a&not_title=b&rank=1", headers=alice, expect_errors=True),
        location="querystring",
        name="rank",
    )
    assert_invalid(
        app.get(f"{URL}?_sort=title,rank", headers=alice, expect_errors=True),
        location="querystring",
        name="_sort",
    )
    assert_invalid(
        app.get(f"{URL}?in_rank=1,2,3,4", headers=alice, expect_errors=True),
        location="querystring",
        name="in_rank",
    )


# Paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/articles/%FF",
        "/v1/articles/%ED%A0%80",
        "/v1/%FF",
        "/%FF",
        "/v1/articles%FF",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_paths_not_utf8_are_400(app, alice, path, method):
    response = app.request(path, method=method, headers=alice, expect_errors=True)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.json["errno"] == 107
    assert response.json["details"][0]["location"] == "path"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/articles/a%0Ab",
        "/v1/articles/%00",
        "/v1/articles%0A",  # a route pattern's $ matches before a final LF
        "/v1/%0A",
        "/a%0Ab",  # else redirected, the LF in the Location header
        "/a%0D%0ASet-Cookie:%20x=1",
        "/v1/articles%7F",
    ],
)
def test_control_characters_in_paths_are_400(app, alice, path):
    response = app.get(path, headers=alice, expect_errors=True)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.json["errno"] == 107
    assert response.json["details"][0]["location"] == "path"
    assert "Set-Cookie" not in response.headers


def test_redirects_keep_the_path_percent_encoded(app):
    response = app.get("/articles/caf%C3%A9%20x?a=1", status=307)
    assert response.headers["Location"] == "http://localhost/v1/articles/caf%C3%A9%20x?a=1"


def test_record_id_with_null_in_body_is_400(app, alice):
    text = r'{"data": {"id": "\u0000", "title": "t"}}'
    response = post_raw(app, URL, text, alice)
    assert_invalid(response, name="data.id")


# Batch -----------------------------------------------------------------------------------


def batch_raw(app, text, headers):
    return post_raw(app, "/v1/batch", text, headers)


@pytest.mark.parametrize(
    "subrequest, name",
    [
        ('{"method": "POST", "path": "/articles", "body": {"data": {"n": NaN}}}',
         "requests.0.body.data.n"),
        ('{"method": "POST", "path": "/articles", "body": {"data": {"n": 1e400}}}',
         "requests.0.body.data.n"),
        (r'{"method": "POST", "path": "/articles", "body": {"data": {"t": "\ud800"}}}',
         "requests.0.body.data.t"),
        (r'{"path": "/articles/\u0000"}', "requests.0.path"),
        (r'{"path": "/articles\n"}', "requests.0.path"),
        (r'{"path": "/articles/%FF"}', "requests.0.path"),
        (r'{"path": "/%FF"}', "requests.0.path"),
        (r'{"path": "/articles?title=%FF"}', "requests.0.path"),
        (r'{"path": "/articles", "headers": {"X-A": "\ud800"}}', "requests.0.headers"),
        (r'{"path": "/articles", "headers": {"X-A": "a\nb"}}', "requests.0.headers"),
    ],
)
def test_bad_batch_subrequests_are_400_and_nothing_runs(app, alice, subrequest, name):
    first = '{"method": "POST", "path": "/articles", "body": {"data": {"title": "first"}}}'
    text = f'{{"requests": [{subrequest}, {first}]}}'
    response = batch_raw(app, text, alice)
    assert response.status_code == 400, response.text
    assert response.content_type == "application/json"
    assert response.json["details"][0]["name"].startswith(name)
    nothing_stored(app, alice)


def test_batch_deep_nesting_is_400(app, alice):
    nested = "[" * 2000 + "]" * 2000
    text = f'{{"requests": [{{"path": "/articles", "body": {nested}}}]}}'
    response = batch_raw(app, text, alice)
    assert response.status_code == 400
    assert response.content_type == "application/json"


def test_batch_body_over_the_limit_is_413(make_resource_app, alice):
    app = make_resource_app({"cliquet.max_request_body_bytes": "2000"})
    requests = [{"method": "POST", "path": "/articles", "body": {"data": {"title": "x" * 100}}}]
    response = app.post_json(
        "/v1/batch", {"requests": requests * 20}, headers=alice, expect_errors=True
    )
    assert response.status_code == 413
    assert response.json["errno"] == 113
    nothing_stored(app, alice)


def test_batch_of_lists_with_many_sort_keys_is_refused_at_once(app, alice):
    sort = ",".join(f"author.f{i}" for i in range(300))
    requests = [{"path": f"/articles?_sort={sort}"}] * 25
    response = app.post_json("/v1/batch", {"requests": requests}, headers=alice)
    assert {r["status"] for r in response.json["responses"]} == {400}
