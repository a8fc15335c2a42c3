"""Start-up: pluggable components by dotted path, the step sequence, capabilities."""

import sys
import types

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

import cliquet
from cliquet.cache import CacheBase
from cliquet.cache.memory import Cache
from cliquet.permission import PermissionBase
from cliquet.storage import StorageBase


def start(settings):
    config = Configurator(settings=settings)
    cliquet.initialize(config, "1.0")
    return config


@pytest.fixture
def fake_modules(monkeypatch):
    """Register small in-memory modules under importable names."""

    def register(name, **attributes):
        module = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)
        return module

    return register


def test_default_backends_are_the_memory_ones():
    registry = start({}).registry
    assert isinstance(registry.storage, StorageBase)
    assert isinstance(registry.cache, CacheBase)
    assert isinstance(registry.permission, PermissionBase)
    assert type(registry.cache).__module__ == "cliquet.cache.memory"


@pytest.mark.parametrize("component", ["storage", "cache", "permission"])
def test_unknown_backend_module_stops_startup(component):
    setting = f"cliquet.{component}_backend"
    with pytest.raises(ConfigurationError) as excinfo:
        start({setting: "cliquet_nowhere.backend"})
    message = str(excinfo.value)
    assert setting in message
    assert "'cliquet_nowhere.backend'" in message
    assert "load_from_config" in message


@pytest.mark.parametrize("component", ["storage", "cache", "permission"])
def test_module_without_load_from_config_stops_startup(component):
    setting = f"cliquet.{component}_backend"
    with pytest.raises(ConfigurationError) as excinfo:
        start({setting: "json"})
    message = str(excinfo.value)
    assert setting in message
    assert "'json'" in message
    assert "has no load_from_config" in message


@pytest.mark.parametrize("component", ["storage", "cache", "permission"])
def test_backend_of_the_wrong_kind_stops_startup(component, fake_modules):
    fake_modules("wrongkind", load_from_config=lambda config: object())
    setting = f"cliquet.{component}_backend"
    with pytest.raises(ConfigurationError) as excinfo:
        start({setting: "wrongkind"})
    message = str(excinfo.value)
    assert setting in message and "'wrongkind'" in message
    assert "expected an instance of cliquet." in message


def test_empty_backend_setting_stops_startup():
    with pytest.raises(ConfigurationError, match="cliquet.storage_backend.*empty"):
        start({"cliquet.storage_backend": ""})


def test_backend_module_chosen_by_setting_gets_the_configurator(fake_modules):
    seen = {}

    def load_from_config(config):
        seen["url"] = config.get_settings()["cliquet.cache_url"]
        return Cache()

    fake_modules("mycache", load_from_config=load_from_config)
    registry = start({"cliquet.cache_backend": "mycache", "cliquet.cache_url": "x://y"}).registry
    assert seen == {"url": "x://y"}
    assert isinstance(registry.cache, Cache)


def test_bad_logging_renderer_stops_startup():
    with pytest.raises(ConfigurationError, match="cliquet.logging_renderer.*'nowhere.Renderer'"):
        start({"cliquet.logging_renderer": "nowhere.Renderer"})


def test_initialization_sequence_steps_are_replaceable(fake_modules):
    calls = []
    fake_modules("mysteps", step=lambda config: calls.append(config.registry))
    sequence = "cliquet.initialization.setup_storage mysteps.step"
    config = start({"cliquet.initialization_sequence": sequence})
    assert calls == [config.registry]
    assert isinstance(config.registry.storage, StorageBase)
    # The cache step was dropped from the sequence.
    assert not hasattr(config.registry, "cache")


def test_bad_initialization_step_stops_startup():
    with pytest.raises(
        ConfigurationError, match="cliquet.initialization_sequence.*'nowhere.step'"
    ):
        start({"cliquet.initialization_sequence": "nowhere.step"})


def test_capability_advertised_by_an_extension(fake_modules):
    def includeme(config):
        config.add_api_capability(
            "history", description="Track changes", url="https://doc/history", version="1.2"
        )

    fake_modules("myextension", includeme=includeme)
    config = start({"cliquet.includes": "myextension"})
    app = webtest.TestApp(config.make_wsgi_app())
    capabilities = app.get("/v1/").json["capabilities"]
    del capabilities["client"]  # the runtime's own (tests/test_client_serving.py)
    assert capabilities == {
        "history": {"description": "Track changes", "url": "https://doc/history", "version": "1.2"}
    }


def test_capability_identifier_is_unique(fake_modules):
    def includeme(config):
        config.add_api_capability("twice")
        config.add_api_capability("twice")

    fake_modules("twice_ext", includeme=includeme)
    with pytest.raises(ConfigurationError, match="'twice' is already registered"):
        start({"cliquet.includes": "twice_ext"})


def test_include_cliquet_without_initialize_applies_defaults():
    config = Configurator(settings={})
    config.include("cliquet")
    app = webtest.TestApp(config.make_wsgi_app())
    assert app.get("/__lbheartbeat__").json == {}
    assert config.registry.settings["cliquet.batch_max_requests"] == 25


def test_empty_hmac_secret_is_warned_about(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="cliquet"):
        start({})
    assert any("cliquet.userid_hmac_secret is empty" in r.getMessage() for r in caplog.records)
