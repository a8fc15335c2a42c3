"""A hostile second user against the rights of shared and private records.

Alice owns a note shared with Carol (read) and with ``group:friends`` (read); Bob holds no
right on it, only the collection's ``create``. Whatever Bob sends (filters, preconditions,
tokens, batches, permission names, principals that look like others), he learns nothing
of the note and changes nothing of it. Readers learn the record, and of its permissions only
what they hold themselves: who else it is shared with is the writers' business.
"""

import json

import pytest

from cliquet.authentication import basicauth_userid
from cliquet.testing.web import TEST_SETTINGS, basic_auth

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]
ALICE = basicauth_userid(SECRET, "alice", "pw")
BOB = basicauth_userid(SECRET, "bob", "pw")
CAROL = basicauth_userid(SECRET, "carol", "pw")
NOTE_ID = "3a6b5c1e-6f8e-4f0b-9b7b-6d5b1d2f7a10"
MISSING_ID = "7d1c0b9e-2a4f-4e6b-8c3d-5f9a1b2c3d4e"
SECRET_TEXT = "alice's secret"
URL = f"/v1/notes/{NOTE_ID}"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


@pytest.fixture
def carol():
    return basic_auth("carol", "pw")


@pytest.fixture
def note(app, alice):
    """Alice's note: Carol and group:friends may read it, its unique code is ``A1``."""
    body = {
        "data": {"id": NOTE_ID, "text": SECRET_TEXT, "code": "A1"},
        "permissions": {"read": [CAROL, "group:friends"]},
    }
    return app.post_json("/v1/notes", body, headers=alice, status=201).json


def assert_forbidden(response):
    assert response.status_code == 403
    assert response.content_type == "application/json"
    assert response.json["errno"] == 121
    assert SECRET_TEXT not in response.text
    assert NOTE_ID not in response.text
    assert "existing" not in response.text


def assert_unchanged(app, alice, note):
    assert app.get(URL, headers=alice).json == note


def listing(app, auth, query=""):
    return app.get(f"/v1/notes{query}", headers=auth)


# Reads of one record


@pytest.mark.parametrize(
    "query,headers",
    [
        ("", {}),
        ("?_fields=text", {}),
        ("", {"If-None-Match": "*"}),
        ("", {"If-Match": "*"}),
        ("", {"If-Match": '"1"'}),
    ],
)
def test_reading_an_unreadable_record_is_403_whatever_the_query(app, bob, note, query, headers):
    etag = note["data"]["last_modified"]
    for extra in (headers, {"If-None-Match": f'"{etag}"'}):
        for method in (app.get, app.head):
            response = method(f"{URL}{query}", headers={**bob, **extra}, status=403)
            assert SECRET_TEXT not in response.text


def test_reads_do_not_tell_an_unreadable_record_from_a_missing_one(app, bob, note):
    existing = app.get(URL, headers=bob, status=403)
    missing = app.get(f"/v1/notes/{MISSING_ID}", headers=bob, status=403)
    assert existing.json == missing.json
    assert_forbidden(existing)


def test_anonymous_learns_nothing_of_a_note(app, note):
    for url in (URL, "/v1/notes", "/v1/notes?_since=0", f"/v1/notes?id={NOTE_ID}"):
        response = app.get(url, status=401)
        assert SECRET_TEXT not in response.text
        assert response.json["errno"] == 104


# Lists: filters never widen what the user may see


@pytest.mark.parametrize(
    "query",
    [
        f"?id={NOTE_ID}",
        f"?in_id={NOTE_ID},{MISSING_ID}",
        f"?not_id={MISSING_ID}",
        f"?exclude_id={MISSING_ID}",
        "?has_code=true",
        "?code=A1",
        "?like_text=*secret*",
        "?min_last_modified=0",
        "?_since=0",
        "?_before=9999999999999",
        f"?_since=0&id={NOTE_ID}",
        "?_fields=text&_sort=text",
    ],
)
def test_filters_never_reach_an_unreadable_record(app, bob, note, query):
    response = listing(app, bob, query)
    assert response.json["data"] == []
    assert SECRET_TEXT not in response.text
    assert app.head(f"/v1/notes{query}", headers=bob).headers["Total-Records"] == "0"


def test_a_readers_filters_see_only_the_note(app, alice, bob, carol, note):
    bobs = app.post_json("/v1/notes", {"data": {"text": "bob's"}}, headers=bob).json["data"]
    response = listing(app, carol, f"?in_id={NOTE_ID},{bobs['id']}")
    assert [r["id"] for r in response.json["data"]] == [NOTE_ID]
    assert app.head("/v1/notes?has_text=true", headers=carol).headers["Total-Records"] == "1"


def test_a_page_token_of_another_user_is_refused(app, alice, note):
    for i in range(3):
        app.post_json("/v1/notes", {"data": {"text": f"n{i}"}}, headers=alice, status=201)
    next_page = listing(app, alice, "?_limit=1").headers["Next-Page"]
    token = next_page.split("_token=")[1]
    for auth in (basic_auth("bob", "pw"), basic_auth("alice", "other password")):
        response = app.get(f"/v1/notes?_limit=1&_token={token}", headers=auth, status=400)
        assert response.json["errno"] == 107
        assert SECRET_TEXT not in response.text


def test_a_page_token_widens_nothing_for_its_own_user(app, alice, bob, note):
    for i in range(3):
        app.post_json("/v1/notes", {"data": {"text": f"b{i}"}}, headers=bob, status=201)
    seen = []
    url = "/v1/notes?_limit=1"
    while url:
        response = app.get(url, headers=bob)
        seen += [r["id"] for r in response.json["data"]]
        url = response.headers.get("Next-Page")
    assert len(seen) == 3
    assert NOTE_ID not in seen


# Tombstones


def test_tombstones_of_records_never_readable_stay_hidden(app, alice, bob, carol, note):
    app.delete(URL, headers=alice)
    assert listing(app, bob, "?_since=0").json["data"] == []
    assert listing(app, bob, "?_before=9999999999999").json["data"] == []
    assert [r["id"] for r in listing(app, carol, "?_since=0").json["data"]] == [NOTE_ID]
    # A tombstone is no right on the URL.
    assert_forbidden(app.get(URL, headers=carol, status=403))
    response = app.patch_json(URL, {"data": {"text": "x"}}, headers=carol, status=403)
    assert_forbidden(response)


def test_a_reader_of_a_tombstone_gets_nothing_of_the_id_recreated(app, alice, bob, carol, note):
    app.delete(URL, headers=alice)
    body = {"data": {"id": NOTE_ID, "text": "bob's secret"}}
    app.post_json("/v1/notes", body, headers=bob, status=201)
    response = listing(app, carol, "?_since=0")
    assert response.json["data"] == []
    assert "bob's secret" not in response.text


# Writes on a record without the right


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/json", {"permissions": {"write": [BOB]}}),
        ("application/json", {"permissions": {"read": [BOB]}}),
        (MERGE_PATCH, {"permissions": {"write": [BOB]}}),
        (JSON_PATCH, [{"op": "add", "path": "/permissions/write/-", "value": BOB}]),
        (JSON_PATCH, [{"op": "replace", "path": "/data/text", "value": "x"}]),
    ],
)
def test_a_reader_cannot_give_themselves_rights(app, alice, carol, note, content_type, body):
    headers = {**carol, "Content-Type": content_type}
    response = app.patch(URL, json.dumps(body), headers=headers, status=403)
    assert response.json["errno"] == 121
    assert_unchanged(app, alice, note)


@pytest.mark.parametrize("auth", ["bob", "carol"])
def test_put_on_a_taken_id_with_only_create_is_refused(app, alice, note, auth):
    body = {"data": {"text": "mine"}, "permissions": {"write": ["system.Everyone"]}}
    headers = basic_auth(auth, "pw")
    for extra in ({}, {"If-None-Match": "*"}, {"If-Match": "*"}):
        response = app.put_json(URL, body, headers={**headers, **extra}, status=403)
        assert response.json["errno"] == 121
        assert "existing" not in response.text
    assert_unchanged(app, alice, note)


@pytest.mark.parametrize("query", ["", f"?id={NOTE_ID}", f"?in_id={NOTE_ID}", "?code=A1"])
@pytest.mark.parametrize("auth", ["bob", "carol"])
def test_deleting_the_collection_never_deletes_what_the_user_may_not_write(
    app, alice, note, query, auth
):
    response = app.delete(f"/v1/notes{query}", headers=basic_auth(auth, "pw"))
    assert response.json["data"] == []
    assert_unchanged(app, alice, note)


def test_batch_subrequests_with_another_users_credentials_act_as_that_user(app, alice, bob, note):
    body = {
        "requests": [
            {"method": "GET", "path": f"/notes/{NOTE_ID}", "headers": bob},
            {
                "method": "PATCH",
                "path": f"/notes/{NOTE_ID}",
                "headers": bob,
                "body": {"permissions": {"write": [BOB]}},
            },
            {"method": "DELETE", "path": "/notes", "headers": bob},
            {"method": "GET", "path": f"/notes?id={NOTE_ID}", "headers": bob},
        ]
    }
    # Sent with Alice's credentials, the subrequests still are Bob's.
    response = app.post_json("/v1/batch", body, headers=alice, status=200)
    statuses = [slot["status"] for slot in response.json["responses"]]
    assert statuses == [403, 403, 200, 200]
    assert SECRET_TEXT not in response.text
    assert response.json["responses"][3]["body"]["data"] == []
    assert_unchanged(app, alice, note)


# Permission names and principals


@pytest.mark.parametrize("name", ["read_tombstone", "create", "Read", "write ", "admin"])
def test_only_read_and_write_may_be_given(app, alice, note, name):
    principals = [BOB]
    body = {"data": {"text": "x"}, "permissions": {name: principals}}
    for response in (
        app.post_json("/v1/notes", body, headers=alice, expect_errors=True),
        app.put_json(f"/v1/notes/{MISSING_ID}", body, headers=alice, expect_errors=True),
        app.patch_json(
            URL, {"permissions": {name: principals}}, headers=alice, expect_errors=True
        ),
        app.patch(
            URL,
            json.dumps([{"op": "add", "path": f"/permissions/{name}", "value": principals}]),
            headers={**alice, "Content-Type": JSON_PATCH},
            expect_errors=True,
        ),
    ):
        assert response.status_code == 400
        assert response.json["errno"] == 107
    assert_unchanged(app, alice, note)
    assert listing(app, alice).json["data"] == [note["data"]]


@pytest.mark.parametrize(
    "principal",
    [
        BOB.upper(),
        f" {BOB}",
        f"{BOB} ",
        "System.Everyone",
        "system.everyone",
        "system.Everyone ",
        "Group:friends",
        "group:friends ",
    ],
)
def test_a_principal_grants_only_when_spelt_exactly(app, alice, bob, principal):
    app.app.registry.permission.add_user_principal(BOB, "group:friends")
    body = {"data": {"id": NOTE_ID, "text": SECRET_TEXT}, "permissions": {"read": [principal]}}
    app.post_json("/v1/notes", body, headers=alice, status=201)
    assert_forbidden(app.get(URL, headers=bob, status=403))
    assert listing(app, bob).json["data"] == []


def test_a_group_of_another_user_grants_nothing(app, alice, bob, carol, note):
    app.app.registry.permission.add_user_principal(CAROL, "group:friends")
    assert app.get(URL, headers=carol).json["data"] == note["data"]
    assert_forbidden(app.get(URL, headers=bob, status=403))
    assert listing(app, bob, "?_since=0").json["data"] == []


def test_system_everyone_in_write_is_honoured_as_given(app, alice, bob):
    # By design: sharing with everyone is sharing with everyone.
    body = {
        "data": {"id": NOTE_ID, "text": "public"},
        "permissions": {"write": ["system.Everyone"]},
    }
    app.post_json("/v1/notes", body, headers=alice, status=201)
    app.patch_json(URL, {"data": {"text": "anyone's"}}, status=200)
    assert app.get(URL, headers=bob).json["data"]["text"] == "anyone's"


# What readers learn of the permissions


def test_a_reader_sees_only_the_principals_they_hold(app, alice, carol, note):
    response = app.get(URL, headers=carol)
    assert response.json["data"] == note["data"]
    assert response.json["permissions"] == {"read": [CAROL]}
    assert ALICE not in response.text
    assert "group:friends" not in response.text


def test_a_group_reader_sees_only_their_group(app, bob, note):
    app.app.registry.permission.add_user_principal(BOB, "group:friends")
    response = app.get(URL, headers=bob)
    assert response.json["permissions"] == {"read": ["group:friends"]}
    assert CAROL not in response.text


def test_a_reader_posting_the_id_sees_only_their_principals(app, carol, note):
    body = {"data": {"id": NOTE_ID, "text": "carol's"}}
    response = app.post_json("/v1/notes", body, headers=carol, status=200)
    assert response.json["data"] == note["data"]
    assert response.json["permissions"] == {"read": [CAROL]}


def test_a_public_record_shows_only_the_public_principal(app, alice, bob):
    body = {
        "data": {"id": NOTE_ID, "text": "public"},
        "permissions": {"read": ["system.Everyone", CAROL]},
    }
    app.post_json("/v1/notes", body, headers=alice, status=201)
    assert app.get(URL).json["permissions"] == {"read": ["system.Everyone"]}
    assert app.get(URL, headers=bob).json["permissions"] == {"read": ["system.Everyone"]}


def test_writers_see_all_the_permissions(make_resource_app, alice, bob, carol):
    app = make_resource_app({"cliquet.note_write_principals": CAROL})
    body = {
        "data": {"id": NOTE_ID, "text": SECRET_TEXT},
        "permissions": {"read": ["group:friends"], "write": [BOB]},
    }
    app.post_json("/v1/notes", body, headers=alice, status=201)
    everything = {"read": ["group:friends"], "write": sorted([ALICE, BOB])}
    assert app.get(URL, headers=alice).json["permissions"] == everything
    assert app.get(URL, headers=bob).json["permissions"] == everything
    # A collection-wide writer may change them: it sees them.
    assert app.get(URL, headers=carol).json["permissions"] == everything


def test_a_shared_writer_may_take_the_owners_write_by_design(app, alice, bob):
    body = {"data": {"id": NOTE_ID, "text": "shared"}, "permissions": {"write": [BOB]}}
    app.post_json("/v1/notes", body, headers=alice, status=201)
    app.patch_json(URL, {"permissions": {"write": [BOB]}}, headers=bob, status=200)
    assert_forbidden(app.get(URL, headers=alice, status=403))


# Unique fields


def test_a_unique_conflict_tells_only_that_the_value_is_taken(app, bob, note):
    # By design the value's existence is told (the write cannot succeed); nothing else is.
    response = app.post_json(
        "/v1/notes", {"data": {"text": "x", "code": "A1"}}, headers=bob, status=409
    )
    assert response.json["details"] == {"field": "code"}
    assert NOTE_ID not in response.text
    assert SECRET_TEXT not in response.text


# Private records (UserResource): another user's id, by every path


@pytest.fixture
def article(app, alice):
    body = {"data": {"title": SECRET_TEXT, "rank": 1}}
    return app.post_json("/v1/articles", body, headers=alice, status=201).json["data"]


def test_another_users_article_is_404_by_every_path(app, alice, bob, article):
    url = f"/v1/articles/{article['id']}"
    etag = f'"{article["last_modified"]}"'
    attempts = [
        app.get(url, headers=bob, expect_errors=True),
        app.get(url, headers={**bob, "If-None-Match": etag}, expect_errors=True),
        app.get(f"{url}?_fields=title", headers=bob, expect_errors=True),
        app.head(url, headers=bob, expect_errors=True),
        app.patch_json(url, {"data": {"title": "x"}}, headers=bob, expect_errors=True),
        app.patch_json(
            url, {"data": {"title": "x"}}, headers={**bob, "If-Match": etag}, expect_errors=True
        ),
        app.delete(url, headers=bob, expect_errors=True),
        app.delete(url, headers={**bob, "If-Match": etag}, expect_errors=True),
    ]
    for response in attempts:
        assert response.status_code == 404
        assert SECRET_TEXT not in response.text
    for query in (f"?id={article['id']}", f"?in_id={article['id']}", "?_since=0", "?rank=1"):
        assert app.get(f"/v1/articles{query}", headers=bob).json["data"] == []
        assert app.head(f"/v1/articles{query}", headers=bob).headers["Total-Records"] == "0"
        assert app.delete(f"/v1/articles{query}", headers=bob).json["data"] == []
    # Writes on that id are Bob's own record, with Bob's preconditions.
    app.put_json(
        url, {"data": {"title": "bob's"}}, headers={**bob, "If-None-Match": "*"}, status=201
    )
    body = {"data": {"id": article["id"], "title": "bob's"}}
    response = app.post_json("/v1/articles", body, headers=bob, status=200)
    assert SECRET_TEXT not in response.text
    assert app.get(url, headers=alice).json["data"] == article


def test_another_users_article_in_a_batch_is_404(app, alice, bob, article):
    url = f"/articles/{article['id']}"
    body = {
        "requests": [
            {"method": "GET", "path": url, "headers": bob},
            {"method": "DELETE", "path": url, "headers": bob},
            {"method": "DELETE", "path": "/articles", "headers": bob},
        ]
    }
    response = app.post_json("/v1/batch", body, headers=alice, status=200)
    assert [slot["status"] for slot in response.json["responses"]] == [404, 404, 200]
    assert SECRET_TEXT not in response.text
    assert app.get(f"/v1{url}", headers=alice).json["data"] == article


# Reads decided on the record as it is fetched


def test_a_record_recreated_between_the_check_and_the_read_is_not_shown(
    app, alice, bob, carol, note, monkeypatch
):
    """Carol may read Alice's note when her GET is let in; before it reads the record, Alice
    deletes it and Bob creates his own on that id: Carol must not get Bob's."""
    from cliquet.resource.model import Model

    original = Model.get_record
    interleaved = []

    def get_record(self, record_id, parent_id=None):
        if self.auth == carol["Authorization"] and not interleaved:
            interleaved.append(record_id)
            app.delete(URL, headers=alice, status=200)
            body = {"data": {"text": "bob's secret"}}
            app.put_json(URL, body, headers=bob, status=201)
        return original(self, record_id, parent_id)

    monkeypatch.setattr(Model, "get_record", get_record)
    response = app.get(URL, headers=carol, expect_errors=True)
    assert interleaved == [NOTE_ID]
    assert "bob's secret" not in response.text
    assert response.status_code == 403
    assert response.json["errno"] == 121


@pytest.mark.parametrize("query", ["", "?_since=0", f"?id={NOTE_ID}"])
def test_a_record_recreated_during_a_list_is_not_listed(
    app, alice, bob, carol, note, monkeypatch, query
):
    """The list's rights are read before its records: Alice's note deleted and its id
    re-created by Bob in between, Carol's list must not carry Bob's record."""
    from cliquet.resource.model import Model

    original = Model.list_records
    interleaved = []

    def list_records(self, *args, **kwargs):
        if self.auth == carol["Authorization"] and not interleaved:
            interleaved.append(True)
            app.delete(URL, headers=alice, status=200)
            app.put_json(URL, {"data": {"text": "bob's secret"}}, headers=bob, status=201)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "list_records", list_records)
    response = app.get(f"/v1/notes{query}", headers=carol)
    assert interleaved
    assert "bob's secret" not in response.text
    assert NOTE_ID not in response.text


@pytest.mark.parametrize("change", ["update", "delete"])
def test_what_a_reader_may_still_read_stays_listed_when_written_meanwhile(
    app, alice, carol, note, monkeypatch, change
):
    from cliquet.resource.model import Model

    original = Model.list_records
    interleaved = []

    def list_records(self, *args, **kwargs):
        if self.auth == carol["Authorization"] and not interleaved:
            interleaved.append(True)
            if change == "update":
                app.patch_json(URL, {"data": {"text": "new"}}, headers=alice, status=200)
            else:
                app.delete(URL, headers=alice, status=200)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "list_records", list_records)
    records = app.get("/v1/notes?_since=0", headers=carol).json["data"]
    assert interleaved
    assert [(r["id"], r.get("deleted", False)) for r in records] == [(NOTE_ID, change == "delete")]
