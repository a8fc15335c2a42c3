"""Item 12: hostile bodies, querystrings, paths and batch subrequests are 4xx JSON errors.

Never a 5xx, never a 503 (clients retry those forever), nothing stored, and the collections
answer afterwards.
"""

import json

import pytest

from cliquet.errors import ERRORS
from tests.security.hostile import assert_answered, assert_refused, send

JSON = {"Content-Type": "application/json"}
BIG = "99999999999999999999999"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _record(fields: str) -> bytes:
    return ('{"data": {"title": "x", ' + fields + "}}").encode()


def _param(method, path, body=None, name=None, *, id):
    return pytest.param(method, path, body, name, id=id)


BODIES = [
    _param(
        "POST", "/v1/articles", b'{"data": {"title": "\\ud800"}}', "title", id="lone-surrogate"
    ),
    _param("POST", "/v1/articles", b'{"data": {"title": "a\\udfffb"}}', "title", id="lone-low"),
    _param("POST", "/v1/articles", _record('"author": {"\\ud800": 1}'), id="surrogate-in-key"),
    _param("POST", "/v1/articles", _record('"author": {"k": ["\\udc00"]}'), id="surrogate-deep"),
    _param("POST", "/v1/articles", b'{"data": {"title": "a\\u0000b"}}', "title", id="nul"),
    _param("POST", "/v1/articles", _record('"author": {"a\\u0000": 1}'), id="nul-in-key"),
    _param("POST", "/v1/articles", _record('"tags": ["\\u0000"]'), id="nul-in-list"),
    _param(
        "POST", "/v1/articles", _record('"author": {"k": {"\\u0000": "\\u0000"}}'), id="nul-deep"
    ),
    _param("POST", "/v1/notes", b'{"data": {"text": "n", "\\u0000": 1}}', id="note-nul-key"),
    _param("POST", "/v1/notes", b'{"data": {"text": "n", "\\ud800": 1}}', id="note-surrogate-key"),
    _param("POST", "/v1/notes", b'{"data": {"text": "\\u0000"}}', "text", id="note-nul"),
    _param(
        "POST",
        "/v1/notes",
        b'{"data": {"text": "n"}, "permissions": {"read": ["\\u0000"]}}',
        id="note-nul-principal",
    ),
    _param(
        "POST",
        "/v1/notes",
        b'{"data": {"text": "n"}, "permissions": {"read": ["\\ud800"]}}',
        id="note-surrogate-principal",
    ),
    _param("POST", "/v1/articles", _record(f'"author": {{"a": {_nested(600)}}}'), id="nested-600"),
    _param(
        "POST", "/v1/articles", _record(f'"author": {{"a": {_nested(5000)}}}'), id="nested-5000"
    ),
    _param("POST", "/v1/articles", _nested(100000).encode(), id="nested-100000-bare"),
    _param(
        "POST",
        "/v1/notes",
        f'{{"data": {{"text": "n", "v": {_nested(600)}}}}}'.encode(),
        id="note-nested-600",
    ),
    _param("POST", "/v1/articles", b'{"data": {"title": "\xff\xfe"}}', id="invalid-utf8"),
    _param("POST", "/v1/articles", b'{"data": {"title": "\xed\xa0\x80"}}', id="utf8-surrogate"),
    _param("POST", "/v1/articles", b'{"data": {"title": "\xc0\xaf"}}', id="overlong-utf8"),
    _param("POST", "/v1/articles", '{"data": {"title": "é"}}'.encode("utf-16"), id="utf16"),
    _param("POST", "/v1/articles", b'{"data": {"title": "x"}', id="truncated"),
    _param("POST", "/v1/articles", b'{"data": {"title": "x"}} trailing', id="trailing-garbage"),
    _param("POST", "/v1/articles", b'{"data": {"title": "x", "title": 1}}', id="duplicate-keys"),
    _param("POST", "/v1/articles", b"", id="empty-body"),
    _param("POST", "/v1/articles", b"null", id="null"),
    _param("POST", "/v1/articles", b'{"data": "x"}', "data", id="data-not-object"),
    _param("POST", "/v1/articles", b'{"data": {"title": "x"}, "permissions": 1}', id="perms-1"),
]


@pytest.mark.parametrize("method, path, body, name", BODIES)
def test_hostile_bodies_are_refused(app, alice, nothing_stored, method, path, body, name):
    answer = send(app, method, path, body, {**alice, **JSON})
    assert_refused(answer, name=name)
    nothing_stored()
    _collections_answer(app, alice)


RECORD_BODIES = [
    pytest.param(b'{"data": {"title": "\\ud800"}}', id="lone-surrogate"),
    pytest.param(b'{"data": {"title": "\\u0000"}}', id="nul"),
    pytest.param(b'{"data": {"author": {"\\u0000": 1}}}', id="nul-in-key"),
    pytest.param(('{"data": {"author": {"a": ' + _nested(600) + "}}}").encode(), id="nested-600"),
    pytest.param(
        ('{"data": {"author": {"a": ' + _nested(5000) + "}}}").encode(), id="nested-5000"
    ),
    pytest.param(b'{"data": {"title": "\xff"}}', id="invalid-utf8"),
]


@pytest.mark.parametrize("body", RECORD_BODIES)
@pytest.mark.parametrize(
    "method, content_type",
    [
        ("PUT", "application/json"),
        ("PATCH", "application/json"),
        ("PATCH", "application/merge-patch+json"),
    ],
)
def test_hostile_record_writes_are_refused(app, alice, method, content_type, body):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    path = f"/v1/articles/{record['data']['id']}"
    answer = send(app, method, path, body, {**alice, "Content-Type": content_type})
    assert_refused(answer)
    assert app.get(path, headers=alice).json["data"] == record["data"]
    _collections_answer(app, alice)


def _q(query, name, *, id, allowed=()):
    # A query that may be served reaches the storage: that case runs on every backend.
    marks = pytest.mark.backends("memory", "sqlite", "postgresql") if allowed else ()
    return pytest.param(query, name, allowed, id=id, marks=marks)


QUERIES = [
    _q("title=%00", "title", id="nul-value"),
    _q("title=a%00b", "title", id="nul-inside-value"),
    _q("title=%ED%A0%80", "title", id="surrogate-value"),
    _q("title=%FF", "title", id="invalid-utf8-value"),
    _q("like_title=%00", "title", id="like-nul"),
    _q("in_title=a,%00", "title", id="in-nul"),
    _q("exclude_title=%ED%A0%80", "title", id="exclude-surrogate"),
    _q("author.k=%00", "author", id="subfield-nul"),
    _q("title=%22%5Cu0000%22", "title", id="json-escaped-nul-value"),
    _q("title=%22%5Cud800%22", "title", id="json-escaped-surrogate-value"),
    _q("in_title=%22%5Cu0000%22,a", "title", id="in-json-escaped-nul"),
    # Too deep to be read as JSON: it may also be read as the string it is.
    _q("title=" + "%5B" * 5000 + "%5D" * 5000, "title", id="nested-5000-value", allowed=(200,)),
    _q("author.v=" + "%5B" * 100 + "%5D" * 100, "author", id="nested-100-value", allowed=(200,)),
    _q("id=%00", "id", id="id-nul"),
    _q("in_id=a,%00", "id", id="in-id-nul"),
    _q("not_id=%ED%A0%80", "id", id="not-id-surrogate"),
    _q("like_id=%00", "id", id="like-id-nul"),
    _q("_fields=title,%00", "_fields", id="fields-nul-among"),
    _q("%00=1", None, id="nul-key"),
    _q("ti%00tle=1", None, id="nul-inside-key"),
    _q("%FF=1", None, id="invalid-utf8-key"),
    _q("author.%00=1", None, id="nul-subfield-key"),
    _q("_sort=%00", "_sort", id="sort-nul"),
    _q("_sort=%FF", "_sort", id="sort-invalid-utf8"),
    _q("_fields=%00", "_fields", id="fields-nul"),
    _q("_token=%00", "_token", id="token-nul"),
    _q("_token=%FF", "_token", id="token-invalid-utf8"),
    _q("_since=%00", "_since", id="since-nul"),
    _q(f"rank={BIG}", "rank", id="rank-past-64-bits"),
    _q(f"min_rank={BIG}", "rank", id="min-rank-past-64-bits"),
    _q(f"not_rank=-{BIG}", "rank", id="not-rank-past-64-bits"),
    _q(f"in_rank=1,{BIG}", "rank", id="in-rank-past-64-bits"),
    _q(f"author.v={BIG}", "author", id="subfield-past-64-bits"),
    _q(f"_since={BIG}", "_since", id="since-past-64-bits"),
    _q(f"_since=-{BIG}", "_since", id="since-negative-past-64-bits"),
    _q(f"_before={BIG}", "_before", id="before-past-64-bits"),
    _q(f"last_modified={BIG}", "last_modified", id="last-modified-past-64-bits"),
    _q(f"gt_last_modified={BIG}", "last_modified", id="gt-last-modified-past-64-bits"),
    _q(f"in_last_modified=1,{BIG}", "last_modified", id="in-last-modified-past-64-bits"),
    _q("_since=1e400", "_since", id="since-1e400"),
    _q("_since=NaN", "_since", id="since-nan"),
    _q("_before=Infinity", "_before", id="before-infinity"),
    _q("_limit=NaN", "_limit", id="limit-nan"),
    _q("_limit=-1", "_limit", id="limit-negative"),
    _q("_limit=0", "_limit", id="limit-zero"),
    _q("_limit=1e400", "_limit", id="limit-1e400"),
    # A huge page size may also be capped to the largest page (the protocol says capped).
    _q(f"_limit={BIG}", "_limit", id="limit-past-64-bits", allowed=(200,)),
    # Non-finite filter values may also be read as strings matching nothing.
    _q("rank=NaN", "rank", id="rank-nan", allowed=(200,)),
    _q("min_author.v=Infinity", "author", id="subfield-infinity", allowed=(200,)),
    _q("author.v=1e400", "author", id="subfield-1e400", allowed=(200,)),
    _q("max_last_modified=NaN", "last_modified", id="last-modified-nan"),
    _q("&".join(f"author.k{i}=1" for i in range(1200)), None, id="1200-filters"),
    _q("_sort=" + ",".join(f"author.k{i}" for i in range(500)), "_sort", id="sort-500-fields"),
    _q("in_title=" + ",".join(str(i) for i in range(5000)), "title", id="in-5000-values"),
    _q("in_rank=" + ",".join(str(i) for i in range(5000)), "rank", id="in-rank-5000-values"),
]


@pytest.mark.parametrize("query, name, allowed", QUERIES)
@pytest.mark.parametrize("resource", ["articles", "notes"])
def test_hostile_querystrings_are_refused(app, alice, resource, query, name, allowed):
    if resource == "notes":
        query = query.replace("title", "text").replace("rank", "text").replace("author", "x")
        name = name and name.replace("title", "text").replace("rank", "text")
        name = name and name.replace("author", "x")
    record = {"title": "t"} if resource == "articles" else {"text": "t"}
    app.post_json(f"/v1/{resource}", {"data": record}, headers=alice, status=201)
    for method in ("GET", "HEAD", "DELETE"):
        answer = send(app, method, f"/v1/{resource}?{query}", None, alice)
        if answer.status in allowed:
            assert_answered(answer)
            continue
        if method == "HEAD":
            assert 400 <= answer.status < 500, answer
            continue
        assert_refused(answer, name=name)
    _collections_answer(app, alice, expect=1)


PATHS = [
    pytest.param("GET", "/v1/articles/%FF", id="record-id-invalid-utf8"),
    pytest.param("PUT", "/v1/articles/%FF", id="put-record-id-invalid-utf8"),
    pytest.param("PATCH", "/v1/articles/%FF", id="patch-record-id-invalid-utf8"),
    pytest.param("DELETE", "/v1/articles/%FF", id="delete-record-id-invalid-utf8"),
    pytest.param("PUT", "/v1/notes/%FF", id="put-note-id-invalid-utf8"),
    pytest.param("GET", "/v1/articles/%ED%A0%80", id="record-id-surrogate"),
    pytest.param("PUT", "/v1/articles/%ED%A0%80", id="put-record-id-surrogate"),
    pytest.param("PUT", "/v1/articles/%00", id="put-record-id-nul"),
    pytest.param("GET", "/v1/articles/%00", id="record-id-nul"),
    pytest.param("GET", "/v1/notes/%00", id="note-id-nul"),
    pytest.param("PUT", "/v1/notes/%00", id="put-note-id-nul"),
    pytest.param("PATCH", "/v1/notes/%00", id="patch-note-id-nul"),
    pytest.param("DELETE", "/v1/notes/%00", id="delete-note-id-nul"),
    pytest.param("GET", "/v1/notes/%ED%A0%80", id="note-id-surrogate"),
    pytest.param("PUT", "/v1/articles/a%00b", id="put-record-id-nul-inside"),
    pytest.param("GET", "/v1/articles/%C0%AF", id="record-id-overlong"),
    pytest.param("GET", "/v1/articles/%C3%A9", id="record-id-non-ascii"),
    pytest.param("DELETE", "/v1/notes/%C3%A9", id="delete-note-id-non-ascii"),
    pytest.param("GET", "/v1/articles/%0A", id="record-id-lf"),
    pytest.param("PUT", "/v1/articles/%0A", id="put-record-id-lf"),
    pytest.param("PUT", "/v1/notes/x%0Ay", id="put-note-id-lf"),
    pytest.param("GET", "/v1/articles%0A", id="collection-lf"),
    pytest.param("GET", "/v1/%FF", id="unknown-path-invalid-utf8"),
    pytest.param("POST", "/v1/%FF", id="post-unknown-path-invalid-utf8"),
    pytest.param("GET", "/v1/articles%FF", id="collection-invalid-utf8"),
    pytest.param("GET", "/v1/%0A", id="unknown-path-lf"),
    pytest.param("GET", "/v1/%ED%A0%80", id="unknown-path-surrogate"),
    pytest.param("GET", "/v1/articles/%FF/x", id="under-record-invalid-utf8"),
    pytest.param("GET", "/v1/articles/" + "a" * 5000, id="record-id-5000-chars"),
    pytest.param("PUT", "/v1/articles/" + "a" * 5000, id="put-record-id-5000-chars"),
]


@pytest.mark.parametrize("method, path", PATHS)
def test_hostile_paths_are_refused(app, alice, nothing_stored, method, path):
    body = b'{"data": {"title": "x", "text": "x"}}' if method in ("PUT", "PATCH", "POST") else None
    answer = send(app, method, path, body, {**alice, **JSON})
    assert_refused(answer)
    nothing_stored()
    _collections_answer(app, alice)


UNPREFIXED = ["/%FF", "/%0A", "/%ED%A0%80", "/articles/%FF", "/%FF?x=%FF", "/%00"]


@pytest.mark.parametrize("path", UNPREFIXED)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_hostile_unprefixed_paths_are_refused_or_redirected(
    app, alice, nothing_stored, method, path
):
    # The redirect to the prefixed path (307) is the protocol's; it must be a valid one.
    body = b'{"data": {"title": "x"}}' if method == "PUT" else None
    answer = send(app, method, path, body, {**alice, **JSON})
    if 300 <= answer.status < 400:
        location = answer.headers.get("Location", "")
        assert location and location.isascii() and "\n" not in location, answer
        assert all(c not in location for c in " \r\n\x00"), answer
    else:
        assert_refused(answer)
    nothing_stored()


def _sub(path, body=None, *, method="POST", headers=None):
    sub = {"method": method, "path": path}
    if body is not None:
        sub["body"] = body
    if headers is not None:
        sub["headers"] = headers
    return json.dumps(sub)


GOOD = {"data": {"title": "x", "text": "x"}}
SUBREQUESTS = [
    pytest.param(_sub("/articles/%FF", GOOD, method="PUT"), id="path-invalid-utf8"),
    pytest.param(_sub("/%FF", GOOD), id="unknown-path-invalid-utf8"),
    pytest.param(_sub("/articles/%ED%A0%80", GOOD, method="PUT"), id="path-surrogate-escape"),
    pytest.param(
        _sub("/articles/\\udcff", GOOD, method="PUT").replace("\\\\u", "\\u"),
        id="path-lone-surrogate",
    ),
    pytest.param(
        _sub("/articles/\\u0000", GOOD, method="PUT").replace("\\\\u", "\\u"), id="path-nul"
    ),
    pytest.param(_sub("/articles\n", GOOD), id="path-lf"),
    pytest.param(_sub("/articles/\u00e9", GOOD, method="PUT"), id="path-non-ascii"),
    pytest.param(_sub("/notes/\u00e9?in_read=0", method="DELETE"), id="delete-path-non-ascii"),
    pytest.param(_sub("/articles/\u00e9", method="GET"), id="get-path-non-ascii"),
    pytest.param(_sub("/articles/%0A", GOOD, method="PUT"), id="path-escaped-lf"),
    pytest.param(_sub("/articles?title=%00", method="GET"), id="query-nul"),
    pytest.param(_sub(f"/articles?_since={BIG}", method="GET"), id="query-past-64-bits"),
    pytest.param(
        '{"method": "POST", "path": "/articles", "body": {"data": {"title": "\\ud800"}}}',
        id="body-lone-surrogate",
    ),
    pytest.param(
        '{"method": "POST", "path": "/articles", "body": {"data": {"title": "\\u0000"}}}',
        id="body-nul",
    ),
    pytest.param(
        '{"method": "POST", "path": "/articles", "body": {"data": {"title": "x", '
        f'"author": {{"a": {_nested(600)}}}}}}}}}',
        id="body-nested-600",
    ),
    pytest.param(
        '{"method": "POST", "path": "/articles", "body": {"data": {"title": "x", '
        '"author": {"v": NaN}}}}',
        id="body-nan",
    ),
    pytest.param(_sub("/articles", GOOD, headers={"Content-Type": "text/plain"}), id="text-plain"),
    pytest.param(_sub("/articles", GOOD, headers={"X-A": "a\r\nX-B: b"}), id="header-crlf"),
    pytest.param(_sub("/articles", GOOD, headers={"X-A\u0000": "a"}), id="header-name-nul"),
    pytest.param(_sub("/articles", GOOD, headers={"X A": "a"}), id="header-name-space"),
    pytest.param(_sub("/articles", GOOD, headers={"If-Match": "\u0000"}), id="if-match-nul"),
    pytest.param(_sub("/articles", GOOD, headers={"If-Match": "\ud800"}), id="if-match-surrogate"),
    pytest.param(
        _sub("/articles", GOOD, headers={"Authorization": "Basic Og=="}), id="auth-empty"
    ),
    pytest.param(_sub("/articles", GOOD, method="POST\n"), id="method-lf"),
]


@pytest.mark.parametrize("subrequest", SUBREQUESTS)
def test_hostile_batch_subrequests_are_refused(app, alice, nothing_stored, subrequest):
    body = ('{"requests": [' + subrequest + "]}").encode()
    answer = send(app, "POST", "/v1/batch", body, {**alice, **JSON})
    if answer.status == 200:
        assert_answered(answer)
        for slot in answer.json()["responses"]:
            assert 400 <= slot["status"] < 500, answer
            assert slot["body"]["errno"] in {int(e) for e in ERRORS}, answer
    else:
        assert_refused(answer)
    nothing_stored()
    _collections_answer(app, alice)


HEADERS = [
    pytest.param({"If-Match": f'"{BIG}"'}, id="if-match-past-64-bits"),
    pytest.param({"If-Match": '"-1"'}, id="if-match-negative"),
    pytest.param({"If-Match": '"NaN"'}, id="if-match-nan"),
    pytest.param({"If-Match": "\xff"}, id="if-match-latin1"),
    pytest.param({"If-None-Match": f'"{BIG}"'}, id="if-none-match-past-64-bits"),
    pytest.param({"If-Modified-Since": "\xff"}, id="if-modified-since-latin1"),
    pytest.param({"Accept-Language": "\xff" * 100}, id="accept-language-latin1"),
    pytest.param({"Origin": "\xff"}, id="origin-latin1"),
    pytest.param({"Authorization": "Basic " + "A" * 20000}, id="authorization-20k"),
    pytest.param({"Authorization": "Bearer \xff"}, id="authorization-bearer-latin1"),
    pytest.param({"Accept": "\xff/\xff"}, id="accept-latin1"),
    pytest.param({"Content-Type": "application/json; charset=\xff"}, id="charset-latin1"),
    pytest.param({"Content-Type": "application/json; charset=latin-1"}, id="charset-latin1-name"),
    pytest.param({"Content-Type": "application/json; charset=nonsense"}, id="charset-unknown"),
]


@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_hostile_headers_are_answered(app, alice, method, headers):
    record = app.post_json("/v1/articles", {"data": {"title": "kept"}}, headers=alice).json
    path = f"/v1/articles/{record['data']['id']}"
    body = b'{"data": {"title": "x"}}' if method == "PUT" else None
    answer = send(app, method, path, body, {**alice, **JSON, **headers})
    assert_answered(answer)
    if answer.status >= 400:
        assert app.get(path, headers=alice).json["data"] == record["data"]
    _collections_answer(app, alice, expect=1)


def _collections_answer(app, alice, expect=None):
    for collection in ("articles", "notes"):
        answer = send(app, "GET", f"/v1/{collection}", None, alice)
        assert_answered(answer)
        assert answer.status == 200, answer
    if expect is not None:
        assert len(app.get("/v1/articles", headers=alice).json["data"]) <= expect
