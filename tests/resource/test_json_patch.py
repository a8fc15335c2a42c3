"""``PATCH`` with ``application/json-patch+json`` (RFC 6902), through HTTP and as a function."""

import json

import pytest

from cliquet.resource.json_patch import JSONPatchError, apply_json_patch

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


@pytest.mark.parametrize(
    "operations",
    [
        {"op": "add"},
        [{"op": "add", "path": "/b"}],
        [{"op": "explode", "path": "/a"}],
        [{"path": "/a"}],
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "add", "path": "/missing/deeper", "value": 1}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "add", "path": "/l/5", "value": 1}],
        [{"op": "add", "path": "/l/01", "value": 1}],
        [{"op": "remove", "path": "/l/-"}],
        [{"op": "move", "from": "/a", "path": "/a/x"}],
        [{"op": "copy", "path": "/b"}],
        [{"op": "remove", "path": ""}],
        ["not an object"],
    ],
)
def test_invalid_patches_raise(operations):
    with pytest.raises(JSONPatchError):
        apply_json_patch({"a": {"x": 1}, "l": [0]}, operations)


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
    "operations",
    [
        [{"op": "test", "path": "/data/title", "value": "other"}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "remove", "path": "/data/title"}],  # the schema requires a title
        [{"op": "replace", "path": "/data", "value": "not a record"}],
        {"op": "replace", "path": "/data/title", "value": "x"},
    ],
)
def test_a_patch_that_does_not_apply_is_400_and_changes_nothing(app, alice, article, operations):
    url = f"{URL}/{article['id']}"
    response = _patch(app, url, operations, alice, expect_errors=True)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.json["errno"] in (107, 109)
    assert app.get(url, headers=alice).json["data"] == article


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
