"""The record endpoint of a UserResource (``/v1/articles/{id}``), through HTTP only.

Reads, replacements, merges, deletions and their preconditions, as PROTOCOL.md promises.
"""

import email.utils
import json
import uuid

import pytest

URL = "/v1/articles"
UNKNOWN_ID = "2dc1483f-a0af-44d0-aa85-5c5100e834bb"
# Ids the UUID4 generator never produces.
INVALID_IDS = [
    "not-a-uuid",
    "abc",
    "2DC1483F-A0AF-44D0-AA85-5C5100E834BB",  # upper case
    "2dc1483f-a0af-14d0-aa85-5c5100e834bb",  # version 1
    "2dc1483f-a0af-44d0-aa85-5c5100e834bb0",  # too long
    "2dc1483fa0af44d0aa855c5100e834bb",  # no dashes
    "2dc1483f-a0af-44d0-aa85-5c5100e834b%21",  # "!"
    "%20",
]


# Helpers ---------------------------------------------------------------------------------


def assert_error(response, status, errno):
    """The response is cliquet's JSON error of ``status`` and ``errno``; returns its body."""
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.json
    assert body["code"] == status
    assert body["errno"] == errno
    assert body["error"] == response.status.split(" ", 1)[1]
    assert isinstance(body["message"], str) and body["message"]
    return body


def assert_invalid(response, *, location, name, errno=107):
    """A 400 whose ``details`` name exactly one faulty part of the request."""
    body = assert_error(response, 400, errno)
    assert [(d["location"], d["name"]) for d in body["details"]] == [(location, name)]
    return body


def create(app, headers, **fields):
    fields.setdefault("title", "untitled")
    return app.post_json(URL, {"data": fields}, headers=headers, status=201).json["data"]


def url(record):
    return f"{URL}/{record['id'] if isinstance(record, dict) else record}"


def get(app, headers, record):
    return app.get(url(record), headers=headers).json["data"]


@pytest.fixture
def article(app, alice):
    return create(app, alice, title="Title", body="Body", rank=1, author={"name": "Ann", "age": 3})


# GET -------------------------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_get_record(app, alice, article):
    response = app.get(url(article), headers=alice)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json == {"data": article}
    timestamp = article["last_modified"]
    assert response.headers["ETag"] == f'"{timestamp}"'
    last_modified = email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
    assert last_modified.tzinfo is not None
    assert int(last_modified.timestamp()) == timestamp // 1000
    assert response.headers["Last-Modified"].endswith(" GMT")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_get_another_users_record_is_404_errno_110(app, alice, bob, article):
    response = app.get(url(article), headers=bob, expect_errors=True)
    assert_error(response, 404, 110)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_unknown_record_is_404_errno_110(app, alice, method):
    response = app.request(
        url(UNKNOWN_ID),
        method=method,
        body=b'{"data": {"title": "x"}}',
        headers={**alice, "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 404, 110)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("record_id", INVALID_IDS)
def test_id_the_generator_never_makes_is_400_in_path(app, alice, method, record_id):
    response = app.request(
        url(record_id),
        method=method,
        body=b'{"data": {"title": "x"}}',
        headers={**alice, "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_invalid(response, location="path", name="id")
    assert app.get(URL, headers=alice).json["data"] == []


def test_get_with_fields(app, alice, article):
    response = app.get(f"{url(article)}?_fields=title,rank", headers=alice)
    assert response.json == {
        "data": {
            "id": article["id"],
            "last_modified": article["last_modified"],
            "title": "Title",
            "rank": 1,
        }
    }
    assert response.headers["ETag"] == f'"{article["last_modified"]}"'
    response = app.get(f"{url(article)}?_fields=read", headers=alice)
    assert response.json == {
        "data": {"id": article["id"], "last_modified": article["last_modified"]}
    }


def test_get_with_nested_fields(app, alice, article):
    response = app.get(f"{url(article)}?_fields=author.age", headers=alice)
    assert response.json == {
        "data": {
            "id": article["id"],
            "last_modified": article["last_modified"],
            "author": {"age": 3},
        }
    }


def test_get_with_fields_on_unknown_field_is_400(app, alice, article):
    response = app.get(f"{url(article)}?_fields=unknown", headers=alice, expect_errors=True)
    assert_invalid(response, location="querystring", name="_fields")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_get_if_none_match_current_etag_is_304(app, alice, article):
    etag = f'"{article["last_modified"]}"'
    response = app.get(url(article), headers={**alice, "If-None-Match": etag}, status=304)
    assert response.body == b""
    assert response.headers["ETag"] == etag


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_get_if_none_match_old_etag_is_200(app, alice, article):
    etag = f'"{article["last_modified"]}"'
    app.patch_json(url(article), {"data": {"rank": 2}}, headers=alice)
    response = app.get(url(article), headers={**alice, "If-None-Match": etag})
    assert response.status_code == 200
    assert response.json["data"]["rank"] == 2


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_get_if_match_mismatch_is_412(app, alice, article):
    response = app.get(url(article), headers={**alice, "If-Match": '"1"'}, expect_errors=True)
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == article


# PUT -------------------------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_creates_201(app, alice):
    record_id = str(uuid.uuid4())
    response = app.put_json(url(record_id), {"data": {"title": "new", "rank": 2}}, headers=alice)
    assert response.status_code == 201
    record = response.json["data"]
    assert record == {
        "id": record_id,
        "last_modified": record["last_modified"],
        "title": "new",
        "rank": 2,
    }
    assert response.headers["ETag"] == f'"{record["last_modified"]}"'
    assert get(app, alice, record_id) == record


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_replaces_200_and_fields_not_sent_are_gone(app, alice, article):
    response = app.put_json(url(article), {"data": {"title": "Replaced"}}, headers=alice)
    assert response.status_code == 200
    record = response.json["data"]
    assert record == {
        "id": article["id"],
        "last_modified": record["last_modified"],
        "title": "Replaced",
    }
    assert record["last_modified"] > article["last_modified"]
    assert response.headers["ETag"] == f'"{record["last_modified"]}"'
    assert get(app, alice, article) == record


def test_put_with_the_same_id_in_body(app, alice, article):
    response = app.put_json(
        url(article), {"data": {"id": article["id"], "title": "Same"}}, headers=alice
    )
    assert response.status_code == 200
    assert response.json["data"]["title"] == "Same"


def test_put_with_another_id_in_body_is_400(app, alice, article):
    response = app.put_json(
        url(article),
        {"data": {"id": UNKNOWN_ID, "title": "Other"}},
        headers=alice,
        expect_errors=True,
    )
    assert_invalid(response, location="body", name="data.id")
    assert get(app, alice, article) == article
    assert app.get(url(UNKNOWN_ID), headers=alice, expect_errors=True).status_code == 404


def test_put_schema_violation_is_400_and_nothing_stored(app, alice, article):
    response = app.put_json(
        url(article), {"data": {"title": "x", "rank": "high"}}, headers=alice, expect_errors=True
    )
    body = assert_error(response, 400, 107)
    assert [(d["location"], d["name"]) for d in body["details"]] == [("body", "data.rank")]
    assert get(app, alice, article) == article
    response = app.put_json(url(UNKNOWN_ID), {"data": {}}, headers=alice, expect_errors=True)
    body = assert_error(response, 400, 107)
    assert [(d["location"], d["name"]) for d in body["details"]] == [("body", "data.title")]
    assert app.get(url(UNKNOWN_ID), headers=alice, expect_errors=True).status_code == 404


@pytest.mark.parametrize("body", [b"", b"{}", b'{"data": []}', b'{"data": "x"}', b"[1]"])
def test_put_without_data_object_is_400_errno_109(app, alice, article, body):
    response = app.put(
        url(article),
        body,
        headers={**alice, "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 400, 109)
    assert get(app, alice, article) == article


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_malformed_json_is_400_errno_106(app, alice, article, method):
    response = app.request(
        url(article),
        method=method,
        body=b'{"data": {"title": ',
        headers={**alice, "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 400, 106)
    assert get(app, alice, article) == article


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_on_another_users_id_does_not_touch_theirs(app, alice, bob, article):
    response = app.put_json(url(article), {"data": {"title": "bob's"}}, headers=bob)
    assert response.status_code == 201
    assert get(app, alice, article) == article
    assert get(app, bob, article)["title"] == "bob's"


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_drops_client_last_modified(app, alice, article):
    record = app.put_json(
        url(article), {"data": {"title": "x", "last_modified": 1}}, headers=alice
    ).json["data"]
    assert record["last_modified"] > article["last_modified"]


# PATCH -----------------------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_patch_merges_top_level_fields(app, alice, article):
    response = app.patch_json(
        url(article), {"data": {"rank": 5, "author": {"age": 4}, "tags": ["a"]}}, headers=alice
    )
    assert response.status_code == 200
    record = response.json["data"]
    assert record == {
        "id": article["id"],
        "last_modified": record["last_modified"],
        "title": "Title",
        "body": "Body",
        "rank": 5,
        # Top-level merge: the object is replaced, not merged.
        "author": {"age": 4},
        "tags": ["a"],
    }
    assert record["last_modified"] > article["last_modified"]
    assert response.headers["ETag"] == f'"{record["last_modified"]}"'
    assert get(app, alice, article) == record


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_patch_top_level_null_removes_an_optional_field(app, alice, article):
    record = app.patch_json(url(article), {"data": {"body": None}}, headers=alice).json["data"]
    assert "body" not in record
    assert record["title"] == "Title"


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_merge_patch_is_rfc_7396(app, alice, article):
    patch = {"data": {"author": {"age": None, "city": "Oslo"}, "body": None, "rank": 2}}
    response = app.patch(
        url(article),
        json.dumps(patch),
        headers={**alice, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    record = response.json["data"]
    assert record == {
        "id": article["id"],
        "last_modified": record["last_modified"],
        "title": "Title",
        "rank": 2,
        "author": {"name": "Ann", "city": "Oslo"},
    }
    assert get(app, alice, article) == record


def test_merge_patch_with_charset(app, alice, article):
    response = app.patch(
        url(article),
        json.dumps({"data": {"author": {"name": "Bo"}}}),
        headers={**alice, "Content-Type": "application/merge-patch+json; charset=utf-8"},
    )
    assert response.json["data"]["author"] == {"name": "Bo", "age": 3}


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_patch_on_another_users_record_is_404_errno_110(app, alice, bob, article):
    response = app.patch_json(
        url(article), {"data": {"title": "bob's"}}, headers=bob, expect_errors=True
    )
    assert_error(response, 404, 110)
    assert get(app, alice, article) == article


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rank": "high"}, "data.rank"),
        ({"title": None}, "data.title"),
        ({"title": 3}, "data.title"),
        ({"tags": "x"}, "data.tags"),
    ],
)
def test_patch_breaking_the_schema_is_400_and_nothing_stored(app, alice, article, data, field):
    response = app.patch_json(url(article), {"data": data}, headers=alice, expect_errors=True)
    body = assert_error(response, 400, 107)
    assert [(d["location"], d["name"]) for d in body["details"]] == [("body", field)]
    assert get(app, alice, article) == article
    assert app.get(URL, headers=alice).headers["ETag"] == f'"{article["last_modified"]}"'


def test_merge_patch_removing_a_required_field_is_400(app, alice, article):
    response = app.patch(
        url(article),
        json.dumps({"data": {"title": None}}),
        headers={**alice, "Content-Type": "application/merge-patch+json"},
        expect_errors=True,
    )
    body = assert_error(response, 400, 107)
    assert [d["name"] for d in body["details"]] == ["data.title"]
    assert get(app, alice, article) == article


def test_patch_cannot_set_id_or_last_modified(app, alice, article):
    response = app.patch_json(
        url(article),
        {"data": {"id": UNKNOWN_ID, "last_modified": 1, "rank": 9}},
        headers=alice,
    )
    record = response.json["data"]
    assert record["id"] == article["id"]
    assert record["last_modified"] > article["last_modified"]
    assert record["rank"] == 9
    assert get(app, alice, article) == record
    assert app.get(url(UNKNOWN_ID), headers=alice, expect_errors=True).status_code == 404


@pytest.mark.parametrize("body", [b'{"data": []}', b'{"data": "x"}', b"[]", b"1"])
def test_patch_with_non_object_data_is_400_errno_109(app, alice, article, body):
    response = app.patch(
        url(article),
        body,
        headers={**alice, "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 400, 109)
    assert get(app, alice, article) == article


# DELETE ----------------------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_returns_the_tombstone(app, alice, article):
    response = app.delete(url(article), headers=alice)
    assert response.status_code == 200
    tombstone = response.json["data"]
    assert response.json == {
        "data": {"id": article["id"], "last_modified": tombstone["last_modified"], "deleted": True}
    }
    assert tombstone["last_modified"] > article["last_modified"]
    assert response.headers["ETag"] == f'"{tombstone["last_modified"]}"'
    assert_error(app.get(url(article), headers=alice, expect_errors=True), 404, 110)
    assert_error(app.delete(url(article), headers=alice, expect_errors=True), 404, 110)
    assert app.get(URL, headers=alice).json["data"] == []


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_another_users_record_is_404_errno_110(app, alice, bob, article):
    assert_error(app.delete(url(article), headers=bob, expect_errors=True), 404, 110)
    assert get(app, alice, article) == article


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_after_delete_recreates(app, alice, article):
    tombstone = app.delete(url(article), headers=alice).json["data"]
    response = app.put_json(url(article), {"data": {"title": "again"}}, headers=alice)
    assert response.status_code == 201
    assert response.json["data"]["last_modified"] > tombstone["last_modified"]


# Preconditions ---------------------------------------------------------------------------


def _write(app, method, record, headers, **kwargs):
    body = {"data": {"title": "changed"}}
    if method == "PUT":
        return app.put_json(url(record), body, headers=headers, **kwargs)
    if method == "PATCH":
        return app.patch_json(url(record), body, headers=headers, **kwargs)
    return app.delete(url(record), headers=headers, **kwargs)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_if_match_current_etag_writes(app, alice, article, method):
    headers = {**alice, "If-Match": f'"{article["last_modified"]}"'}
    response = _write(app, method, article, headers)
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_if_match_mismatch_is_412_with_existing(app, alice, article, method):
    headers = {**alice, "If-Match": f'"{article["last_modified"] - 1}"'}
    response = _write(app, method, article, headers, expect_errors=True)
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == article
    assert get(app, alice, article) == article


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_if_match_after_a_concurrent_write_is_412(app, alice, article, method):
    old_etag = f'"{article["last_modified"]}"'
    current = app.patch_json(url(article), {"data": {"rank": 7}}, headers=alice).json["data"]
    response = _write(app, method, article, {**alice, "If-Match": old_etag}, expect_errors=True)
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == current


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("etag", ['"abc"', "abc", '""', '"1.5"'])
def test_malformed_if_match_is_400(app, alice, article, method, etag):
    response = _write(app, method, article, {**alice, "If-Match": etag}, expect_errors=True)
    assert_invalid(response, location="header", name="If-Match")
    assert get(app, alice, article) == article


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_if_match_on_a_record_that_does_not_exist_is_412(app, alice):
    response = app.put_json(
        url(UNKNOWN_ID),
        {"data": {"title": "x"}},
        headers={**alice, "If-Match": '"123"'},
        expect_errors=True,
    )
    assert_error(response, 412, 114)
    assert app.get(url(UNKNOWN_ID), headers=alice, expect_errors=True).status_code == 404


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_if_none_match_star_on_existing_is_412(app, alice, article):
    response = app.put_json(
        url(article),
        {"data": {"title": "x"}},
        headers={**alice, "If-None-Match": "*"},
        expect_errors=True,
    )
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == article
    assert get(app, alice, article) == article


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_put_if_none_match_star_on_new_is_201(app, alice):
    response = app.put_json(
        url(UNKNOWN_ID), {"data": {"title": "x"}}, headers={**alice, "If-None-Match": "*"}
    )
    assert response.status_code == 201
    assert get(app, alice, UNKNOWN_ID)["title"] == "x"


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_last_modified_strictly_increases_across_writes(app, alice):
    timestamps = []
    record = create(app, alice, title="0")
    timestamps.append(record["last_modified"])
    for i in range(1, 6):
        record = app.put_json(url(record), {"data": {"title": str(i)}}, headers=alice).json["data"]
        timestamps.append(record["last_modified"])
        record = app.patch_json(url(record), {"data": {"rank": i}}, headers=alice).json["data"]
        timestamps.append(record["last_modified"])
    other = create(app, alice, title="other")
    timestamps.append(other["last_modified"])
    timestamps.append(app.delete(url(record), headers=alice).json["data"]["last_modified"])
    assert timestamps == sorted(set(timestamps))
    assert app.get(URL, headers=alice).headers["ETag"] == f'"{timestamps[-1]}"'
