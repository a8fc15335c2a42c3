"""What a write's body may hold, and how a refused one is described (issue 9, items 6 and 8).

Nothing a client sent vanishes without a word: a field the schema does not know is refused
(400 errno 107 naming it) unless the schema keeps unknown fields, and so is a key of the body
next to ``data`` and ``permissions``. Every refusal names the faulty value by its dotted path
from the root of the body (``data.title``, ``permissions.read.0``), whatever the layer that
found it, and describes it in words.
"""

import json

import colander
import pytest
from cornice import Service
from cornice.validators import colander_body_validator

from cliquet import resource

# Refusals must leave every backend as it was, and what is kept must come back from each.
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

ARTICLES = "/v1/articles"
NOTES = "/v1/notes"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def details(response, status=400):
    assert response.status_code == status, response.text
    assert response.content_type == "application/json"
    return [(d["location"], d["name"]) for d in response.json["details"]]


def description(response):
    return response.json["details"][0]["description"]


def assert_readable(response):
    """Words, not a Python repr of colander's errors."""
    body = response.json
    for text in [body["message"], *(d["description"] for d in body["details"])]:
        assert "{'" not in text and "['" not in text and "': " not in text, text
        assert "is not a string" not in text and "mapping type" not in text, text


def send(app, method, url, body, auth, content_type="application/json"):
    raw = json.dumps(body).encode()
    return app.request(
        url,
        method=method,
        body=raw,
        headers={**auth, "Content-Type": content_type},
        expect_errors=True,
    )


@pytest.fixture
def article(app, alice):
    body = {"data": {"title": "kept", "rank": 1}}
    return app.post_json(ARTICLES, body, headers=alice, status=201).json["data"]


@pytest.fixture
def note(app, alice):
    return app.post_json(NOTES, {"data": {"text": "kept"}}, headers=alice, status=201).json


def listed(app, auth, url=ARTICLES):
    return app.get(url, headers=auth).json["data"]


# Item 6: unknown fields are refused unless the schema keeps them ---------------------------


def test_an_unknown_field_is_400_errno_107_naming_it(app, alice):
    response = send(app, "POST", ARTICLES, {"data": {"title": "x", "rank": 1, "rnak": 2}}, alice)
    assert details(response) == [("body", "data.rnak")]
    assert response.json["errno"] == 107
    assert "rnak" in response.json["message"]
    assert "unknown" in description(response).lower()
    assert listed(app, alice) == []


def test_each_unknown_field_is_named(app, alice):
    response = send(app, "POST", ARTICLES, {"data": {"title": "x", "zz": 1, "aa": 2}}, alice)
    assert details(response) == [("body", "data.aa"), ("body", "data.zz")]


@pytest.mark.parametrize(
    "method, content_type, body",
    [
        ("PUT", "application/json", {"data": {"title": "x", "extra": 1}}),
        ("PATCH", "application/json", {"data": {"extra": 1}}),
        ("PATCH", MERGE_PATCH, {"data": {"extra": {"a": 1}}}),
        ("PATCH", JSON_PATCH, [{"op": "add", "path": "/data/extra", "value": 1}]),
    ],
)
def test_an_unknown_field_is_refused_by_every_write(
    app, alice, article, method, content_type, body
):
    url = f"{ARTICLES}/{article['id']}"
    response = send(app, method, url, body, alice, content_type)
    assert details(response) == [("body", "data.extra")]
    assert app.get(url, headers=alice).json["data"] == article


def test_a_put_creating_a_record_refuses_unknown_fields(app, alice):
    url = f"{ARTICLES}/0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44"
    response = send(app, "PUT", url, {"data": {"title": "x", "extra": 1}}, alice)
    assert details(response) == [("body", "data.extra")]
    assert listed(app, alice) == []


def test_a_batch_subrequest_with_an_unknown_field_is_refused_in_its_slot(app, alice):
    requests = [{"method": "POST", "path": "/articles", "body": {"data": {"title": "x", "y": 1}}}]
    slot = app.post_json("/v1/batch", {"requests": requests}, headers=alice).json["responses"][0]
    assert slot["status"] == 400
    assert [(d["location"], d["name"]) for d in slot["body"]["details"]] == [("body", "data.y")]
    assert listed(app, alice) == []


def test_a_schema_preserving_unknown_fields_keeps_them(app, alice):
    body = {"data": {"text": "n", "free": {"any": ["thing", 1]}, "more": True}}
    created = app.post_json(NOTES, body, headers=alice, status=201).json["data"]
    fetched = app.get(f"{NOTES}/{created['id']}", headers=alice).json["data"]
    assert fetched["free"] == {"any": ["thing", 1]} and fetched["more"] is True
    patched = app.patch_json(f"{NOTES}/{created['id']}", {"data": {"other": 1}}, headers=alice)
    assert patched.json["data"]["other"] == 1 and patched.json["data"]["free"]


class PlaceSchema(colander.MappingSchema):
    city = colander.SchemaNode(colander.String())


class StepSchema(colander.MappingSchema):
    name = colander.SchemaNode(colander.String())


class TripSchemaWithoutOld(resource.ResourceSchema):
    title = colander.SchemaNode(colander.String())
    place = PlaceSchema(missing=colander.drop)
    steps = colander.SequenceSchema(StepSchema(), missing=colander.drop)
    extra = colander.SchemaNode(colander.Mapping(unknown="preserve"), missing=colander.drop)


class TripSchema(TripSchemaWithoutOld):
    old = colander.SchemaNode(colander.String(), missing=colander.drop)


class Trip(resource.UserResource):
    schema = TripSchema


@pytest.fixture
def trips(make_resource_app):
    def setup(config):
        resource.register_resource(config, Trip, name="trip")

    yield make_resource_app(setup=setup)
    Trip.schema = TripSchema


def test_unknown_fields_of_nested_objects_are_refused(trips, alice):
    body = {
        "data": {
            "title": "t",
            "place": {"city": "Lyon", "zip": "69000"},
            "steps": [{"name": "a"}, {"name": "b", "km": 3}],
            "extra": {"kept": 1},
        }
    }
    response = send(trips, "POST", "/v1/trips", body, alice)
    assert details(response) == [("body", "data.place.zip"), ("body", "data.steps.1.km")]
    assert listed(trips, alice, "/v1/trips") == []
    del body["data"]["place"]["zip"], body["data"]["steps"][1]["km"]
    created = trips.post_json("/v1/trips", body, headers=alice, status=201).json["data"]
    assert created["extra"] == {"kept": 1} and created["steps"][1] == {"name": "b"}


def test_a_field_the_schema_no_longer_knows_does_not_block_other_changes(trips, alice):
    created = trips.post_json(
        "/v1/trips", {"data": {"title": "t", "old": "o"}}, headers=alice, status=201
    ).json["data"]
    Trip.schema = TripSchemaWithoutOld
    url = f"/v1/trips/{created['id']}"
    # Changing another field: the old one was not sent, it is not the client's mistake.
    patched = trips.patch_json(url, {"data": {"title": "u"}}, headers=alice, status=200)
    assert patched.json["data"]["title"] == "u"
    # Setting it is refused.
    response = send(trips, "PATCH", url, {"data": {"old": "new"}}, alice)
    assert details(response) == [("body", "data.old")]


@pytest.mark.parametrize("url", [ARTICLES, NOTES])
@pytest.mark.parametrize("key", ["foo", "Data", "id"])
def test_an_unknown_key_next_to_data_is_400_naming_it(app, alice, url, key):
    body = {"data": {"title": "x", "text": "x"} if url == NOTES else {"title": "x"}, key: 1}
    response = send(app, "POST", url, body, alice)
    assert details(response) == [("body", key)]
    assert response.json["errno"] == 107
    assert listed(app, alice, url) == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_unknown_key_next_to_data_is_refused_on_a_record(app, alice, article, method):
    url = f"{ARTICLES}/{article['id']}"
    response = send(app, method, url, {"data": {"title": "y"}, "meta": {}}, alice)
    assert details(response) == [("body", "meta")]
    assert app.get(url, headers=alice).json["data"] == article


@pytest.mark.parametrize("content_type", ["application/json", MERGE_PATCH])
@pytest.mark.parametrize("body", [b"", b"{}", b'{"data": null}'], ids=["none", "empty", "null"])
def test_an_empty_patch_is_400(app, alice, article, content_type, body):
    url = f"{ARTICLES}/{article['id']}"
    response = app.patch(
        url, body, headers={**alice, "Content-Type": content_type}, expect_errors=True
    )
    assert details(response) == [("body", "data")]
    assert response.json["errno"] == 109
    assert app.get(url, headers=alice).json["data"] == article


def test_a_patch_of_permissions_only_is_not_empty(app, alice, bob, note):
    bob_id = app.get("/v1/", headers=bob).json["user"]["id"]
    url = f"{NOTES}/{note['data']['id']}"
    response = app.patch_json(url, {"permissions": {"read": [bob_id]}}, headers=alice)
    assert response.json["permissions"]["read"] == [bob_id]


# Item 8: every refusal names the field from the root of the body, in words ----------------


@pytest.mark.parametrize(
    "data, name, words",
    [
        ({"title": 5}, "data.title", "string"),
        ({"title": "x", "rank": "high"}, "data.rank", "integer"),
        ({"title": "x", "tags": ["a", 3]}, "data.tags.1", "string"),
        ({"title": "x", "tags": "a"}, "data.tags", "array"),
        ({"title": "x", "author": ["a"]}, "data.author", "object"),
        ({"rank": 1}, "data.title", "required"),
    ],
)
def test_a_field_colander_refuses_is_named_from_the_root_of_the_body(
    app, alice, data, name, words
):
    response = send(app, "POST", ARTICLES, {"data": data}, alice)
    assert details(response) == [("body", name)]
    assert words in description(response).lower()
    assert response.json["message"] == f"{name} in body: {description(response)}"
    assert_readable(response)


def test_every_way_to_write_describes_a_bad_field_alike(app, alice, article):
    url = f"{ARTICLES}/{article['id']}"
    answers = [
        send(app, "POST", ARTICLES, {"data": {"title": 5}}, alice),
        send(app, "PUT", url, {"data": {"title": 5}}, alice),
        send(app, "PATCH", url, {"data": {"title": 5}}, alice),
        send(app, "PATCH", url, {"data": {"title": 5}}, alice, MERGE_PATCH),
        send(
            app,
            "PATCH",
            url,
            [{"op": "replace", "path": "/data/title", "value": 5}],
            alice,
            JSON_PATCH,
        ),
    ]
    batch = app.post_json(
        "/v1/batch",
        {"requests": [{"method": "POST", "path": "/articles", "body": {"data": {"title": 5}}}]},
        headers=alice,
    ).json["responses"][0]["body"]
    bodies = [a.json for a in answers] + [batch]
    assert all(b["details"] == bodies[0]["details"] for b in bodies), bodies
    assert bodies[0]["details"] == [
        {"location": "body", "name": "data.title", "description": description(answers[0])}
    ]
    assert_readable(answers[0])


@pytest.mark.parametrize(
    "permissions, name, words",
    [
        ({"read": "alice"}, "permissions.read", "array"),
        ({"read": ["a", 1]}, "permissions.read.1", "string"),
        (["read"], "permissions", "object"),
        ("everyone", "permissions", "object"),
        ({"read": [], "delete": ["a"]}, "permissions.delete", "unknown"),
    ],
)
def test_invalid_permissions_are_named_and_described_in_words(
    app, alice, permissions, name, words
):
    response = send(app, "POST", NOTES, {"data": {"text": "n"}, "permissions": permissions}, alice)
    assert details(response) == [("body", name)]
    assert words in description(response).lower()
    assert_readable(response)
    assert listed(app, alice, NOTES) == []


def test_invalid_permissions_of_a_patch_are_named_alike(app, alice, note):
    url = f"{NOTES}/{note['data']['id']}"
    for content_type, body in (
        ("application/json", {"permissions": {"write": [1]}}),
        (JSON_PATCH, [{"op": "add", "path": "/permissions/write", "value": [1]}]),
    ):
        response = send(app, "PATCH", url, body, alice, content_type)
        assert details(response) == [("body", "permissions.write.0")]
        assert_readable(response)
    assert app.get(url, headers=alice).json == note


class GreetingSchema(colander.MappingSchema):
    name = colander.SchemaNode(colander.String())
    age = colander.SchemaNode(colander.Integer(), missing=colander.drop)


@pytest.fixture
def greetings(make_resource_app):
    def setup(config):
        service = Service(name="greeting", path="/greeting")
        service.add_view(
            "POST",
            lambda request: {"hello": request.validated["name"]},
            schema=GreetingSchema(),
            validators=(colander_body_validator,),
        )
        config.add_cornice_service(service)

    return make_resource_app(setup=setup)


def test_a_cornice_services_validation_errors_are_described_in_words(greetings):
    response = greetings.post_json("/v1/greeting", {"name": 5, "age": "old"}, status=400)
    assert sorted(details(response)) == [("body", "age"), ("body", "name")]
    by_name = {d["name"]: d["description"] for d in response.json["details"]}
    assert "string" in by_name["name"].lower() and "number" in by_name["age"].lower()
    assert_readable(response)
