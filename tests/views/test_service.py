"""The service views a client relies on: hello, redirects, heartbeats and ``__version__``."""

import json
import threading
import time
from importlib import metadata

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

import cliquet
from cliquet.authentication import basicauth_userid
from cliquet.testing.web import TEST_SETTINGS, basic_auth, build_app

SECRET = TEST_SETTINGS["cliquet.userid_hmac_secret"]

HELLO_KEYS = {
    "project_name",
    "project_version",
    "http_api_version",
    "project_docs",
    "url",
    "openapi",
    "settings",
    "capabilities",
}


def assert_json(response):
    assert response.content_type == "application/json"


def assert_error(response, status, errno):
    assert response.status_code == status
    assert_json(response)
    assert response.json["code"] == status
    assert response.json["errno"] == errno


# Hello


def test_hello_lists_every_protocol_key(app):
    response = app.get("/v1/")
    assert response.status_code == 200
    assert_json(response)
    assert set(response.json) == HELLO_KEYS


def test_hello_values_come_from_settings_and_version(app):
    body = app.get("/v1/").json
    assert body["project_name"] == "testapp"
    assert body["project_version"] == "0.0.1"
    assert body["http_api_version"] == "1.0"
    assert body["project_docs"] == ""
    assert body["url"] == "http://localhost/v1/"
    assert body["settings"] == {"batch_max_requests": 25, "readonly": False}
    assert set(body["capabilities"]) == {"client"}  # the runtime serves the JavaScript client


def test_hello_shows_public_settings_as_configured():
    app = build_app(
        {
            "cliquet.batch_max_requests": "7",
            "cliquet.readonly": "true",
            "cliquet.project_docs": "https://docs.example.org",
        }
    )
    body = app.get("/v1/").json
    assert body["settings"] == {"batch_max_requests": 7, "readonly": True}
    assert body["project_docs"] == "https://docs.example.org"


def test_hello_never_shows_private_settings(app):
    text = app.get("/v1/").text
    assert SECRET not in text
    assert "userid_hmac_secret" not in text


def test_hello_lists_declared_capabilities():
    def setup(config):
        config.add_api_capability(
            "history", description="Track changes", url="https://docs.example.org", depth=3
        )

    body = build_app(setup=setup).get("/v1/").json
    del body["capabilities"]["client"]  # the runtime's own (tests/test_client_serving.py)
    assert body["capabilities"] == {
        "history": {"description": "Track changes", "url": "https://docs.example.org", "depth": 3}
    }


def test_hello_has_no_user_when_anonymous(app):
    assert "user" not in app.get("/v1/").json


def test_hello_shows_the_basic_auth_user_id(app):
    body = app.get("/v1/", headers=basic_auth("alice", "wonderland")).json
    assert body["user"] == {"id": basicauth_userid(SECRET, "alice", "wonderland")}


# Redirects to the version prefix


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "http://localhost/v1/"),
        ("/v1", "http://localhost/v1/"),
        ("/anything?x=1", "http://localhost/v1/anything?x=1"),
        (
            "/articles/abc?_since=12&_sort=-title",
            "http://localhost/v1/articles/abc?_since=12&_sort=-title",
        ),
        ("/__heartbeat__", "http://localhost/v1/__heartbeat__"),
    ],
)
def test_paths_without_prefix_redirect_under_it(app, path, location):
    response = app.get(path)
    assert response.status_code == 307
    assert response.headers["Location"] == location


def test_bare_prefix_redirect_keeps_query_string(app):
    response = app.get("/v1?x=1")
    assert response.status_code == 307
    assert response.headers["Location"] == "http://localhost/v1/?x=1"


def test_write_methods_are_redirected_with_307(app):
    # 307, unlike 301/302, tells the client to repeat the same method and body.
    response = app.post_json("/articles", {"data": {}})
    assert response.status_code == 307
    assert response.headers["Location"] == "http://localhost/v1/articles"


def test_redirect_target_answers(app):
    assert app.get("/").follow().status_code == 200


@pytest.fixture
def v2_app():
    return build_app({"cliquet.http_api_version": "2.3"})


def test_api_version_major_sets_the_prefix(v2_app):
    response = v2_app.get("/v2/")
    assert response.status_code == 200
    assert response.json["http_api_version"] == "2.3"
    assert response.json["url"].endswith("/v2/")
    assert v2_app.get("/v2/__heartbeat__").status_code == 200
    assert v2_app.get("/v2/__lbheartbeat__").json == {}


def test_api_version_redirects_to_its_prefix(v2_app):
    assert v2_app.get("/").headers["Location"] == "http://localhost/v2/"
    assert v2_app.get("/v2").headers["Location"] == "http://localhost/v2/"
    response = v2_app.get("/__heartbeat__?a=b")
    assert response.headers["Location"] == "http://localhost/v2/__heartbeat__?a=b"


def test_api_version_leaves_nothing_under_v1(v2_app):
    assert_error(v2_app.get("/v1/", expect_errors=True), 404, 111)
    assert_error(v2_app.get("/v1/__heartbeat__", expect_errors=True), 404, 111)


# Heartbeats


def test_heartbeat_is_200_when_every_backend_is_up(app):
    response = app.get("/v1/__heartbeat__")
    assert response.status_code == 200
    assert_json(response)
    assert response.json == {"storage": True, "cache": True, "permission": True}
    assert "Retry-After" not in response.headers


def _app_with_check(check, **settings):
    def setup(config):
        config.registry.heartbeats["x"] = check

    return build_app(settings, setup=setup)


def _assert_heartbeat_down(response):
    assert response.status_code == 503
    assert_json(response)
    assert response.json == {"storage": True, "cache": True, "permission": True, "x": False}
    assert response.headers["Retry-After"] == "30"


def test_heartbeat_is_503_when_a_check_fails():
    app = _app_with_check(lambda request: False)
    _assert_heartbeat_down(app.get("/v1/__heartbeat__", expect_errors=True))


def test_heartbeat_is_503_when_a_check_raises():
    def check(request):
        raise ConnectionError("backend down")

    app = _app_with_check(check)
    _assert_heartbeat_down(app.get("/v1/__heartbeat__", expect_errors=True))


def test_heartbeat_only_true_counts_as_up():
    app = _app_with_check(lambda request: None)
    _assert_heartbeat_down(app.get("/v1/__heartbeat__", expect_errors=True))


def test_heartbeat_retry_after_follows_setting():
    app = _app_with_check(lambda request: False, **{"cliquet.retry_after_seconds": "12"})
    response = app.get("/v1/__heartbeat__", expect_errors=True)
    assert response.headers["Retry-After"] == "12"


def test_heartbeat_does_not_wait_for_a_hanging_check():
    release = threading.Event()

    def hanging(request):
        release.wait(5)  # A 5 s hang, cut short at teardown so no thread outlives the test.
        return True

    app = _app_with_check(hanging, **{"cliquet.heartbeat_timeout_seconds": "1"})
    try:
        start = time.monotonic()
        response = app.get("/v1/__heartbeat__", expect_errors=True)
        elapsed = time.monotonic() - start
    finally:
        release.set()
    _assert_heartbeat_down(response)
    # Loose sanity bound: answered after the 1 s timeout, long before the 5 s hang ends.
    assert elapsed < 3


def test_lbheartbeat_is_always_200_empty(app):
    response = app.get("/v1/__lbheartbeat__")
    assert response.status_code == 200
    assert_json(response)
    assert response.json == {}


def test_lbheartbeat_stays_200_when_a_backend_is_down():
    app = _app_with_check(lambda request: False)
    assert app.get("/v1/__lbheartbeat__").json == {}


# __version__


def _service(settings, version=None, project_name=""):
    base = {k: v for k, v in TEST_SETTINGS.items() if k != "cliquet.project_name"}
    config = Configurator(settings={**base, **settings})
    cliquet.initialize(config, version, project_name=project_name)
    return webtest.TestApp(config.make_wsgi_app())


def test_version_without_the_file_is_the_services_version(tmp_path):
    app = _service(
        {"cliquet.version_json_path": str(tmp_path / "version.json")}, "2.3.4", "shop"
    )
    response = app.get("/v1/__version__")
    assert response.status_code == 200
    assert_json(response)
    assert response.json == {"name": "shop", "version": "2.3.4"}


def test_version_without_the_file_nor_a_version_is_the_distributions(tmp_path):
    """A service that gives no version: that of the distribution named by project_name."""
    app = _service({"cliquet.version_json_path": str(tmp_path / "v.json")}, None, "cliquet-kit")
    response = app.get("/v1/__version__")
    assert response.json == {"name": "cliquet-kit", "version": metadata.version("cliquet-kit")}


def test_version_is_404_when_nothing_tells_it(tmp_path):
    settings = {"cliquet.version_json_path": str(tmp_path / "version.json")}
    app = _service(settings, None, "not-an-installed-distribution")
    response = app.get("/v1/__version__", expect_errors=True)
    assert_error(response, 404, 111)


def test_version_serves_the_file(tmp_path):
    content = {"source": "https://github.com/x/y", "version": "1.2.3", "commit": "abc123"}
    path = tmp_path / "version.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    app = build_app({"cliquet.version_json_path": str(path)})
    response = app.get("/v1/__version__")
    assert response.status_code == 200
    assert_json(response)
    assert response.json == content


def test_invalid_version_file_stops_start_up(tmp_path):
    path = tmp_path / "version.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cliquet.version_json_path"):
        build_app({"cliquet.version_json_path": str(path)})
