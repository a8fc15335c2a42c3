"""Shareable records over HTTP: read/write principals, collection-wide principals settings.

The test service's ``Note`` (``/v1/notes``) is a ``ShareableResource``: ``text`` required,
``code`` read-only and unique, unknown fields preserved.
"""

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


@pytest.fixture
def carol():
    return basic_auth("carol", "pw")


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["code"] == status
    assert response.json["errno"] == errno


def create(app, auth, permissions=None, **data):
    body = {"data": {"text": "hello", **data}}
    if permissions is not None:
        body["permissions"] = permissions
    return app.post_json("/v1/notes", body, headers=auth, status=201).json


def listed_ids(app, headers=None):
    return sorted(r["id"] for r in app.get("/v1/notes", headers=headers or {}).json["data"])


# Creator and other users


def test_creator_gets_write_and_sees_it_in_permissions(app, alice):
    created = create(app, alice)
    assert created["permissions"] == {"write": [ALICE]}
    assert created["data"]["text"] == "hello"

    fetched = app.get(f"/v1/notes/{created['data']['id']}", headers=alice).json
    assert fetched == created


def test_creator_may_update_and_delete(app, alice):
    note_id = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{note_id}"
    assert app.patch_json(url, {"data": {"text": "b"}}, headers=alice).json["data"]["text"] == "b"
    assert app.put_json(url, {"data": {"text": "c"}}, headers=alice).json["data"]["text"] == "c"
    assert app.delete(url, headers=alice).json["data"]["deleted"] is True


def test_other_user_cannot_read_a_record_not_shared_with_them(app, alice, bob):
    note_id = create(app, alice)["data"]["id"]
    response = app.get(f"/v1/notes/{note_id}", headers=bob, status=403)
    assert_error(response, 403, 121)


@pytest.mark.parametrize("method", ["patch_json", "put_json"])
def test_other_user_cannot_change_a_record_not_shared_with_them(app, alice, bob, method):
    note_id = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{note_id}"
    response = getattr(app, method)(url, {"data": {"text": "bob's"}}, headers=bob, status=403)
    assert_error(response, 403, 121)

    kept = app.get(url, headers=alice).json
    assert kept["data"]["text"] == "hello"
    assert kept["permissions"] == {"write": [ALICE]}


def test_other_user_cannot_delete_a_record_not_shared_with_them(app, alice, bob):
    note_id = create(app, alice)["data"]["id"]
    response = app.delete(f"/v1/notes/{note_id}", headers=bob, status=403)
    assert_error(response, 403, 121)
    app.get(f"/v1/notes/{note_id}", headers=alice, status=200)


def test_other_user_deleting_the_collection_deletes_nothing_of_others(app, alice, bob):
    note_id = create(app, alice)["data"]["id"]
    assert app.delete("/v1/notes", headers=bob).json["data"] == []
    app.get(f"/v1/notes/{note_id}", headers=alice, status=200)


# Anonymous


def test_anonymous_gets_401_on_protected_endpoints(app, alice):
    note_id = create(app, alice)["data"]["id"]
    calls = [
        app.get("/v1/notes", status=401),
        app.post_json("/v1/notes", {"data": {"text": "x"}}, status=401),
        app.delete("/v1/notes", status=401),
        app.get(f"/v1/notes/{note_id}", status=401),
        app.put_json(f"/v1/notes/{note_id}", {"data": {"text": "x"}}, status=401),
        app.patch_json(f"/v1/notes/{note_id}", {"data": {"text": "x"}}, status=401),
        app.delete(f"/v1/notes/{note_id}", status=401),
    ]
    for response in calls:
        assert_error(response, 401, 104)
        assert "WWW-Authenticate" in response.headers
    assert app.get(f"/v1/notes/{note_id}", headers=alice).json["data"]["text"] == "hello"


# Sharing


def test_shared_read_lets_the_other_user_read_but_not_write(app, alice, bob):
    note_id = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{note_id}"
    shared = app.patch_json(url, {"permissions": {"read": [BOB]}}, headers=alice).json
    assert shared["permissions"] == {"read": [BOB], "write": [ALICE]}

    assert app.get(url, headers=bob).json["data"]["text"] == "hello"
    for response in (
        app.patch_json(url, {"data": {"text": "x"}}, headers=bob, status=403),
        app.put_json(url, {"data": {"text": "x"}}, headers=bob, status=403),
        app.delete(url, headers=bob, status=403),
    ):
        assert_error(response, 403, 121)
    assert app.get(url, headers=alice).json["data"]["text"] == "hello"


def test_shared_read_given_at_creation(app, alice, bob):
    created = create(app, alice, permissions={"read": [BOB]})
    assert created["permissions"] == {"read": [BOB], "write": [ALICE]}
    app.get(f"/v1/notes/{created['data']['id']}", headers=bob, status=200)


def test_shared_write_lets_the_other_user_write(app, alice, bob):
    note_id = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{note_id}"
    app.patch_json(url, {"permissions": {"write": [BOB]}}, headers=alice)

    # Whoever shares keeps the right to write.
    permissions = app.get(url, headers=alice).json["permissions"]
    assert permissions == {"write": sorted([ALICE, BOB])}
    # Write implies read.
    assert app.get(url, headers=bob).json["data"]["text"] == "hello"
    patched = app.patch_json(url, {"data": {"text": "by bob"}}, headers=bob).json
    assert patched["data"]["text"] == "by bob"
    assert patched["permissions"] == {"write": sorted([ALICE, BOB])}
    put = app.put_json(url, {"data": {"text": "put by bob"}}, headers=bob).json
    assert put["data"]["text"] == "put by bob"
    assert app.get(url, headers=alice).json["data"]["text"] == "put by bob"


def test_unsharing_takes_the_right_back(app, alice, bob):
    note_id = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    url = f"/v1/notes/{note_id}"
    app.get(url, headers=bob, status=200)
    app.patch_json(url, {"permissions": {"read": []}}, headers=alice)
    assert_error(app.get(url, headers=bob, status=403), 403, 121)
    assert listed_ids(app, bob) == []


def test_lists_show_each_user_what_is_shared_with_them(app, alice, bob, carol):
    read_by_bob = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    written_by_bob = create(app, alice, permissions={"write": [BOB]})["data"]["id"]
    private = create(app, alice)["data"]["id"]
    bobs = create(app, bob)["data"]["id"]

    assert listed_ids(app, alice) == sorted([read_by_bob, written_by_bob, private])
    assert listed_ids(app, bob) == sorted([read_by_bob, written_by_bob, bobs])
    assert listed_ids(app, carol) == []
    response = app.head("/v1/notes", headers=bob)
    assert response.headers["Total-Records"] == "3"


def test_deleting_the_collection_deletes_only_what_the_user_may_write(app, alice, bob):
    read_by_bob = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    written_by_bob = create(app, alice, permissions={"write": [BOB]})["data"]["id"]
    bobs = create(app, bob)["data"]["id"]

    deleted = app.delete("/v1/notes", headers=bob).json["data"]
    assert sorted(t["id"] for t in deleted) == sorted([written_by_bob, bobs])
    assert all(t["deleted"] for t in deleted)
    assert listed_ids(app, alice) == [read_by_bob]


def test_system_authenticated_as_record_principal(app, alice, carol):
    note_id = create(app, alice, permissions={"read": ["system.Authenticated"]})["data"]["id"]
    url = f"/v1/notes/{note_id}"
    assert app.get(url, headers=carol).json["data"]["id"] == note_id
    assert listed_ids(app, carol) == [note_id]
    assert_error(app.patch_json(url, {"data": {"text": "x"}}, headers=carol, status=403), 403, 121)
    assert_error(app.get(url, status=401), 401, 104)


def test_system_everyone_as_record_principal(app, alice, carol):
    public = create(app, alice, permissions={"read": ["system.Everyone"]})["data"]["id"]
    private = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{public}"
    assert app.get(url).json["data"]["id"] == public
    assert app.get(url, headers=carol).json["data"]["id"] == public
    # Lists show anonymous users what is shared with everyone, and only that.
    assert listed_ids(app) == [public]
    assert listed_ids(app, carol) == [public]
    assert_error(app.get(f"/v1/notes/{private}", status=401), 401, 104)
    assert_error(app.patch_json(url, {"data": {"text": "x"}}, status=401), 401, 104)


def test_system_everyone_write_lets_anonymous_write(app, alice):
    note_id = create(app, alice, permissions={"write": ["system.Everyone"]})["data"]["id"]
    url = f"/v1/notes/{note_id}"
    assert app.patch_json(url, {"data": {"text": "anon"}}).json["data"]["text"] == "anon"
    assert app.get(url, headers=alice).json["data"]["text"] == "anon"


# Collection-wide principals from settings


def test_read_principals_setting_lets_anonymous_list_and_read_all(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_read_principals": "system.Everyone"})
    alices = create(app, alice)["data"]["id"]
    bobs = create(app, bob)["data"]["id"]

    assert listed_ids(app) == sorted([alices, bobs])
    assert listed_ids(app, alice) == sorted([alices, bobs])
    assert app.get(f"/v1/notes/{bobs}").json["data"]["id"] == bobs
    assert app.get(f"/v1/notes/{bobs}", headers=alice).json["data"]["id"] == bobs
    # Reading does not give writing.
    url = f"/v1/notes/{bobs}"
    response = app.patch_json(url, {"data": {"text": "x"}}, headers=alice, status=403)
    assert_error(response, 403, 121)


def test_write_principals_setting_lets_authenticated_write_all(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_write_principals": "system.Authenticated"})
    alices = create(app, alice)["data"]["id"]
    url = f"/v1/notes/{alices}"
    assert app.get(url, headers=bob).json["data"]["id"] == alices
    assert app.patch_json(url, {"data": {"text": "b"}}, headers=bob).json["data"]["text"] == "b"
    assert app.delete(url, headers=bob).json["data"]["deleted"] is True
    assert_error(app.get(url, status=401), 401, 104)


def test_create_principals_setting_restricts_creation(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_create_principals": ALICE})
    create(app, alice)
    response = app.post_json("/v1/notes", {"data": {"text": "x"}}, headers=bob, status=403)
    assert_error(response, 403, 121)
    response = app.put_json(
        f"/v1/notes/{NOTE_ID}", {"data": {"text": "x"}}, headers=bob, status=403
    )
    assert_error(response, 403, 121)
    assert_error(app.post_json("/v1/notes", {"data": {"text": "x"}}, status=401), 401, 104)
    assert len(app.get("/v1/notes", headers=alice).json["data"]) == 1


def test_create_principals_setting_may_name_several_users(make_resource_app, alice, bob, carol):
    app = make_resource_app({"cliquet.note_create_principals": f"{ALICE} {BOB}"})
    create(app, alice)
    create(app, bob)
    response = app.post_json("/v1/notes", {"data": {"text": "x"}}, headers=carol, status=403)
    assert_error(response, 403, 121)


def test_put_on_a_new_id_creates_when_allowed_to_create(app, alice, bob):
    url = f"/v1/notes/{NOTE_ID}"
    created = app.put_json(url, {"data": {"text": "new"}}, headers=alice, status=201).json
    assert created["data"]["id"] == NOTE_ID
    assert created["permissions"] == {"write": [ALICE]}
    assert_error(app.get(url, headers=bob, status=403), 403, 121)
    assert listed_ids(app, alice) == [NOTE_ID]


def test_put_on_a_new_id_with_permissions(app, alice, bob):
    url = f"/v1/notes/{NOTE_ID}"
    body = {"data": {"text": "new"}, "permissions": {"read": [BOB]}}
    created = app.put_json(url, body, headers=alice, status=201).json
    assert created["permissions"] == {"read": [BOB], "write": [ALICE]}
    app.get(url, headers=bob, status=200)


# Permissions follow the record's life


def rights_of(app, note_id):
    """The read/write principals stored for a note (its tombstone's readers left out)."""
    return app.app.registry.permission.get_object_permissions(
        f"/notes/{note_id}", ["read", "write"]
    )


def test_deleting_a_record_removes_its_permissions(app, alice, bob):
    url = f"/v1/notes/{NOTE_ID}"
    body = {"data": {"text": "first"}, "permissions": {"read": [BOB], "write": [BOB]}}
    app.put_json(url, body, headers=alice, status=201)
    app.delete(url, headers=alice)
    assert rights_of(app, NOTE_ID) == {}

    recreated = app.put_json(url, {"data": {"text": "again"}}, headers=alice, status=201).json
    assert recreated["permissions"] == {"write": [ALICE]}
    assert_error(app.get(url, headers=bob, status=403), 403, 121)
    assert listed_ids(app, bob) == []


def test_deleting_the_collection_removes_the_permissions(app, alice, bob):
    body = {"data": {"id": NOTE_ID, "text": "first"}, "permissions": {"read": [BOB]}}
    app.post_json("/v1/notes", body, headers=alice, status=201)
    app.delete("/v1/notes", headers=alice)
    assert rights_of(app, NOTE_ID) == {}

    body = {"data": {"id": NOTE_ID, "text": "again"}}
    recreated = app.post_json("/v1/notes", body, headers=alice, status=201).json
    assert recreated["permissions"] == {"write": [ALICE]}
    assert_error(app.get(f"/v1/notes/{NOTE_ID}", headers=bob, status=403), 403, 121)


def test_deleted_record_cannot_be_recreated_by_someone_else_with_old_rights(app, alice, bob):
    url = f"/v1/notes/{NOTE_ID}"
    body = {"data": {"text": "first"}, "permissions": {"write": [BOB]}}
    app.put_json(url, body, headers=alice, status=201)
    app.delete(url, headers=alice)
    recreated = app.put_json(url, {"data": {"text": "bob's"}}, headers=bob, status=201).json
    assert recreated["permissions"] == {"write": [BOB]}
    assert_error(app.get(url, headers=alice, status=403), 403, 121)


# Schema rules of the shared collection


def test_unique_field_conflict(app, alice, bob):
    create(app, alice, code="A1")
    body = {"data": {"text": "x", "code": "A1"}}
    response = app.post_json("/v1/notes", body, headers=bob, status=409)
    assert_error(response, 409, 122)
    assert response.json["details"]["field"] == "code"
    # The conflict is within the shared collection, whoever wrote the other record.
    assert len(app.get("/v1/notes", headers=alice).json["data"]) == 1
    assert app.get("/v1/notes", headers=bob).json["data"] == []


def test_unique_field_conflict_on_put_stores_nothing(app, alice):
    create(app, alice, code="A1")
    url = f"/v1/notes/{NOTE_ID}"
    response = app.put_json(url, {"data": {"text": "x", "code": "A1"}}, headers=alice, status=409)
    assert_error(response, 409, 122)
    assert NOTE_ID not in listed_ids(app, alice)
    assert app.app.registry.permission.get_object_permissions(f"/notes/{NOTE_ID}") == {}


def test_readonly_field_set_at_creation_but_never_changed(app, alice):
    created = create(app, alice, code="A1")
    assert created["data"]["code"] == "A1"
    url = f"/v1/notes/{created['data']['id']}"

    # A conflict with the record as it is: the same PUT on a new id would create it.
    for response in (
        app.patch_json(url, {"data": {"code": "B2"}}, headers=alice, status=409),
        app.put_json(url, {"data": {"text": "x", "code": "B2"}}, headers=alice, status=409),
    ):
        assert_error(response, 409, 122)
        assert response.json["details"][0]["name"] == "data.code"
    assert app.get(url, headers=alice).json["data"]["code"] == "A1"
    # Sending the same value is not a change, and a replacement without it keeps it.
    app.patch_json(url, {"data": {"code": "A1", "text": "y"}}, headers=alice, status=200)
    replaced = app.put_json(url, {"data": {"text": "z"}}, headers=alice).json["data"]
    assert replaced["code"] == "A1"


def test_unknown_fields_are_preserved(app, alice):
    created = create(app, alice, color="blue", extra={"a": 1})
    assert created["data"]["color"] == "blue"
    fetched = app.get(f"/v1/notes/{created['data']['id']}", headers=alice).json
    assert fetched["data"]["extra"] == {"a": 1}


def test_text_is_required(app, alice):
    response = app.post_json("/v1/notes", {"data": {"code": "x"}}, headers=alice, status=400)
    assert_error(response, 400, 107)


@pytest.mark.parametrize(
    "permissions, name",
    [
        ({"admin": [BOB]}, "permissions.admin"),
        ({"read": [BOB], "delete": [BOB]}, "permissions.delete"),
        ({"read": BOB}, "permissions.read"),
        ({"write": {"who": BOB}}, "permissions.write"),
        ({"read": [1]}, "permissions.read.0"),
        ([BOB], "permissions"),
        ("read", "permissions"),
    ],
)
def test_invalid_permissions_are_refused(app, alice, permissions, name):
    body = {"data": {"text": "x"}, "permissions": permissions}
    response = app.post_json("/v1/notes", body, headers=alice, status=400)
    assert_error(response, 400, 107)
    assert response.json["details"][0]["name"] == name
    assert app.get("/v1/notes", headers=alice).json["data"] == []


def test_invalid_permissions_on_patch_change_nothing(app, alice):
    created = create(app, alice)
    url = f"/v1/notes/{created['data']['id']}"
    body = {"data": {"text": "changed"}, "permissions": {"read": BOB}}
    assert_error(app.patch_json(url, body, headers=alice, status=400), 400, 107)
    assert app.get(url, headers=alice).json == created


def test_permissions_on_a_private_resource_are_refused(app, alice):
    body = {"data": {"title": "x"}, "permissions": {"read": [BOB]}}
    response = app.post_json("/v1/articles", body, headers=alice, status=400)
    assert_error(response, 400, 107)
    assert response.json["details"][0]["name"] == "permissions"
    assert app.get("/v1/articles", headers=alice).json["data"] == []
    # Private records have no permissions in their body.
    created = app.post_json("/v1/articles", {"data": {"title": "x"}}, headers=alice).json
    assert "permissions" not in created


# Principals stored for the user in the permission backend


def test_group_principal_of_the_user_reads_what_is_shared_with_the_group(app, alice, bob, carol):
    app.app.registry.permission.add_user_principal(BOB, "group:readers")
    note_id = create(app, alice, permissions={"read": ["group:readers"]})["data"]["id"]
    assert app.get(f"/v1/notes/{note_id}", headers=bob).json["data"]["id"] == note_id
    assert listed_ids(app, bob) == [note_id]
    assert_error(app.get(f"/v1/notes/{note_id}", headers=carol, status=403), 403, 121)


# Tombstones reach those who could read the record


def since_ids(app, headers, since):
    records = app.get(f"/v1/notes?_since={since}", headers=headers).json["data"]
    return sorted((r["id"], bool(r.get("deleted"))) for r in records)


def test_readers_get_the_tombstone_of_a_deleted_record(app, alice, bob, carol):
    read_by_bob = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    written_by_bob = create(app, alice, permissions={"write": [BOB]})["data"]["id"]
    private = create(app, alice)["data"]["id"]
    since = app.get("/v1/notes", headers=bob).headers["ETag"].strip('"')
    for note_id in (read_by_bob, written_by_bob, private):
        app.delete(f"/v1/notes/{note_id}", headers=alice)

    expected = sorted([(read_by_bob, True), (written_by_bob, True)])
    assert since_ids(app, bob, since) == expected
    assert since_ids(app, alice, since) == sorted(expected + [(private, True)])
    assert since_ids(app, carol, since) == []
    # The tombstone is not a record: plain lists and GETs do not show it.
    assert listed_ids(app, bob) == []
    assert_error(app.get(f"/v1/notes/{read_by_bob}", headers=carol, status=403), 403, 121)


def test_readers_get_the_tombstones_on_before(app, alice, bob):
    note_id = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    app.delete(f"/v1/notes/{note_id}", headers=alice)
    after = int(app.get("/v1/notes", headers=alice).headers["ETag"].strip('"')) + 1
    records = app.get(f"/v1/notes?_before={after}", headers=bob).json["data"]
    assert [(r["id"], r["deleted"]) for r in records] == [(note_id, True)]


def test_readers_get_the_tombstones_of_a_collection_delete(app, alice, bob):
    ids = sorted(create(app, alice, permissions={"read": [BOB]})["data"]["id"] for _ in range(3))
    since = app.get("/v1/notes", headers=bob).headers["ETag"].strip('"')
    assert len(app.delete("/v1/notes", headers=alice).json["data"]) == 3
    assert since_ids(app, bob, since) == [(i, True) for i in ids]


def test_group_readers_get_the_tombstone(app, alice, bob):
    app.app.registry.permission.add_user_principal(BOB, "group:readers")
    note_id = create(app, alice, permissions={"read": ["group:readers"]})["data"]["id"]
    app.delete(f"/v1/notes/{note_id}", headers=alice)
    assert since_ids(app, bob, 0) == [(note_id, True)]


def test_a_reader_unshared_before_the_deletion_gets_no_tombstone(app, alice, bob):
    note_id = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    app.patch_json(f"/v1/notes/{note_id}", {"permissions": {"read": []}}, headers=alice)
    app.delete(f"/v1/notes/{note_id}", headers=alice)
    assert since_ids(app, bob, 0) == []


def test_a_recreated_id_does_not_inherit_the_old_readers(app, alice, bob, carol):
    url = f"/v1/notes/{NOTE_ID}"
    body = {"data": {"text": "alice's"}, "permissions": {"read": [BOB], "write": [BOB]}}
    app.put_json(url, body, headers=alice, status=201)
    app.delete(url, headers=alice)
    assert since_ids(app, bob, 0) == [(NOTE_ID, True)]

    recreated = app.put_json(url, {"data": {"text": "carol's"}}, headers=carol, status=201).json
    assert recreated["permissions"] == {"write": [CAROL]}
    assert_error(app.get(url, headers=bob, status=403), 403, 121)
    assert since_ids(app, bob, 0) == []
    assert since_ids(app, carol, 0) == [(NOTE_ID, False)]
    # Nor, deleted again, does its tombstone reach them.
    app.delete(url, headers=carol)
    assert since_ids(app, bob, 0) == []
    assert since_ids(app, carol, 0) == [(NOTE_ID, True)]


def test_old_writers_of_a_deleted_record_need_the_create_right(make_resource_app, alice, bob):
    app = make_resource_app({"cliquet.note_create_principals": ALICE})
    url = f"/v1/notes/{NOTE_ID}"
    body = {"data": {"text": "first"}, "permissions": {"write": [BOB]}}
    app.put_json(url, body, headers=alice, status=201)
    app.delete(url, headers=alice)
    response = app.put_json(url, {"data": {"text": "bob's"}}, headers=bob, status=403)
    assert_error(response, 403, 121)
    assert since_ids(app, bob, 0) == [(NOTE_ID, True)]


# PUT replaces the permissions it is given, PATCH merges them


def permissions_of(app, auth, note_id):
    return app.get(f"/v1/notes/{note_id}", headers=auth).json["permissions"]


def test_put_with_permissions_replaces_all_of_them(app, alice, bob, carol):
    note_id = create(app, alice, permissions={"read": [BOB], "write": [CAROL]})["data"]["id"]
    url = f"/v1/notes/{note_id}"
    body = {"data": {"text": "replaced"}, "permissions": {"write": []}}
    replaced = app.put_json(url, body, headers=alice).json
    assert replaced["permissions"] == {"write": [ALICE]}
    assert_error(app.get(url, headers=bob, status=403), 403, 121)
    assert_error(app.get(url, headers=carol, status=403), 403, 121)


def test_put_naming_only_read_replaces_write_with_the_writer(app, alice, bob, carol):
    note_id = create(app, alice, permissions={"write": [CAROL]})["data"]["id"]
    body = {"data": {"text": "replaced"}, "permissions": {"read": [BOB]}}
    replaced = app.put_json(f"/v1/notes/{note_id}", body, headers=alice).json
    assert replaced["permissions"] == {"read": [BOB], "write": [ALICE]}
    assert listed_ids(app, carol) == []


def test_put_by_a_shared_writer_replaces_and_keeps_them_writer(app, alice, bob):
    note_id = create(app, alice, permissions={"write": [BOB], "read": [CAROL]})["data"]["id"]
    body = {"data": {"text": "bob's"}, "permissions": {"read": [ALICE]}}
    replaced = app.put_json(f"/v1/notes/{note_id}", body, headers=bob).json
    assert replaced["permissions"] == {"read": [ALICE], "write": [BOB]}
    assert permissions_of(app, bob, note_id) == {"read": [ALICE], "write": [BOB]}


def test_put_without_permissions_keeps_them(app, alice, bob, carol):
    note_id = create(app, alice, permissions={"read": [CAROL], "write": [BOB]})["data"]["id"]
    expected = {"read": [CAROL], "write": sorted([ALICE, BOB])}
    url = f"/v1/notes/{note_id}"
    assert (
        app.put_json(url, {"data": {"text": "a"}}, headers=alice).json["permissions"] == expected
    )
    assert app.put_json(url, {"data": {"text": "b"}}, headers=bob).json["permissions"] == expected
    assert app.get(url, headers=carol).json["data"]["text"] == "b"


def test_patch_merges_permissions_and_the_writer_keeps_write(app, alice, bob, carol):
    note_id = create(app, alice, permissions={"read": [BOB]})["data"]["id"]
    url = f"/v1/notes/{note_id}"
    merged = app.patch_json(url, {"permissions": {"write": [CAROL]}}, headers=alice).json
    assert merged["permissions"] == {"read": [BOB], "write": sorted([ALICE, CAROL])}
    merged = app.patch_json(url, {"permissions": {"write": []}}, headers=alice).json
    assert merged["permissions"] == {"read": [BOB], "write": [ALICE]}
    merged = app.patch_json(url, {"data": {"text": "x"}}, headers=alice).json
    assert merged["permissions"] == {"read": [BOB], "write": [ALICE]}


# Racing creators


@pytest.mark.parametrize("method", ["put", "post"])
def test_racing_creators_of_one_id_one_wins_the_other_is_refused(app, alice, bob, method):
    """Alice and Bob create the same new id at the same moment: one creates, one gets 403.

    The window between the route's permission check and the collection lock is widened
    so that both requests pass the check before either writes.
    """
    import threading
    import time
    import uuid

    import webtest

    storage = app.app.registry.storage
    original_lock = storage.lock_collection

    def slow_lock(*args, **kwargs):
        time.sleep(0.05)
        return original_lock(*args, **kwargs)

    storage.lock_collection = slow_lock
    users = {ALICE: alice, BOB: bob}
    for _ in range(5):
        note_id = str(uuid.uuid4())
        barrier = threading.Barrier(len(users))
        statuses = {}

        def send(userid, auth, note_id=note_id, barrier=barrier, statuses=statuses):
            client = webtest.TestApp(app.app)
            body = {"data": {"text": userid}}
            barrier.wait()
            if method == "put":
                response = client.put_json(
                    f"/v1/notes/{note_id}", body, headers=auth, expect_errors=True
                )
            else:
                body["data"]["id"] = note_id
                response = client.post_json("/v1/notes", body, headers=auth, expect_errors=True)
            statuses[userid] = response.status_code

        threads = [threading.Thread(target=send, args=item) for item in users.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses.values()) == [201, 403], statuses
        (winner,) = [userid for userid, status in statuses.items() if status == 201]
        stored = app.get(f"/v1/notes/{note_id}", headers=users[winner]).json
        assert stored["data"]["text"] == winner
        assert stored["permissions"] == {"write": [winner]}
