"""The seed's examples (shared/seed/ecosystem.rst) that need no resource, as written."""

import logging

import pytest
import webtest
from pyramid.config import Configurator

import cliquet
from cliquet.testing.cache import CacheTest

SECRET = {"cliquet.userid_hmac_secret": "s"}


def serve_myproject(**settings):
    import myproject

    return webtest.TestApp(myproject.main({}, **SECRET, **settings))


def test_extension_included_by_main_gets_its_default(seed_packages):
    app = serve_myproject()
    assert app.get("/v1/es-status").json == {"refresh_enabled": False}


def test_extension_setting_from_ini(seed_packages):
    app = serve_myproject(**{"cliquet_elasticsearch.refresh_enabled": "true"})
    assert app.get("/v1/es-status").json == {"refresh_enabled": True}


def test_environment_variable_beats_the_ini(seed_packages, monkeypatch):
    monkeypatch.setenv("CLIQUET_ELASTICSEARCH_REFRESH_ENABLED", "true")
    app = serve_myproject(**{"cliquet_elasticsearch.refresh_enabled": "false"})
    assert app.get("/v1/es-status").json == {"refresh_enabled": True}


def test_extension_advertises_its_capability(seed_packages):
    capabilities = serve_myproject().get("/v1/").json["capabilities"]
    del capabilities["client"]  # the runtime's own (tests/test_client_serving.py)
    assert capabilities == {
        "elasticsearch": {"description": "Index records", "url": "https://example.org/es"}
    }


def test_scanned_service_views_live_under_the_version_prefix(seed_packages):
    app = serve_myproject()
    assert app.get("/v1/greeting").json == {"hello": "world"}
    assert app.post_json("/v1/greeting", {"name": "bob"}).json == {"hello": "bob"}
    redirect = app.get("/greeting", status=307)
    assert redirect.headers["Location"].endswith("/v1/greeting")


def test_scanned_service_validation_errors_are_cliquet_errors(seed_packages):
    response = serve_myproject().post_json("/v1/greeting", {"nom": "bob"}, status=400)
    assert response.json["errno"] == 107
    assert response.json["details"][0]["location"] == "body"
    assert response.json["details"][0]["name"] == "name"


def test_extension_included_through_setting(seed_packages):
    config = Configurator(settings={**SECRET, "cliquet.includes": "cliquet_elasticsearch"})
    cliquet.initialize(config, "1.0")
    app = webtest.TestApp(config.make_wsgi_app())
    assert app.get("/v1/es-status").json == {"refresh_enabled": False}
    assert "elasticsearch" in app.get("/v1/").json["capabilities"]


def test_unknown_package_in_includes_names_the_setting(seed_packages):
    from pyramid.exceptions import ConfigurationError

    config = Configurator(settings={"cliquet.includes": "cliquet_nowhere"})
    with pytest.raises(ConfigurationError, match="cliquet.includes.*cliquet_nowhere"):
        cliquet.initialize(config, "1.0")


def test_custom_cache_backend_chosen_by_setting(seed_packages):
    app = serve_myproject(
        **{"cliquet.cache_backend": "cliquet_riak.cache", "cliquet.cache_url": "riak://h:8098"}
    )
    cache = app.app.registry.cache
    assert type(cache).__name__ == "Riak"
    assert cache._client.pb_port == 8098
    cache.set("key", {"a": 1}, ttl=10)
    assert cache.get("key") == {"a": 1}
    assert app.get("/v1/__heartbeat__").json["cache"] is True


@pytest.mark.usefixtures("seed_packages")
class TestSeedRiakCacheConformance(CacheTest):
    @pytest.fixture
    def cache(self):
        import cliquet_riak.cache

        config = Configurator(settings={"cliquet.cache_url": "riak://localhost"})
        cache = cliquet_riak.cache.load_from_config(config)
        cache.flush()
        yield cache
        cache.flush()


def test_custom_logging_renderer_chosen_by_setting(seed_packages, caplog):
    app = serve_myproject(**{"cliquet.logging_renderer": "cliquet_fluent.FluentRenderer"})
    with caplog.at_level(logging.INFO, logger="cliquet"):
        app.get("/v1/greeting", headers={"User-Agent": "seed"})
    lines = [r.getMessage() for r in caplog.records if r.name == "cliquet"]
    summary = [line for line in lines if "request.summary" in line]
    assert len(summary) == 1
    assert summary[0].startswith("fluent cliquet.info ")
    assert '"path": "/v1/greeting"' in summary[0]
    assert '"agent": "seed"' in summary[0]
