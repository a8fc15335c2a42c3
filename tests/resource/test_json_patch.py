"""``PATCH`` with ``application/json-patch+json`` (RFC 6902), through HTTP and as a function."""

import json

import pytest

from cliquet.resource.json_patch import JSONPatchConflict, JSONPatchError, apply_json_patch

# The HTTP tests patch records and permissions as each backend stores them.
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

JSON_PATCH = "application/json-patch+json"
URL = "/v1/articles"


# The function ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "operations", "expected"),
    [
        ({"a": 1}, [{"op": "add", "path": "/b", "value": 2}], {"a": 1, "b": 2}),
        ({"a": [1, 3]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2, 3]}),
        ({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2}], {"a": [1, 2]}),
        ({"a": 1, "b": 2}, [{"op": "remove", "path": "/a"}], {"b": 2}),
        ({"a": [1, 2]}, [{"op": "remove", "path": "/a/0"}], {"a": [2]}),
        ({"a": 1}, [{"op": "replace", "path": "/a", "value": [3]}], {"a": [3]}),
        ({"a": {"x": 1}}, [{"op": "move", "from": "/a/x", "path": "/b"}], {"a": {}, "b": 1}),
        (
            {"a": {"x": 1}},
            [{"op": "copy", "from": "/a", "path": "/b"}],
            {"a": {"x": 1}, "b": {"x": 1}},
        ),
        ({"a": 1}, [{"op": "test", "path": "/a", "value": 1}], {"a": 1}),
        (
            {"a/b": 1, "m~n": 2},
            [{"op": "remove", "path": "/a~1b"}, {"op": "remove", "path": "/m~0n"}],
            {},
        ),
        ({"a": 1}, [], {"a": 1}),
    ],
)
def test_operations(document, operations, expected):
    assert apply_json_patch(document, operations) == expected


def test_the_document_is_not_modified():
    document = {"a": {"x": [1]}}
    apply_json_patch(document, [{"op": "add", "path": "/a/x/-", "value": 2}])
    assert document == {"a": {"x": [1]}}


MALFORMED = [
    {"op": "add"},
    [{"op": "add", "path": "/b"}],
    [{"op": "explode", "path": "/a"}],
    [{"path": "/a"}],
    [{"op": "add", "path": "a", "value": 1}],
    [{"op": "add", "path": "/a~2", "value": 1}],
    [{"op": "add", "path": 5, "value": 1}],
    [{"op": "copy", "path": "/b"}],
    [{"op": "copy", "from": 5, "path": "/b"}],
    [{"op": 1, "path": "/b"}],
    [{"op": "move", "from": "/a", "path": "/a/x"}],  # RFC 6902 4.4: not into itself
    ["not an object"],
    [["op", "add"]],
    "add",
    None,
]

CONFLICTS = [
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/missing", "value": 1}],
    [{"op": "add", "path": "/missing/deeper", "value": 1}],
    [{"op": "test", "path": "/a", "value": 2}],
    [{"op": "test", "path": "/missing", "value": 2}],
    [{"op": "add", "path": "/l/5", "value": 1}],
    [{"op": "add", "path": "/l/01", "value": 1}],
    [{"op": "remove", "path": "/l/-"}],
    [{"op": "copy", "from": "/missing", "path": "/b"}],
    [{"op": "remove", "path": ""}],
    # A string is not an array: a pointer cannot go into it.
    [{"op": "test", "path": "/s/0", "value": "t"}],
    [{"op": "remove", "path": "/s/0"}],
    [{"op": "copy", "from": "/s/0", "path": "/b"}],
]


@pytest.mark.parametrize("operations", MALFORMED)
def test_a_malformed_patch_raises(operations):
    with pytest.raises(JSONPatchError) as error:
        apply_json_patch({"a": {"x": 1}, "l": [0], "s": "text"}, operations)
    assert not isinstance(error.value, JSONPatchConflict)


@pytest.mark.parametrize("operations", CONFLICTS)
def test_a_patch_that_does_not_apply_to_the_document_raises_a_conflict(operations):
    with pytest.raises(JSONPatchConflict):
        apply_json_patch({"a": {"x": 1}, "l": [0], "s": "text"}, operations)


@pytest.mark.parametrize(
    ("stored", "tested"),
    [(True, 1), (0, False), ("1", 1), ([True], [1]), ({"a": 1}, {"a": True}), (None, 0)],
)
def test_test_compares_json_values(stored, tested):
    with pytest.raises(JSONPatchConflict):
        apply_json_patch({"v": stored}, [{"op": "test", "path": "/v", "value": tested}])
    assert apply_json_patch({"v": 1}, [{"op": "test", "path": "/v", "value": 1.0}]) == {"v": 1}


# Sets: arrays whose members are addressed by value, as Kinto's clients address principals.

SETS = ["/p"]


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "add", "path": "/p/read/bob"}], ["alice", "bob"]),
        ([{"op": "add", "path": "/p/read/bob", "value": None}], ["alice", "bob"]),
        ([{"op": "add", "path": "/p/read/bob", "value": "bob"}], ["alice", "bob"]),
        ([{"op": "add", "path": "/p/read/alice"}], ["alice"]),
        ([{"op": "remove", "path": "/p/read/alice"}], []),
        ([{"op": "test", "path": "/p/read/alice"}], ["alice"]),
        ([{"op": "replace", "path": "/p/read/alice", "value": None}], ["alice"]),
        ([{"op": "add", "path": "/p/read/fxa:a~1b~0c"}], ["alice", "fxa:a/b~c"]),
        # An index or "-" is the array's: RFC 6902 as everywhere else.
        ([{"op": "add", "path": "/p/read/-", "value": "bob"}], ["alice", "bob"]),
        ([{"op": "remove", "path": "/p/read/0"}], []),
    ],
)
def test_members_of_a_set_are_addressed_by_value(operations, expected):
    document = {"p": {"read": ["alice"], "write": []}}
    assert apply_json_patch(document, operations, sets_under=SETS)["p"]["read"] == expected


def test_a_member_added_to_an_absent_set_creates_it():
    patched = apply_json_patch({"p": {}}, [{"op": "add", "path": "/p/write/bob"}], sets_under=SETS)
    assert patched == {"p": {"write": ["bob"]}}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "/p/read/bob"},
        {"op": "test", "path": "/p/read/bob"},
        {"op": "replace", "path": "/p/read/bob", "value": None},
    ],
)
def test_a_member_that_is_not_in_the_set_is_a_conflict(operation):
    with pytest.raises(JSONPatchConflict):
        apply_json_patch({"p": {"read": ["alice"]}}, [operation], sets_under=SETS)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "copy", "from": "/p/read/alice", "path": "/p/write/alice"},
        {"op": "move", "from": "/p/write", "path": "/p/read/alice"},
    ],
)
def test_members_are_not_moved_nor_copied(operation):
    with pytest.raises(JSONPatchError):
        apply_json_patch({"p": {"read": ["alice"], "write": []}}, [operation], sets_under=SETS)


def test_the_error_names_the_operation():
    with pytest.raises(JSONPatchError) as error:
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1}, {"op": "remove"}])
    assert error.value.index == 1


# Through HTTP, on every backend ----------------------------------------------------------


def _patch(app, url, operations, headers, **kwargs):
    body = json.dumps(operations).encode()
    return app.patch(url, body, headers={**headers, "Content-Type": JSON_PATCH}, **kwargs)


@pytest.fixture
def article(app, alice):
    body = {"data": {"title": "kept", "body": "text", "tags": ["a"]}}
    return app.post_json(URL, body, headers=alice, status=201).json["data"]


def test_json_patch_changes_adds_and_removes_fields(app, alice, article):
    url = f"{URL}/{article['id']}"
    operations = [
        {"op": "replace", "path": "/data/title", "value": "patched"},
        {"op": "remove", "path": "/data/body"},
        {"op": "add", "path": "/data/tags/-", "value": "b"},
    ]
    response = _patch(app, url, operations, alice, status=200)
    record = app.get(url, headers=alice).json["data"]
    assert response.json["data"] == record
    assert (record["title"], record["tags"], "body" in record) == ("patched", ["a", "b"], False)
    assert record["last_modified"] > article["last_modified"]


def test_json_patch_cannot_change_id_nor_timestamp(app, alice, article):
    url = f"{URL}/{article['id']}"
    operations = [
        {"op": "replace", "path": "/data/id", "value": "other"},
        {"op": "replace", "path": "/data/last_modified", "value": 1},
        {"op": "replace", "path": "/data/title", "value": "t"},
    ]
    record = _patch(app, url, operations, alice, status=200).json["data"]
    assert record["id"] == article["id"]
    assert record["last_modified"] > article["last_modified"]


@pytest.mark.parametrize(
    "operations, errno",
    [
        ([{"op": "remove", "path": "/data/title"}], 107),  # the schema requires a title
        ([{"op": "replace", "path": "/data/title", "value": 5}], 107),
        ([{"op": "replace", "path": "/data", "value": "not a record"}], 109),
        ({"op": "replace", "path": "/data/title", "value": "x"}, 109),
        ([{"op": "replace", "path": "data/title", "value": "x"}], 109),
        ([{"op": "move", "path": "/data/title"}], 109),
        ([{"op": "replace", "path": "/data/title", "value": "x"}, "remove"], 109),
    ],
)
def test_a_malformed_or_invalid_patch_is_400_and_changes_nothing(
    app, alice, article, operations, errno
):
    url = f"{URL}/{article['id']}"
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.json["errno"] == errno
    assert response.json["details"][0]["location"] == "body"
    assert app.get(url, headers=alice).json["data"] == article


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/data/title", "value": "other"}],
        [{"op": "test", "path": "/data/missing", "value": "kept"}],
        [{"op": "test", "path": "/data/title/0", "value": "k"}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "replace", "path": "/data/missing", "value": "x"}],
        [{"op": "add", "path": "/data/tags/7", "value": "x"}],
        [{"op": "copy", "from": "/data/missing", "path": "/data/body"}],
    ],
)
def test_a_patch_that_does_not_apply_to_the_record_is_409_and_changes_nothing(
    app, alice, article, operations
):
    # RFC 5789 section 2.2: the patch is well-formed, the record is not as it assumes.
    url = f"{URL}/{article['id']}"
    operations = [{"op": "replace", "path": "/data/body", "value": "changed"}, *operations]
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 409, response.text
    assert response.content_type == "application/json"
    assert response.json["errno"] == 122
    assert [(d["location"], d["name"]) for d in response.json["details"]] == [("body", "1")]
    assert operations[1]["path"] in response.json["details"][0]["description"]
    assert app.get(url, headers=alice).json["data"] == article


def test_a_passing_test_lets_the_patch_apply(app, alice, article):
    url = f"{URL}/{article['id']}"
    operations = [
        {"op": "test", "path": "/data/title", "value": "kept"},
        {"op": "replace", "path": "/data/title", "value": "changed"},
    ]
    assert _patch(app, url, operations, alice, status=200).json["data"]["title"] == "changed"


def test_json_patch_sets_permissions_of_a_shareable_record(app, alice, bob):
    note = app.post_json("/v1/notes", {"data": {"text": "n"}}, headers=alice).json
    url = f"/v1/notes/{note['data']['id']}"
    bob_id = app.get("/v1/", headers=bob).json["user"]["id"]
    operations = [{"op": "add", "path": "/permissions/read", "value": [bob_id]}]
    response = _patch(app, url, operations, alice, status=200)
    assert response.json["permissions"]["read"] == [bob_id]
    assert app.get(url, headers=bob).json["data"]["text"] == "n"


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "replace", "path": "/permissions", "value": "everyone"}],
        [{"op": "add", "path": "/permissions/delete", "value": ["x"]}],
    ],
)
def test_json_patch_of_permissions_is_validated(app, alice, operations):
    note = app.post_json("/v1/notes", {"data": {"text": "n"}}, headers=alice).json
    url = f"/v1/notes/{note['data']['id']}"
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 400
    assert app.get(url, headers=alice).json == note


def test_json_patch_cannot_give_permissions_to_a_private_record(app, alice, article):
    url = f"{URL}/{article['id']}"
    operations = [{"op": "add", "path": "/permissions", "value": {"read": ["x"]}}]
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 400


def test_json_patch_removing_the_permissions_empties_them_but_the_writer_keeps_write(
    app, alice, bob
):
    bob_id = app.get("/v1/", headers=bob).json["user"]["id"]
    alice_id = app.get("/v1/", headers=alice).json["user"]["id"]
    body = {"data": {"text": "n"}, "permissions": {"read": [bob_id]}}
    note = app.post_json("/v1/notes", body, headers=alice).json
    url = f"/v1/notes/{note['data']['id']}"
    response = _patch(app, url, [{"op": "remove", "path": "/permissions"}], alice, status=200)
    assert response.json["permissions"].get("read", []) == []
    assert response.json["permissions"]["write"] == [alice_id]
    assert app.get(url, headers=bob, expect_errors=True).status_code == 403


# Permissions as Kinto's clients patch them: /permissions/<name>/<principal> ----------------


@pytest.fixture
def shared(app, alice):
    """Alice's note, that nobody else may read yet; its URL."""
    note = app.post_json("/v1/notes", {"data": {"text": "n"}}, headers=alice).json
    assert "read" not in note["permissions"]
    return f"/v1/notes/{note['data']['id']}"


def _user(app, auth):
    return app.get("/v1/", headers=auth).json["user"]["id"]


@pytest.mark.parametrize("value", [{}, {"value": None}, {"value": "ignored"}])
def test_a_principal_is_added_by_its_path(app, alice, bob, shared, value):
    bob_id = _user(app, bob)
    operations = [{"op": "add", "path": f"/permissions/read/{bob_id}", **value}]
    response = _patch(app, shared, operations, alice, status=200)
    assert response.json["permissions"]["read"] == [bob_id]
    assert app.get(shared, headers=bob).json["data"]["text"] == "n"
    # Adding it again changes nothing (a set).
    again = _patch(app, shared, operations, alice, status=200)
    assert again.json["permissions"]["read"] == [bob_id]


def test_a_principal_is_removed_and_tested_by_its_path(app, alice, bob, shared):
    bob_id = _user(app, bob)
    _patch(app, shared, [{"op": "add", "path": f"/permissions/write/{bob_id}"}], alice, status=200)
    assert app.patch_json(shared, {"data": {"text": "by bob"}}, headers=bob).status_code == 200
    operations = [
        {"op": "test", "path": f"/permissions/write/{bob_id}"},
        {"op": "remove", "path": f"/permissions/write/{bob_id}"},
    ]
    response = _patch(app, shared, operations, alice, status=200)
    assert bob_id not in response.json["permissions"]["write"]
    assert app.get(shared, headers=bob, expect_errors=True).status_code == 403
    # Neither holds any more: a conflict.
    for operation in operations:
        response = _patch(app, shared, [operation], alice, expect_errors=True)
        assert (response.status_code, response.json["errno"]) == (409, 122)


def test_kinto_clients_patch_data_and_principals_at_once(app, alice, bob, shared):
    operations = [
        {"op": "add", "path": "/data/goodnight", "value": "moon"},
        {"op": "add", "path": "/permissions/read/system.Everyone"},
    ]
    response = _patch(app, shared, operations, alice, status=200)
    assert response.json["data"]["goodnight"] == "moon"
    assert response.json["permissions"]["read"] == ["system.Everyone"]
    assert app.get(shared, headers=bob).json["data"]["goodnight"] == "moon"


def test_a_principal_is_validated_as_any_principal(app, alice, shared):
    operations = [{"op": "add", "path": "/permissions/read/a\u0000b"}]
    response = _patch(app, shared, operations, alice, expect_errors=True)
    assert response.status_code == 400
    operations = [{"op": "add", "path": "/permissions/delete/bob"}]
    response = _patch(app, shared, operations, alice, expect_errors=True)
    assert response.status_code == 400
    assert response.json["details"][0]["name"] == "permissions.delete"


def test_the_writer_keeps_write_whatever_the_patch_removes(app, alice, shared):
    alice_id = _user(app, alice)
    operations = [{"op": "remove", "path": f"/permissions/write/{alice_id}"}]
    response = _patch(app, shared, operations, alice, status=200)
    assert response.json["permissions"]["write"] == [alice_id]


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "add", "path": "/permissions/read/x/y", "value": 1}],
        [{"op": "add", "path": "/permissions/read/-", "value": {"not": "a principal"}}],
        [{"op": "copy", "from": "/permissions/read/x", "path": "/data/x"}],
        [{"op": "move", "from": "/data/text", "path": "/permissions/write/x"}],
        [{"op": "add", "path": "/data/text/0", "value": "x"}],
        [{"op": "move", "from": "/data", "path": "/data/inner"}],
        [{"op": "move", "from": "", "path": "/data/inner"}],
        [{"op": "replace", "path": "", "value": []}],
        [{"op": "add", "path": "", "value": {"data": {"text": "t"}, "permissions": 1}}],
        [{"op": "test", "path": "", "value": None}],
    ],
)
def test_hostile_operations_are_4xx(app, alice, shared, operations):
    before = app.get(shared, headers=alice).json
    response = _patch(app, shared, operations, alice, expect_errors=True)
    assert 400 <= response.status_code < 500, response.text
    assert response.content_type == "application/json"
    assert app.get(shared, headers=alice).json == before


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "add", "path": "/permissions/read/x"}],
        [{"op": "add", "path": "", "value": {"data": {"title": "t"}, "permissions": {}}}],
    ],
)
def test_a_private_record_has_no_permissions_to_patch(app, alice, article, operations):
    url = f"{URL}/{article['id']}"
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 400
    assert response.json["details"][0]["name"] == "permissions"
    assert app.get(url, headers=alice).json["data"] == article
