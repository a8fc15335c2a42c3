"""``GET /v1/__api__``: the OpenAPI 3.1 document of the running service (cliquet/openapi/).

The document must be valid (openapi-spec-validator) and say what the service does: its
resources with their schemas, parameters, headers and errors, the service views, the
extensions' endpoints and the authentication policies.
"""

import re
import sys

import colander
import pytest
import webtest
from openapi_spec_validator import validate
from pyramid.security import NO_PERMISSION_REQUIRED

import cliquet
from cliquet.errors import ERRORS
from cliquet.json_schema import INTEGER, NUMBER, json_schema
from cliquet.testing.web import basic_auth, build_app


def _scan_testapp(config):
    config.scan("tests.resource.testapp")


@pytest.fixture(scope="module")
def app():
    return build_app(setup=_scan_testapp)


@pytest.fixture(scope="module")
def document(app):
    return app.get("/v1/__api__").json


def _parameters(document, path, method):
    """The parameters of an operation, its path's included, references resolved."""
    item = document["paths"][path]
    found = {}
    for parameter in [*item.get("parameters", []), *item[method].get("parameters", [])]:
        if "$ref" in parameter:
            name = parameter["$ref"].rsplit("/", 1)[1]
            parameter = document["components"]["parameters"][name]
        found[parameter["name"]] = parameter
    return found


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_document_is_built_once_per_registry(app):
    from cliquet.openapi import document

    registry = app.app.registry
    assert document(registry) is document(registry)
    first, second = app.get("/v1/__api__"), app.get("/v1/__api__")
    assert first.body == second.body
    assert first.content_type == "application/json"


def test_every_resource_endpoint_and_method_is_described(document):
    paths = document["paths"]
    assert set(paths["/articles"]) >= {"get", "head", "post", "delete"}
    assert set(paths["/articles/{id}"]) >= {"get", "head", "put", "patch", "delete"}
    assert "/notes" in paths and "/notes/{id}" in paths
    assert "options" not in paths["/articles"]


def test_article_schema_as_json_schema(document):
    schemas = document["components"]["schemas"]
    article = schemas["article"]
    assert article["type"] == "object"
    assert article["properties"]["title"]["type"] == "string"
    assert "integer" in article["properties"]["rank"]["type"]
    assert article["required"] == ["title"]
    # Unknown fields are refused; nested "author" keeps them (unknown="preserve").
    assert article["additionalProperties"] is False
    # What they keep is any JSON value the service's reader takes.
    value = {"$ref": "#/components/schemas/Value"}
    assert article["properties"]["author"]["additionalProperties"] == value
    assert article["properties"]["tags"]["items"]["type"] == "string"
    # The schemaless note keeps what it does not declare.
    assert document["components"]["schemas"]["note"]["additionalProperties"] == value


def test_post_body_wraps_the_schema_in_data(document):
    post = document["paths"]["/articles"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["data"] == {"$ref": "#/components/schemas/article"}
    assert body["required"] == ["data"]
    assert "permissions" not in body["properties"]
    note_body = document["paths"]["/notes"]["post"]["requestBody"]["content"]
    assert "permissions" in note_body["application/json"]["schema"]["properties"]
    assert {"200", "201"} <= set(post["responses"])


def test_record_id_follows_the_id_generator(document):
    id_param = _parameters(document, "/articles/{id}", "get")["id"]
    assert id_param["in"] == "path" and id_param["required"] is True
    assert id_param["schema"]["pattern"].startswith("^[0-9a-f]{8}")


@pytest.mark.parametrize(
    "node,expected",
    [
        (
            colander.SchemaNode(colander.String(), validator=colander.OneOf(["a", "b"])),
            {"type": "string", "enum": ["a", "b"]},
        ),
        (
            colander.SchemaNode(colander.Integer(), validator=colander.Range(1, 10)),
            {"type": "integer", "minimum": 1, "maximum": 10},
        ),
        (
            colander.SchemaNode(colander.String(), validator=colander.Length(2, 5)),
            {"type": "string", "pattern": "^[^\\x00]*$", "minLength": 2, "maxLength": 5},
        ),
        (
            colander.SchemaNode(
                colander.Sequence(),
                colander.SchemaNode(colander.Float()),
                validator=colander.Length(min=1),
            ),
            {"type": "array", "items": NUMBER, "minItems": 1},
        ),
        (
            colander.SchemaNode(colander.String(), validator=colander.Regex("[a-z]+")),
            {
                "type": "string",
                "minLength": 1,
                "pattern": "^(?:[a-z]+)",
                "not": {"pattern": "\\x00"},
            },
        ),
        (
            colander.SchemaNode(
                colander.String(),
                validator=colander.All(colander.Length(max=3), colander.OneOf(["ab"])),
            ),
            {"type": "string", "maxLength": 3, "enum": ["ab"]},
        ),
        (colander.SchemaNode(colander.Boolean()), {"type": "boolean"}),
        (colander.SchemaNode(colander.DateTime()), {"type": "string", "format": "date-time"}),
    ],
)
def test_colander_validators_as_json_schema(node, expected):
    assert json_schema(node) == expected


def test_optional_fields_accept_null_and_nested_mappings_keep_their_rules():
    class Place(colander.MappingSchema):
        city = colander.SchemaNode(colander.String())
        zip = colander.SchemaNode(colander.String(), missing=colander.drop)
        size = colander.SchemaNode(colander.Integer(), missing=3)

    schema = json_schema(Place())
    assert schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    # colander reads null as absent where a field may be absent.
    assert schema["properties"]["zip"]["type"] == ["string", "null"]
    assert schema["properties"]["size"] == {**INTEGER, "type": ["integer", "null"], "default": 3}
    assert schema["properties"]["city"]["type"] == "string"


def test_hello_advertises_the_document(app):
    url = app.get("/v1/").json["openapi"]
    assert url == "http://localhost/v1/__api__"
    assert app.get(url).json["openapi"] == "3.1.0"


# Query parameters, headers, errors, content types


def test_list_accepts_every_reserved_parameter_and_each_fields_filters(document):
    names = _parameters(document, "/articles", "get")
    assert {"_limit", "_sort", "_fields", "_since", "_before", "_token", "_expected"} <= set(names)
    for field in ("rank", "title", "id", "last_modified"):
        for prefix in ("", "min_", "max_", "lt_", "gt_", "not_", "in_", "exclude_", "like_"):
            assert f"{prefix}{field}" in names
        assert f"has_{field}" in names
    assert names["min_rank"]["in"] == "query"
    assert names["_limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert names["gt_last_modified"]["schema"]["type"] == "integer"
    # A collection's DELETE takes the filters too; a record only `_fields`.
    assert "min_rank" in _parameters(document, "/articles", "delete")
    record = _parameters(document, "/articles/{id}", "get")
    assert "_fields" in record and "min_rank" not in record


def test_filters_parse_as_the_document_says(app):
    """Each documented filter is one the list accepts (no 400), and an undocumented one is
    refused: the document and parse_query agree."""
    document = app.get("/v1/__api__").json
    for name, parameter in _parameters(document, "/articles", "get").items():
        if parameter["in"] != "query" or name == "_token":
            continue
        value = parameter["schema"].get("enum", ["-rank" if name == "_sort" else "1"])[0]
        if name == "_fields":
            value = "title,author.name"
        app.get("/v1/articles", {name: value}, headers=basic_auth(), status=200)
    app.get("/v1/articles", {"min_nothere": "1"}, headers=basic_auth(), status=400)
    sort = _parameters(document, "/articles", "get")["_sort"]["schema"]["pattern"]
    assert re.fullmatch(sort, "-rank,title") and not re.fullmatch(sort, "nothere")


def test_preconditions_on_every_resource_method(document):
    for path in ("/articles", "/articles/{id}"):
        for method in set(document["paths"][path]) - {"parameters"}:
            names = _parameters(document, path, method)
            assert names["If-Match"]["in"] == "header", (path, method)
            assert names["If-None-Match"]["in"] == "header", (path, method)


@pytest.mark.parametrize(
    "value",
    [
        "*",
        '"1"',
        'W/"12", "3"',
        ' "1" ,, "2" ',
        ', "1",',
        "0",
        "",
        "*, *",
        '"*"',
        "abc",
        '"1',
        'w/"1"',
        ",",
    ],
)
def test_precondition_headers_say_what_the_service_reads(app, document, value):
    """A value the pattern allows is read (no 400); one it does not is refused, errno 107."""
    for name in ("If-Match", "If-None-Match"):
        schema = _parameters(document, "/articles/{id}", "get")[name]["schema"]
        allowed = re.search(schema["pattern"], value) is not None
        response = app.get(
            "/v1/articles/0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44",
            headers={**basic_auth(), name: value},
            expect_errors=True,
        )
        assert (response.status_code != 400) == allowed, (name, value, response.text)


def _allows(document, schema, value):
    import jsonschema

    return jsonschema.Draft202012Validator(
        {**schema, "components": document["components"]}
    ).is_valid(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("_sort", "title"),
        ("_sort", " -rank ,\t+title"),
        ("_sort", "author.name,id"),
        ("_sort", "last_modified.x"),
        ("_sort", "\u3000title"),
        ("_sort", "title,"),
        pytest.param("_sort", ",".join(["title"] * 11), id="_sort-11-keys"),
        ("_fields", "title,,\tauthor.name "),
        ("_fields", ""),
        ("_fields", "id.x"),
        ("_fields", "nothere"),
        ("_since", "0"),
        ("_since", "-0"),
        ("_since", '"12"'),
        ("_since", "007"),
        ("_since", '"007"'),
        ("_since", str(2**63)),
        ("_since", "1.5"),
        ("_limit", str(2**63 - 1)),
        ("_limit", str(2**63)),
        ("in_last_modified", "1,-2"),
        ("in_last_modified", "1,02"),
        pytest.param("in_title", ",".join(["a"] * 500), id="in_title-500-values"),
        pytest.param("in_title", ",".join(["a"] * 501), id="in_title-501-values"),
        ("has_title", "1"),
        ("has_title", "1.0"),
        ("min_title", "a\x00"),
    ],
)
def test_list_parameters_say_what_the_service_reads(app, document, name, value):
    """A value the document allows is read (no 400); one it does not is refused."""
    schema = _parameters(document, "/articles", "get")[name]["schema"]
    typed = int(value) if schema.get("type") == "integer" else value
    allowed = _allows(document, schema, typed)
    response = app.get("/v1/articles", {name: value}, headers=basic_auth(), expect_errors=True)
    assert (response.status_code != 400) == allowed, (name, value, response.text)


@pytest.mark.parametrize(
    "data",
    [
        {"title": "t"},
        {"title": ""},
        {"title": "a\x00b"},
        {"title": "t", "rank": 2**63 - 1},
        {"title": "t", "rank": 2**63},
        {"title": "t", "rank": 5.0},
        {"title": "t", "rank": "5"},
        {"title": "t", "tags": [""]},
        {"title": "t", "author": {"na\x00me": 1}},
        {"title": "t", "author": {"name": [1, {"x": None}]}},
        {"title": "t", "author": {"name": "\x00"}},
        {"title": "t", "id": None, "last_modified": None},
        {"title": "t", "last_modified": "1"},
        {"title": "t", "read": None},
        {"title": "t", "read": "yes"},
    ],
)
def test_record_bodies_say_what_the_service_reads(app, document, data):
    """A record the document allows is stored (201); one it does not is refused (400)."""
    operation = document["paths"]["/articles"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    allowed = _allows(document, schema, {"data": data})
    response = app.post_json(
        "/v1/articles", {"data": data}, headers=basic_auth(), expect_errors=True
    )
    assert response.status_code == (201 if allowed else 400), response.text


@pytest.mark.parametrize("sent", ["", 5, "0c9a3f1e-4d3b-4c8e-9a57-2b6f0d1e8a44", None])
def test_a_patch_ignores_the_id_it_is_sent_as_the_document_says(app, document, sent):
    created = app.post_json("/v1/articles", {"data": {"title": "t"}}, headers=basic_auth())
    record_id = created.json["data"]["id"]
    schema = document["components"]["schemas"]["article.patch"]
    assert _allows(document, schema, {"id": sent, "title": "u"})
    response = app.patch_json(
        f"/v1/articles/{record_id}", {"data": {"id": sent, "title": "u"}}, headers=basic_auth()
    )
    assert response.json["data"]["id"] == record_id


def test_response_headers(document):
    assert set(document["components"]["headers"]) == {
        "ETag",
        "Last-Modified",
        "Total-Records",
        "Next-Page",
        "Backoff",
        "Retry-After",
        "Alert",
    }
    listing = document["paths"]["/articles"]["get"]["responses"]["200"]["headers"]
    assert {"ETag", "Last-Modified", "Next-Page", "Backoff", "Alert"} <= set(listing)
    assert "Total-Records" not in listing  # a list pays for no count: HEAD answers it
    counted = document["paths"]["/articles"]["head"]["responses"]["200"]["headers"]
    assert {"ETag", "Last-Modified", "Total-Records"} <= set(counted)
    assert "Next-Page" not in counted
    put = document["paths"]["/articles/{id}"]["put"]["responses"]
    assert "ETag" in put["200"]["headers"] and "ETag" in put["201"]["headers"]
    assert "304" in document["paths"]["/articles/{id}"]["get"]["responses"]
    unavailable = document["components"]["responses"]["503"]["headers"]
    assert "Retry-After" in unavailable


def test_error_body_lists_every_errno(document):
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["errno"]["enum"] == [int(e) for e in ERRORS]
    assert error["required"] == ["code", "errno", "error"]
    put = document["paths"]["/articles/{id}"]["put"]["responses"]
    assert put["412"] == {"$ref": "#/components/responses/412"}
    assert "default" in put


def test_answers_match_what_the_service_sends(app, document):
    """A record's answer and the error body, as served, are valid against the document."""
    import jsonschema

    def validator(schema):
        resolver_schema = {**schema, "components": document["components"]}
        return jsonschema.Draft202012Validator(resolver_schema)

    auth = basic_auth()
    created = app.post_json("/v1/articles", {"data": {"title": "a", "rank": 2}}, headers=auth)
    answer = document["paths"]["/articles"]["post"]["responses"]["201"]
    validator(answer["content"]["application/json"]["schema"]).validate(created.json)
    listing = app.get("/v1/articles", {"_fields": "rank"}, headers=auth)
    answer = document["paths"]["/articles"]["get"]["responses"]["200"]
    validator(answer["content"]["application/json"]["schema"]).validate(listing.json)
    error = app.put_json("/v1/articles/nope", {"data": {"title": 3}}, headers=auth, status=400)
    validator({"$ref": "#/components/schemas/Error"}).validate(error.json)


def test_patch_takes_json_merge_patch_and_json_patch(document):
    patch = document["paths"]["/articles/{id}"]["patch"]["requestBody"]["content"]
    assert set(patch) == {
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
    }
    changes = document["components"]["schemas"]["article.patch"]
    assert "required" not in changes
    assert patch["application/json-patch+json"]["schema"]["type"] == "array"
    post = document["paths"]["/articles"]["post"]["requestBody"]["content"]
    assert set(post) == {"application/json"}


# Batch, service views, extensions, security


def test_service_views_and_batch(document):
    paths = document["paths"]
    for path in ("/", "/__heartbeat__", "/__lbheartbeat__", "/__version__", "/__api__"):
        assert "get" in paths[path], path
    assert "503" in paths["/__heartbeat__"]["get"]["responses"]
    batch = paths["/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["required"] == ["requests"]
    assert batch["properties"]["requests"]["maxItems"] == 25


@pytest.mark.parametrize(
    "body",
    [
        {"requests": []},
        {"requests": [{"path": "/articles"}]},
        {"requests": [{"path": "/articles", "method": "get"}, {"path": "/", "method": "HEAD"}]},
        {"defaults": {"path": "/articles"}, "requests": [{}, {"method": "POST"}]},
        {"requests": [{"path": "/articles?title=%C3%A9t%C3%A9&_limit=2"}]},
        {"requests": [{"path": "/articles", "headers": {"X-Any": "caf\u00e9\tok"}}]},
        {"requests": [{}]},
        {"requests": [{"path": "articles"}]},
        {"requests": [{"path": "/articles%ff"}]},
        {"requests": [{"path": "/articles%ED%A0%80"}]},
        {"requests": [{"path": "/articles%zz"}]},
        {"requests": [{"path": "/art icles"}]},
        {"requests": [{"path": "/b%61tch/"}]},
        {"requests": [{"path": "/v1/batch?x=1"}]},
        {"requests": [{"path": "/articles", "method": "BREW"}]},
        {"requests": [{"path": "/articles", "headers": {"X-Any": 5}}]},
        {"requests": [{"path": "/articles", "headers": {"X Any": "a"}}]},
        {"requests": [{"path": "/articles", "headers": {"X-Any": "a\nb"}}]},
        {"requests": [{"path": "/articles", "bogus": 1}]},
        {"defaults": {"headers": {"X-Any": {}}}, "requests": []},
        {"defaults": None, "requests": []},
        {"requests": [{"path": "/articles"}] * 26},
    ],
)
def test_batch_body_says_what_the_service_reads(app, document, body):
    """A body the document allows is run (200); one it does not is refused, 400 errno 107."""
    operation = document["paths"]["/batch"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    allowed = _allows(document, schema, body)
    response = app.post_json("/v1/batch", body, headers=basic_auth(), expect_errors=True)
    assert response.status_code == (200 if allowed else 400), response.text


class _SearchQuery(colander.MappingSchema):
    q = colander.SchemaNode(colander.String(), validator=colander.Length(min=1))


class _SearchBody(colander.MappingSchema):
    limit = colander.SchemaNode(colander.Integer(), validator=colander.Range(1, 50))


class _Search(colander.MappingSchema):
    """A Cornice schema: what each part of the request holds."""

    querystring = _SearchQuery()
    body = _SearchBody()


def _extension(config):
    service = cliquet.make_service(config, "search", "/search/{bucket:[a-z]+}")
    service.add_view("POST", lambda request: {}, schema=_Search, permission=NO_PERMISSION_REQUIRED)
    config.add_cornice_service(service)


def test_extensions_services_and_authentication_policies():
    settings = {
        "multiauth.policies": "basicauth token",
        "multiauth.policy.token.use": "tests.test_authorization.LocalNetworkPolicy",
    }
    app = build_app(settings, setup=_extension)
    document = app.get("/v1/__api__").json
    validate(document)
    search = document["paths"]["/search/{bucket}"]
    bucket = search["parameters"][0]
    assert bucket["name"] == "bucket" and bucket["schema"]["pattern"] == "^(?:[a-z]+)$"
    post = search["post"]
    assert post["parameters"][0]["name"] == "q" and post["parameters"][0]["in"] == "query"
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["limit"]["maximum"] == 50
    schemes = document["components"]["securitySchemes"]
    assert schemes["basicauth"] == {"type": "http", "scheme": "basic"}
    assert schemes["token"]["type"] == "apiKey"
    assert "tests.test_authorization.LocalNetworkPolicy" in schemes["token"]["description"]
    assert {} in document["security"]


def test_default_authentication_is_http_basic(document):
    assert document["components"]["securitySchemes"] == {
        "basicauth": {"type": "http", "scheme": "basic"}
    }


# A generated project


def test_generated_projects_document(cookies, monkeypatch):
    from pathlib import Path

    template = Path(__file__).parent.parent / "templates" / "project"
    result = cookies.bake(template=str(template), extra_context={"project_name": "demo"})
    assert result.exit_code == 0, result.exception
    monkeypatch.syspath_prepend(str(result.project_path))
    import importlib

    package = importlib.import_module("demo")
    try:
        app = webtest.TestApp(package.main({}, **{"cliquet.userid_hmac_secret": "s"}))
        document = app.get("/v1/__api__").json
    finally:
        for name in [n for n in sys.modules if n == "demo" or n.startswith("demo.")]:
            del sys.modules[name]
    validate(document)
    assert document["info"]["title"] == "demo"
    article = document["components"]["schemas"]["article"]
    assert article["required"] == ["title"]
    assert {"/articles", "/articles/{id}", "/batch"} <= set(document["paths"])


def test_path_parameters_hold_no_control_character(app, document):
    """A path with a control character is refused before routing (400): the document says
    so of every parameter, so that a client generating valid requests never sends one."""
    (name,) = [
        p for p in document["paths"]["/__client__/{name}"]["parameters"] if p["name"] == "name"
    ]
    assert not _allows(document, name["schema"], "x\x0f")
    assert _allows(document, name["schema"], "cliquet-client.js")
    answer = app.get("/v1/__client__/x%0F", expect_errors=True)
    assert answer.status_code == 400 and answer.json["errno"] == ERRORS.INVALID_PARAMETERS


def test_services_say_the_media_type_of_their_answers(app, document):
    client_file = document["paths"]["/__client__/{name}"]["get"]["responses"]["200"]
    assert list(client_file["content"]) == ["text/javascript"]
    answer = app.get("/v1/__client__/cliquet-client.js")
    assert answer.content_type == "text/javascript"
    assert list(document["paths"]["/"]["get"]["responses"]["200"]["content"]) == [
        "application/json"
    ]


def test_an_extension_page_is_documented_as_what_it_answers():
    def setup(config):
        from pyramid.response import Response

        page = cliquet.make_service(config, "page", "/page", media_type="text/html")
        page.add_view(
            "GET", lambda request: Response("<p>hi</p>"), permission=NO_PERMISSION_REQUIRED
        )
        config.add_cornice_service(page)

    app = build_app(setup=setup)
    document = app.get("/v1/__api__").json
    assert list(document["paths"]["/page"]["get"]["responses"]["200"]["content"]) == [
        "text/html"
    ]
    validate(document)
