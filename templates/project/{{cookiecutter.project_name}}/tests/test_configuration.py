"""What the .ini files promise: secrets and URLs of production come from the environment."""

import pytest
from pyramid.exceptions import ConfigurationError

from {{ cookiecutter.package_name }} import main

FROM_ENVIRONMENT = (
    "cliquet.storage_url",
    "cliquet.permission_url",
    "cliquet.cache_url",
    "cliquet.userid_hmac_secret",
)


def test_production_ini_holds_no_secret_nor_url(ini_settings):
    settings = ini_settings("production.ini")
    for name in FROM_ENVIRONMENT:
        assert settings[name] == "", name


@pytest.fixture
def production_urls(monkeypatch):
    """The URLs production.ini leaves to the environment, set there: (database, cache)."""
    database = "postgresql://user:password@db.invalid/{{ cookiecutter.package_name }}"
{%- if cookiecutter.production_cache == "redis" %}
    cache = "redis://cache.invalid:6379/0"
{%- else %}
    cache = database
{%- endif %}
    monkeypatch.setenv("CLIQUET_STORAGE_URL", database)
    monkeypatch.setenv("CLIQUET_PERMISSION_URL", database)
    monkeypatch.setenv("CLIQUET_CACHE_URL", cache)
    return database, cache


def test_production_ini_reads_them_from_the_environment(
    monkeypatch, ini_settings, production_urls
):
    database, cache = production_urls
    monkeypatch.setenv("CLIQUET_USERID_HMAC_SECRET", "from-the-environment")
    # The backends connect lazily: building the application needs no server.
    settings = main({}, **ini_settings("production.ini")).registry.settings
    assert settings["cliquet.storage_url"] == database
    assert settings["cliquet.cache_url"] == cache
    assert settings["cliquet.userid_hmac_secret"] == "from-the-environment"


def test_production_ini_takes_its_public_origin_from_the_environment(
    monkeypatch, ini_settings, production_urls
):
    settings = ini_settings("production.ini")
    assert settings["cliquet.http_scheme"] == "https"
    assert settings["cliquet.http_host"] == ""
    monkeypatch.setenv("CLIQUET_USERID_HMAC_SECRET", "from-the-environment")
    monkeypatch.setenv("CLIQUET_HTTP_HOST", "api.example.com")
    settings = main({}, **settings).registry.settings
    assert (settings["cliquet.http_scheme"], settings["cliquet.http_host"]) == (
        "https",
        "api.example.com",
    )


@pytest.mark.parametrize("secret", ["", "   ", "...", "changeme", "too-short"])
def test_production_ini_refuses_basic_auth_with_a_weak_secret(
    monkeypatch, ini_settings, production_urls, secret
):
    monkeypatch.setenv("CLIQUET_USERID_HMAC_SECRET", secret)
    with pytest.raises(ConfigurationError, match="userid_hmac_secret"):
        main({}, **ini_settings("production.ini"))


def test_development_ini_has_a_secret_of_its_own(ini_settings):
    assert len(ini_settings("development.ini")["cliquet.userid_hmac_secret"]) >= 32
