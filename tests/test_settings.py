import datetime

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

import cliquet
from cliquet.settings import DEFAULT_SETTINGS, env_variable_name
from cliquet.testing.web import build_app


def initialized(settings=None, **kwargs):
    config = Configurator(settings=settings or {})
    cliquet.initialize(config, "1.2.3", **kwargs)
    return config.get_settings()


def test_env_variable_name_upper_cases_and_replaces_dots():
    assert env_variable_name("cliquet.storage_backend") == "CLIQUET_STORAGE_BACKEND"
    assert (
        env_variable_name("cliquet_elasticsearch.refresh_enabled")
        == "CLIQUET_ELASTICSEARCH_REFRESH_ENABLED"
    )


def test_defaults_fill_missing_settings():
    settings = initialized()
    assert settings["cliquet.storage_backend"] == "cliquet.storage.memory"
    assert settings["cliquet.batch_max_requests"] == 25
    assert settings["cliquet.cors_origins"] == ["*"]


def test_ini_values_win_over_defaults_and_are_typed():
    settings = initialized(
        {
            "cliquet.batch_max_requests": "10",
            "cliquet.readonly": "true",
            "cliquet.cors_origins": "http://a.org http://b.org",
            "cliquet.backoff": "30",
            "cliquet.eos": "2100-01-02",
        }
    )
    assert settings["cliquet.batch_max_requests"] == 10
    assert settings["cliquet.readonly"] is True
    assert settings["cliquet.cors_origins"] == ["http://a.org", "http://b.org"]
    assert settings["cliquet.backoff"] == 30
    assert settings["cliquet.eos"] == datetime.date(2100, 1, 2)


def test_environment_wins_over_ini(monkeypatch):
    monkeypatch.setenv("CLIQUET_BATCH_MAX_REQUESTS", "7")
    monkeypatch.setenv("CLIQUET_PROJECT_NAME", "from-env")
    settings = initialized({"cliquet.batch_max_requests": "10", "cliquet.project_name": "ini"})
    assert settings["cliquet.batch_max_requests"] == 7
    assert settings["cliquet.project_name"] == "from-env"


@pytest.mark.parametrize("name", sorted(DEFAULT_SETTINGS))
def test_every_default_setting_can_be_overridden_by_environment(monkeypatch, name):
    default = DEFAULT_SETTINGS[name]
    if name == "cliquet.initialization_sequence":
        value, expected = " ".join(default), default
    elif isinstance(default, bool):
        value, expected = "true", True
    elif isinstance(default, int) or name in ("cliquet.backoff", "cliquet.paginate_by"):
        value, expected = "42", 42
    elif name in ("cliquet.includes", "cliquet.event_listeners"):
        value, expected = "", []
    elif isinstance(default, list):
        value, expected = "http://x.org", ["http://x.org"]
    elif name == "cliquet.eos":
        value, expected = "2100-01-01", datetime.date(2100, 1, 1)
    elif name.endswith("_backend") or name == "cliquet.logging_renderer" or "multiauth" in name:
        value = expected = default  # must stay importable; still read from the environment
    elif name == "cliquet.http_api_version":
        value, expected = "2.1", "2.1"
    elif name == "cliquet.http_scheme":
        value, expected = "https", "https"
    else:
        value, expected = "from-env", "from-env"
    if name == "cliquet.userid_hmac_secret_required":
        monkeypatch.setenv("CLIQUET_USERID_HMAC_SECRET", "a-long-random-secret-of-the-test")
    monkeypatch.setenv(env_variable_name(name), value)
    settings = initialized({name: "something-else"} if name.endswith("_url") else {})
    assert settings[name] == expected


def test_environment_overrides_ini_settings_without_defaults(monkeypatch):
    monkeypatch.setenv("MYPROJECT_COLOUR", "blue")
    settings = initialized({"myproject.colour": "red"})
    assert settings["myproject.colour"] == "blue"


def test_environment_sets_backend_settings_the_ini_leaves_out(monkeypatch, tmp_path):
    # A backend's pool and timeout settings have no default in the table: a service configured
    # by its environment alone (a container) must still be able to set them.
    monkeypatch.setenv("CLIQUET_STORAGE_BACKEND", "cliquet.storage.sql")
    monkeypatch.setenv("CLIQUET_STORAGE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("CLIQUET_STORAGE_POOL_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("CLIQUET_STORAGE_STATEMENT_TIMEOUT_MS", "700")
    app = build_app({"cliquet.migrate_on_startup": "true"})
    engine = app.app.registry.storage.engine
    try:
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert engine.pool.timeout() == 3
        assert busy == 700
    finally:
        engine.dispose()


def test_a_wrong_backend_setting_from_the_environment_stops_startup(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIQUET_STORAGE_BACKEND", "cliquet.storage.sql")
    monkeypatch.setenv("CLIQUET_STORAGE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("CLIQUET_STORAGE_POOL_SIZE", "lots")
    with pytest.raises(
        ConfigurationError,
        match=r"^cliquet.storage_pool_size is 'lots'.*CLIQUET_STORAGE_POOL_SIZE, which overrides",
    ):
        build_app()


def test_project_name_argument_is_used_unless_configured():
    assert initialized(project_name="argument")["cliquet.project_name"] == "argument"
    settings = initialized({"cliquet.project_name": "ini"}, project_name="argument")
    assert settings["cliquet.project_name"] == "ini"


def test_version_argument_is_the_project_version():
    assert initialized()["cliquet.project_version"] == "1.2.3"


def test_service_default_settings_apply_and_are_typed(monkeypatch):
    settings = initialized(default_settings={"myproject.page_size": 5, "cliquet.readonly": True})
    assert settings["myproject.page_size"] == 5
    assert settings["cliquet.readonly"] is True
    monkeypatch.setenv("MYPROJECT_PAGE_SIZE", "9")
    assert initialized(default_settings={"myproject.page_size": 5})["myproject.page_size"] == 9


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("cliquet.readonly", "maybe", "a boolean"),
        ("cliquet.batch_max_requests", "lots", "an integer"),
        ("cliquet.backoff", "soon", "an integer"),
        ("cliquet.eos", "next tuesday", "a date"),
        ("cliquet.http_api_version", "one", "a version"),
    ],
)
def test_invalid_value_stops_startup_naming_setting_value_and_expectation(name, value, expected):
    with pytest.raises(ConfigurationError) as excinfo:
        initialized({name: value})
    message = str(excinfo.value)
    assert name in message
    assert repr(value) in message
    assert expected in message


def test_invalid_environment_value_stops_startup(monkeypatch):
    monkeypatch.setenv("CLIQUET_READONLY", "perhaps")
    with pytest.raises(ConfigurationError, match="cliquet.readonly.*'perhaps'.*a boolean"):
        initialized()


def test_load_default_settings_fills_types_and_env_overrides(monkeypatch):
    config = Configurator(settings={"ext.flag": "false", "ext.size": "3"})
    defaults = {"ext.flag": True, "ext.size": 10, "ext.names": ["a"]}
    cliquet.load_default_settings(config, defaults)
    settings = config.get_settings()
    assert settings["ext.flag"] is False
    assert settings["ext.size"] == 3
    assert settings["ext.names"] == ["a"]
    monkeypatch.setenv("EXT_FLAG", "on")
    cliquet.load_default_settings(config, defaults)
    assert config.get_settings()["ext.flag"] is True


def test_public_settings_are_shown_by_hello_view_typed():
    app = build_app({"cliquet.batch_max_requests": "3", "cliquet.readonly": "yes"})
    body = app.get("/v1/").json
    assert body["settings"] == {"batch_max_requests": 3, "readonly": True}


def test_read_int_reads_backend_integers_at_startup():
    from cliquet.settings import read_int

    assert read_int({}, "cliquet.cache_pool_size", 10) == 10
    assert read_int({"k": "7"}, "k", 10) == 7
    assert read_int({"k": 0}, "k", 10, minimum=0) == 0
    for bad in ("lots", "0", True):
        with pytest.raises(ConfigurationError, match=r"^k is .*expected an integer"):
            read_int({"k": bad}, "k", 10, minimum=1)
