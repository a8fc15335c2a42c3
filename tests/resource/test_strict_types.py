"""A JSON body's value has the type the schema declares, as /__api__ says: no coercion.

colander reads ``"5"``, ``5.5`` and ``true`` as the integer 5, 5 and 1, any text as a
boolean, and drops a falsy value of another type (``0`` for a string) as if it were absent.
In a JSON body, each is refused instead (400 errno 107 naming the field), in nested values
too, on every resource's schema; querystring filters, which are text, still compare.
"""

import json

import colander
import pytest

from cliquet import resource

URL = "/v1/articles"


def post(app, headers, data, url=URL):
    return app.post_json(url, {"data": data}, headers=headers, expect_errors=True)


def assert_refused(response, name, description):
    assert response.status_code == 400, response.text
    body = response.json
    assert body["errno"] == 107
    assert {"location": "body", "name": name, "description": description} in body["details"]


@pytest.mark.parametrize("value", ["5", 5.5, True, False, "", [], {}, [5]])
def test_an_integer_field_refuses_what_is_not_an_integer(app, alice, value):
    response = post(app, alice, {"title": "t", "rank": value})
    assert_refused(response, "data.rank", "Must be an integer.")
    assert app.get(URL, headers=alice).json["data"] == []


@pytest.mark.parametrize(("value", "stored"), [(5, 5), (-3, -3), (0, 0), (5.0, 5)])
def test_an_integer_field_takes_integers_and_numbers_without_fraction(app, alice, value, stored):
    response = post(app, alice, {"title": "t", "rank": value})
    assert response.status_code == 201, response.text
    assert response.json["data"]["rank"] == stored
    assert type(response.json["data"]["rank"]) is int


@pytest.mark.parametrize("value", ["true", "false", "yes", "x", "", 1, 0, [], {}])
def test_a_boolean_field_refuses_anything_but_true_and_false(app, alice, value):
    response = post(app, alice, {"title": "t", "read": value})
    assert_refused(response, "data.read", "Must be a boolean.")


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_field_keeps_true_and_false(app, alice, value):
    response = post(app, alice, {"title": "t", "read": value})
    assert response.status_code == 201, response.text
    assert response.json["data"]["read"] is value


@pytest.mark.parametrize("value", [0, False, [], {}, 5])
def test_a_string_field_refuses_other_types_even_falsy_ones(app, alice, value):
    # A falsy non-string was dropped as if absent: data the client sent vanished.
    assert_refused(
        post(app, alice, {"title": "t", "body": value}), "data.body", "Must be a string."
    )
    assert_refused(post(app, alice, {"title": value}), "data.title", "Must be a string.")


def test_a_sequence_refuses_what_is_not_an_array_and_checks_its_items(app, alice):
    assert_refused(
        post(app, alice, {"title": "t", "tags": "abc"}), "data.tags", "Must be an array."
    )
    assert_refused(post(app, alice, {"title": "t", "tags": {}}), "data.tags", "Must be an array.")
    response = post(app, alice, {"title": "t", "tags": ["a", 0, "c"]})
    assert_refused(response, "data.tags.1", "Must be a string.")


def test_a_mapping_refuses_what_is_not_an_object(app, alice):
    for value in ("x", [], 0, False):
        assert_refused(
            post(app, alice, {"title": "t", "author": value}), "data.author", "Must be an object."
        )


def test_null_still_means_absent(app, alice):
    response = post(app, alice, {"title": "t", "rank": None, "read": None, "body": None})
    assert response.status_code == 201, response.text
    assert not {"rank", "read", "body"} & set(response.json["data"])


def test_every_faulty_field_is_named_at_once(app, alice):
    response = post(app, alice, {"title": 0, "rank": "5", "read": "yes"})
    assert response.status_code == 400
    names = {d["name"] for d in response.json["details"]}
    assert names == {"data.title", "data.rank", "data.read"}


@pytest.mark.parametrize("method", ["put", "patch"])
def test_replacements_and_patches_are_as_strict(app, alice, method):
    created = post(app, alice, {"title": "t", "rank": 1}).json["data"]
    url = f"{URL}/{created['id']}"
    send = getattr(app, f"{method}_json")
    response = send(url, {"data": {"title": "t", "rank": "2"}}, headers=alice, expect_errors=True)
    assert_refused(response, "data.rank", "Must be an integer.")
    assert app.get(url, headers=alice).json["data"]["rank"] == 1


def test_json_patch_is_as_strict(app, alice):
    created = post(app, alice, {"title": "t", "rank": 1}).json["data"]
    url = f"{URL}/{created['id']}"
    patch = [{"op": "replace", "path": "/data/rank", "value": True}]
    response = app.patch(
        url,
        json.dumps(patch),
        headers={**alice, "Content-Type": "application/json-patch+json"},
        expect_errors=True,
    )
    assert_refused(response, "data.rank", "Must be an integer.")


@pytest.mark.parametrize("value", ["5", 5.5, True, {}, [], 2**63])
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_last_modified_sent_is_an_integer_though_ignored(app, alice, method, value):
    """/__api__ says an integer (a record as it was read, sent back), or null: nothing else."""
    created = post(app, alice, {"title": "t", "last_modified": 5, "id": None}).json["data"]
    assert created["last_modified"] != 5
    url = URL if method == "post" else f"{URL}/{created['id']}"
    send = getattr(app, f"{method}_json")
    response = send(
        url, {"data": {"title": "t", "last_modified": value}}, headers=alice, expect_errors=True
    )
    assert response.status_code == 400, response.text
    assert response.json["details"][0]["name"] == "data.last_modified"
    for sent in (None, 5.0):  # 5.0 is an integer, as for any Integer field
        ignored = send(url, {"data": {"title": "u", "last_modified": sent}}, headers=alice)
        assert ignored.json["data"]["last_modified"] > created["last_modified"]


def test_querystring_filters_on_typed_fields_still_compare(app, alice):
    for rank, read in ((1, True), (5, False), (9, True)):
        assert (
            post(app, alice, {"title": f"t{rank}", "rank": rank, "read": read}).status_code == 201
        )
    ranks = [
        r["rank"] for r in app.get(f"{URL}?min_rank=5&_sort=rank", headers=alice).json["data"]
    ]
    assert ranks == [5, 9]
    ranks = [r["rank"] for r in app.get(f"{URL}?read=true&_sort=rank", headers=alice).json["data"]]
    assert ranks == [1, 9]


# Any resource's schema: floats, and nested mappings of one's own


class Measure(resource.ResourceSchema):
    value = colander.SchemaNode(colander.Float())
    place = colander.SchemaNode(
        colander.Mapping(),
        children=[colander.SchemaNode(colander.Integer(), name="floor", missing=colander.drop)],
        missing=colander.drop,
    )
    steps = colander.SchemaNode(
        colander.Sequence(),
        colander.SchemaNode(
            colander.Mapping(), colander.SchemaNode(colander.Boolean(), name="done")
        ),
        missing=colander.drop,
    )


@pytest.mark.parametrize(
    ("record", "name", "description"),
    [
        ({"value": "1.5"}, "value", "Must be a number."),
        ({"value": True}, "value", "Must be a number."),
        ({"value": []}, "value", "Must be a number."),
        ({"value": 1, "place": {"floor": "2"}}, "place.floor", "Must be an integer."),
        ({"value": 1, "place": {"floor": 2.5}}, "place.floor", "Must be an integer."),
        (
            {"value": 1, "steps": [{"done": True}, {"done": "no"}]},
            "steps.1.done",
            "Must be a boolean.",
        ),
        ({"value": 1, "steps": ["x"]}, "steps.0", "Must be an object."),
    ],
)
def test_any_resource_schema_is_strict_at_any_depth(record, name, description):
    with pytest.raises(colander.Invalid) as raised:
        Measure().deserialize(record)
    assert raised.value.asdict()[name] == description


@pytest.mark.parametrize("value", [1, 1.5, -0.25, 10**15])
def test_a_number_field_takes_integers_and_floats(value):
    assert Measure().deserialize({"value": value}) == {"value": float(value)}
