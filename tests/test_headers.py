"""Response headers and request checks: Backoff, Retry-After, end of service, read-only, CORS."""

import datetime
import json

import pytest

from cliquet.storage import StorageError
from cliquet.testing.web import build_app

EXPOSED = {
    "Alert",
    "Backoff",
    "ETag",
    "Last-Modified",
    "Next-Page",
    "Retry-After",
    "Total-Records",
}


def _add_failing_views(config):
    def storage_down(request):
        raise StorageError("down")

    config.add_route("down", "/down")
    config.add_view(storage_down, route_name="down", renderer="json")


def assert_error(response, status, errno):
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.json["code"] == status
    assert response.json["errno"] == errno
    return response.json


def _date(days_from_today):
    return (datetime.date.today() + datetime.timedelta(days=days_from_today)).isoformat()


# Backoff


@pytest.fixture
def backoff_app():
    return build_app({"cliquet.backoff": "10"}, setup=_add_failing_views)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/", 200),
        ("GET", "/v1/__heartbeat__", 200),
        ("GET", "/v1/nowhere", 404),
        ("DELETE", "/v1/", 405),
        ("GET", "/v1/down", 503),
    ],
)
def test_backoff_on_every_response(backoff_app, method, path, status):
    response = backoff_app.request(path, method=method, expect_errors=True)
    assert response.status_code == status
    assert response.headers["Backoff"] == "10"


@pytest.mark.parametrize("path", ["/v1/", "/v1/nowhere"])
def test_no_backoff_by_default(app, path):
    assert "Backoff" not in app.get(path, expect_errors=True).headers


# Retry-After


def test_retry_after_on_503():
    app = build_app({"cliquet.retry_after_seconds": "17"}, setup=_add_failing_views)
    response = app.get("/v1/down", expect_errors=True)
    assert_error(response, 503, 201)
    assert response.headers["Retry-After"] == "17"


@pytest.mark.parametrize("path", ["/v1/", "/v1/nowhere"])
def test_no_retry_after_outside_503(app, path):
    assert "Retry-After" not in app.get(path, expect_errors=True).headers


# End of service


def test_no_alert_without_eos(app):
    assert "Alert" not in app.get("/v1/").headers


def test_eos_in_the_future_adds_a_soft_alert():
    app = build_app(
        {
            "cliquet.eos": _date(30),
            "cliquet.eos_message": "Move to v2",
            "cliquet.eos_url": "https://example.org/eos",
        }
    )
    for path in ("/v1/", "/v1/nowhere"):
        response = app.get(path, expect_errors=True)
        assert response.status_code in (200, 404)
        assert json.loads(response.headers["Alert"]) == {
            "code": "soft-eol",
            "message": "Move to v2",
            "url": "https://example.org/eos",
        }


@pytest.mark.parametrize("days", [0, -1, -365])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/"),
        ("GET", "/v1/__heartbeat__"),
        ("GET", "/v1/nowhere"),
        ("POST", "/v1/articles"),
    ],
)
def test_eos_reached_refuses_every_request_with_410(days, method, path):
    app = build_app(
        {
            "cliquet.eos": _date(days),
            "cliquet.eos_message": "Gone for good",
            "cliquet.eos_url": "https://example.org/eos",
        }
    )
    response = app.request(path, method=method, expect_errors=True)
    body = assert_error(response, 410, 202)
    assert body["message"] == "Gone for good"
    alert = json.loads(response.headers["Alert"])
    assert alert == {
        "code": "hard-eol",
        "message": "Gone for good",
        "url": "https://example.org/eos",
    }


# Read-only


@pytest.fixture
def readonly_app():
    return build_app({"cliquet.readonly": "true"})


def test_readonly_serves_reads(readonly_app):
    response = readonly_app.get("/v1/")
    assert response.status_code == 200
    assert response.json["settings"]["readonly"] is True
    assert readonly_app.get("/v1/__heartbeat__").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/v1/articles", "/v1/articles/abc", "/v1/"])
def test_readonly_refuses_writes_with_405_errno_115(readonly_app, method, path):
    response = readonly_app.request(
        path,
        method=method,
        body=b'{"data": {}}',
        headers={"Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_error(response, 405, 115)


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/batch/"])
def test_readonly_lets_batch_through(readonly_app, path):
    response = readonly_app.post_json(path, {"requests": []}, expect_errors=True)
    # Batch checks each subrequest itself; the blanket read-only refusal must not catch it.
    assert not (response.status_code == 405 and response.json.get("errno") == 115)


# CORS


def _exposed(response):
    return {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}


@pytest.mark.parametrize(("path", "status"), [("/v1/", 200), ("/v1/nowhere", 404)])
def test_cors_headers_for_any_origin_by_default(app, path, status):
    response = app.get(path, headers={"Origin": "http://client.org"}, expect_errors=True)
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "http://client.org")
    assert _exposed(response) == EXPOSED


def test_no_cors_headers_without_origin(app):
    headers = app.get("/v1/").headers
    assert "Access-Control-Allow-Origin" not in headers
    assert "Access-Control-Expose-Headers" not in headers


@pytest.fixture
def cors_app():
    return build_app({"cliquet.cors_origins": "http://good.org"})


@pytest.mark.parametrize(("path", "status"), [("/v1/", 200), ("/v1/nowhere", 404)])
def test_cors_allowed_origin_gets_the_headers(cors_app, path, status):
    response = cors_app.get(path, headers={"Origin": "http://good.org"}, expect_errors=True)
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "http://good.org"
    assert _exposed(response) == EXPOSED


@pytest.mark.parametrize("path", ["/v1/", "/v1/nowhere"])
def test_cors_other_origin_gets_no_allow_origin(cors_app, path):
    response = cors_app.get(path, headers={"Origin": "http://evil.org"}, expect_errors=True)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_preflight_on_hello(app):
    response = app.options(
        "/v1/",
        headers={"Origin": "http://client.org", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "http://client.org")
    assert "GET" in response.headers["Access-Control-Allow-Methods"].split(",")


def test_cors_preflight_for_allowed_origin(cors_app):
    response = cors_app.options(
        "/v1/",
        headers={"Origin": "http://good.org", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://good.org"


def test_cors_preflight_for_other_origin_is_not_allowed(cors_app):
    response = cors_app.options(
        "/v1/",
        headers={"Origin": "http://evil.org", "Access-Control-Request-Method": "GET"},
        expect_errors=True,
    )
    assert "Access-Control-Allow-Origin" not in response.headers


# CORS with glob origins


@pytest.fixture
def glob_cors_app():
    return build_app({"cliquet.cors_origins": "*.example.com http://good.org"})


@pytest.mark.parametrize(("path", "status"), [("/v1/", 200), ("/v1/nowhere", 404)])
@pytest.mark.parametrize("origin", ["https://app.example.com", "http://a.b.example.com"])
def test_cors_glob_origin_gets_allow_and_expose_headers(glob_cors_app, path, status, origin):
    response = glob_cors_app.get(path, headers={"Origin": origin}, expect_errors=True)
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert _exposed(response) == EXPOSED


@pytest.mark.parametrize("path", ["/v1/", "/v1/nowhere"])
@pytest.mark.parametrize(
    "origin", ["https://example.com.evil.org", "https://evil.org", "https://example.com"]
)
def test_cors_glob_other_origin_gets_nothing(glob_cors_app, path, origin):
    response = glob_cors_app.get(path, headers={"Origin": origin}, expect_errors=True)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers


def test_cors_glob_origin_preflight(glob_cors_app):
    response = glob_cors_app.options(
        "/v1/",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_cors_glob_other_origin_preflight_is_not_allowed(glob_cors_app):
    response = glob_cors_app.options(
        "/v1/",
        headers={"Origin": "https://evil.org", "Access-Control-Request-Method": "GET"},
        expect_errors=True,
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allowed_origin_is_in_vary(glob_cors_app):
    response = glob_cors_app.get("/v1/", headers={"Origin": "https://app.example.com"})
    assert "origin" in {v.strip().lower() for v in response.headers["Vary"].split(",")}
