"""A user without rights on a shared record learns nothing of it, whatever the path.

Alice owns a note; Bob has no right on it; Carol may read it. Every answer that would carry a
record (a POST of its id, a 412's or a 409's ``details.existing``, a batch slot) is a 403 for
Bob, and never holds the note's content.
"""

import json

import pytest

from cliquet.authentication import basicauth_userid
from cliquet.testing.web import TEST_SETTINGS, basic_auth

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]
ALICE = basicauth_userid(SECRET, "alice", "pw")
CAROL = basicauth_userid(SECRET, "carol", "pw")
NOTE_ID = "3a6b5c1e-6f8e-4f0b-9b7b-6d5b1d2f7a10"
OTHER_ID = "7d1c0b9e-2a4f-4e6b-8c3d-5f9a1b2c3d4e"
SECRET_TEXT = "alice's secret"
URL = f"/v1/notes/{NOTE_ID}"


@pytest.fixture
def carol():
    return basic_auth("carol", "pw")


@pytest.fixture
def note(app, alice):
    """Alice's note, readable by Carol, with the unique code ``A1``."""
    body = {
        "data": {"id": NOTE_ID, "text": SECRET_TEXT, "code": "A1"},
        "permissions": {"read": [CAROL]},
    }
    return app.post_json("/v1/notes", body, headers=alice, status=201).json


def assert_discloses_nothing(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno
    assert "existing" not in json.dumps(response.json)
    assert SECRET_TEXT not in response.text
    assert NOTE_ID not in response.json.get("message", "")


def assert_unchanged(app, alice, note):
    assert app.get(URL, headers=alice).json == note


# POST of an existing id


def test_post_of_an_existing_id_is_forbidden_without_rights(app, alice, bob, note):
    body = {"data": {"id": NOTE_ID, "text": "bob's"}}
    response = app.post_json("/v1/notes", body, headers=bob, status=403)
    assert_discloses_nothing(response, 403, 121)
    assert_unchanged(app, alice, note)


def test_post_of_an_existing_id_with_if_none_match_is_forbidden(app, alice, bob, note):
    body = {"data": {"id": NOTE_ID, "text": "bob's"}}
    headers = {**bob, "If-None-Match": "*"}
    response = app.post_json("/v1/notes", body, headers=headers, status=403)
    assert_discloses_nothing(response, 403, 121)
    assert_unchanged(app, alice, note)


def test_anonymous_post_of_an_existing_id_asks_to_authenticate(make_resource_app, alice):
    app = make_resource_app({"cliquet.note_create_principals": "system.Everyone"})
    body = {"data": {"id": NOTE_ID, "text": SECRET_TEXT}}
    app.post_json("/v1/notes", body, headers=alice, status=201)
    response = app.post_json("/v1/notes", {"data": {"id": NOTE_ID, "text": "x"}}, status=401)
    assert_discloses_nothing(response, 401, 104)


def test_batch_post_of_an_existing_id_is_forbidden_without_rights(app, alice, bob, note):
    body = {
        "defaults": {"method": "POST", "path": "/notes", "headers": bob},
        "requests": [
            {"body": {"data": {"id": NOTE_ID, "text": "bob's"}}},
            {
                "body": {"data": {"id": NOTE_ID, "text": "bob's"}},
                "headers": {"If-None-Match": "*"},
            },
        ],
    }
    response = app.post_json("/v1/batch", body, status=200)
    assert SECRET_TEXT not in response.text
    for slot in response.json["responses"]:
        assert slot["status"] == 403
        assert slot["body"]["errno"] == 121
        assert "existing" not in json.dumps(slot["body"])
    assert_unchanged(app, alice, note)


def test_reader_posting_an_existing_id_gets_the_record(app, alice, carol, note):
    body = {"data": {"id": NOTE_ID, "text": "carol's"}}
    response = app.post_json("/v1/notes", body, headers=carol, status=200)
    # Of the permissions, a reader is shown only the principals it holds.
    assert response.json == {"data": note["data"], "permissions": {"read": [CAROL]}}
    headers = {**carol, "If-None-Match": "*"}
    response = app.post_json("/v1/notes", body, headers=headers, status=412)
    assert response.json["details"]["existing"] == note["data"]
    assert_unchanged(app, alice, note)


def test_collection_readers_posting_an_existing_id_get_the_record(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_read_principals": "system.Authenticated"})
    created = app.post_json(
        "/v1/notes", {"data": {"id": NOTE_ID, "text": SECRET_TEXT}}, headers=alice, status=201
    ).json
    response = app.post_json("/v1/notes", {"data": {"id": NOTE_ID, "text": "x"}}, headers=bob)
    assert response.status_code == 200
    assert response.json == {"data": created["data"], "permissions": {}}


# Preconditions on the record's URL


@pytest.mark.parametrize(
    "headers",
    [{"If-None-Match": "*"}, {"If-Match": '"123"'}, {"If-Match": "*"}, {}],
    ids=["if-none-match-star", "if-match-stale", "if-match-star", "no-precondition"],
)
@pytest.mark.parametrize("method", ["put_json", "patch_json"])
def test_writes_on_the_url_are_forbidden_without_rights(app, alice, bob, note, method, headers):
    response = getattr(app, method)(
        URL, {"data": {"text": "bob's"}}, headers={**bob, **headers}, status=403
    )
    assert_discloses_nothing(response, 403, 121)
    assert_unchanged(app, alice, note)


@pytest.mark.parametrize("headers", [{"If-Match": '"123"'}, {"If-None-Match": "*"}, {}])
def test_delete_is_forbidden_without_rights(app, alice, bob, note, headers):
    response = app.delete(URL, headers={**bob, **headers}, status=403)
    assert_discloses_nothing(response, 403, 121)
    assert_unchanged(app, alice, note)


def test_reader_cannot_replace_whatever_the_preconditions(app, alice, carol, note):
    for headers in ({"If-None-Match": "*"}, {"If-Match": '"123"'}, {}):
        response = app.put_json(
            URL, {"data": {"text": "carol's"}}, headers={**carol, **headers}, status=403
        )
        assert response.json["errno"] == 121
    assert_unchanged(app, alice, note)


def test_writer_gets_the_existing_record_in_a_412(app, alice, note):
    headers = {**alice, "If-Match": '"123"'}
    response = app.put_json(URL, {"data": {"text": "x"}}, headers=headers, status=412)
    assert response.json["details"]["existing"] == note["data"]


# Unique constraints


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_unique_conflict_with_a_record_not_readable_discloses_nothing(app, bob, note):
    body = {"data": {"text": "bob's", "code": "A1"}}
    response = app.post_json("/v1/notes", body, headers=bob, status=409)
    assert_discloses_nothing(response, 409, 122)
    assert response.json["details"] == {"field": "code"}

    response = app.put_json(f"/v1/notes/{OTHER_ID}", body, headers=bob, status=409)
    assert_discloses_nothing(response, 409, 122)
    app.get(f"/v1/notes/{OTHER_ID}", headers=bob, status=403)


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_unique_conflict_with_a_readable_record_shows_it(app, carol, note):
    body = {"data": {"text": "carol's", "code": "A1"}}
    response = app.post_json("/v1/notes", body, headers=carol, status=409)
    assert response.json["details"] == {"field": "code", "existing": note["data"]}


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_unique_conflict_in_a_batch_discloses_nothing(app, bob, note):
    body = {
        "requests": [
            {
                "method": "POST",
                "path": "/notes",
                "headers": bob,
                "body": {"data": {"text": "bob's", "code": "A1"}},
            }
        ]
    }
    response = app.post_json("/v1/batch", body, status=200)
    slot = response.json["responses"][0]
    assert slot["status"] == 409
    assert "existing" not in slot["body"]["details"]
    assert SECRET_TEXT not in response.text
