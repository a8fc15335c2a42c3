"""Every error, from every layer, is cliquet's JSON error with the errno of PROTOCOL.md."""

import colander
import pytest
from cornice import Service
from cornice.validators import colander_body_validator
from pyramid.httpexceptions import HTTPBadRequest

from cliquet.cache import CacheError
from cliquet.errors import ERRORS, http_error, raise_invalid
from cliquet.permission import PermissionBackendError
from cliquet.storage import StorageError
from cliquet.testing.web import basic_auth, build_app

TRACE_MARKER = "unexpected-failure-marker-42"


class PersonSchema(colander.MappingSchema):
    name = colander.SchemaNode(colander.String())
    age = colander.SchemaNode(colander.Int())


def _raising(exc):
    def view(request):
        raise exc

    return view


def _add_route_view(config, name, view, **kwargs):
    config.add_route(name, f"/{name}")
    config.add_view(view, route_name=name, renderer="json", **kwargs)


def _add_views(config):
    _add_route_view(config, "boom", _raising(ValueError(TRACE_MARKER)))
    _add_route_view(config, "storage", _raising(StorageError("db down")))
    _add_route_view(config, "cache", _raising(CacheError("cache down")))
    _add_route_view(config, "permission", _raising(PermissionBackendError("perm down")))
    _add_route_view(config, "protected", lambda request: {"ok": True}, permission="write")

    def with_http_error(request):
        raise http_error(
            HTTPBadRequest(),
            errno=ERRORS.INVALID_POSTED_DATA,
            message="Provide a data field.",
            details={"field": "data"},
        )

    def with_raise_invalid(request):
        raise_invalid(location="querystring", name="_limit", description="not an integer")

    _add_route_view(config, "http-error", with_http_error)
    _add_route_view(config, "raise-invalid", with_raise_invalid)

    people = Service(name="people", path="/people")
    people.add_view(
        "POST",
        lambda request: {"data": request.validated},
        schema=PersonSchema,
        validators=(colander_body_validator,),
    )
    config.add_cornice_service(people)


@pytest.fixture
def app():
    return build_app({"cliquet.retry_after_seconds": "42"}, setup=_add_views)


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.json
    assert body["code"] == status
    assert body["errno"] == errno
    assert body["error"] == response.status.split(" ", 1)[1]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_unknown_url_is_404_errno_111(app):
    assert_error(app.get("/v1/nowhere", expect_errors=True), 404, 111)


def test_wrong_method_on_hello_is_405_errno_115(app):
    response = app.delete("/v1/", expect_errors=True)
    assert_error(response, 405, 115)


def test_unexpected_exception_is_500_errno_999_without_trace(app):
    response = app.get("/v1/boom", expect_errors=True)
    assert_error(response, 500, 999)
    text = response.text
    assert TRACE_MARKER not in text
    assert "Traceback" not in text
    assert "ValueError" not in text
    assert "File " not in text


@pytest.mark.parametrize("path", ["/v1/storage", "/v1/cache", "/v1/permission"])
def test_backend_error_is_503_errno_201_with_retry_after(app, path):
    response = app.get(path, expect_errors=True)
    body = assert_error(response, 503, 201)
    assert response.headers["Retry-After"] == "42"
    # The backend's own message is for logs, not for clients.
    assert "down" not in body["message"]


def test_backend_error_retry_after_defaults_to_30():
    response = build_app(setup=_add_views).get("/v1/storage", expect_errors=True)
    assert response.headers["Retry-After"] == "30"


def test_permission_required_anonymous_is_401_errno_104(app):
    response = app.get("/v1/protected", expect_errors=True)
    assert_error(response, 401, 104)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_permission_required_authenticated_is_403_errno_121(app):
    response = app.get("/v1/protected", headers=basic_auth(), expect_errors=True)
    assert_error(response, 403, 121)


def test_schema_violation_is_400_errno_107_with_details(app):
    response = app.post_json("/v1/people", {"name": "Ada"}, expect_errors=True)
    body = assert_error(response, 400, 107)
    assert {"location": "body", "name": "age", "description": "Required"} in body["details"]
    for detail in body["details"]:
        assert set(detail) == {"location", "name", "description"}


def test_schema_violation_names_each_invalid_field(app):
    response = app.post_json("/v1/people", {"name": "Ada", "age": "old"}, expect_errors=True)
    body = assert_error(response, 400, 107)
    assert [(d["location"], d["name"]) for d in body["details"]] == [("body", "age")]
    assert "age" in body["message"]


def test_valid_body_passes_the_schema(app):
    response = app.post_json("/v1/people", {"name": "Ada", "age": 36})
    assert response.json == {"data": {"name": "Ada", "age": 36}}


def test_malformed_json_is_400_errno_106(app):
    response = app.post(
        "/v1/people",
        "{not json",
        headers={"Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 400, ERRORS.BADJSON)


def test_http_error_in_a_view_has_the_protocol_shape(app):
    response = app.get("/v1/http-error", expect_errors=True)
    assert response.content_type == "application/json"
    assert response.json == {
        "code": 400,
        "errno": 109,
        "error": "Bad Request",
        "message": "Provide a data field.",
        "details": {"field": "data"},
    }


def test_raise_invalid_in_a_view_has_the_protocol_shape(app):
    response = app.get("/v1/raise-invalid", expect_errors=True)
    assert response.content_type == "application/json"
    assert response.json == {
        "code": 400,
        "errno": 107,
        "error": "Bad Request",
        "message": "_limit in querystring: not an integer",
        "details": [
            {"location": "querystring", "name": "_limit", "description": "not an integer"}
        ],
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "errno"),
    [
        ("GET", "/v1/nowhere", 404, 111),
        ("DELETE", "/v1/", 405, 115),
        ("GET", "/v1/boom", 500, 999),
        ("GET", "/v1/storage", 503, 201),
        ("GET", "/v1/protected", 401, 104),
        ("GET", "/v1/raise-invalid", 400, 107),
        ("POST", "/v1/people", 400, 107),
    ],
)
def test_errors_stay_json_when_html_is_asked(app, method, path, status, errno):
    headers = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
    response = app.request(path, method=method, headers=headers, expect_errors=True)
    assert_error(response, status, errno)
    assert "<html" not in response.text.lower()
