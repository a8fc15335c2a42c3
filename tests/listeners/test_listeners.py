"""Listeners of committed resource changes, configured by settings."""

import json
import sys
import types
import uuid

import pytest
import redis
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

import cliquet
from cliquet.listeners import ListenerBase
from cliquet.testing.web import basic_auth, build_app

RECEIVED = []


class RecordingListener(ListenerBase):
    def __call__(self, event):
        RECEIVED.append(event.payload)


@pytest.fixture
def recording_module(monkeypatch):
    module = types.ModuleType("recording_listener")
    module.load_from_config = lambda config, prefix: RecordingListener()
    monkeypatch.setitem(sys.modules, "recording_listener", module)
    RECEIVED.clear()
    yield
    RECEIVED.clear()


def serve(settings):
    return build_app(settings, setup=lambda config: config.scan("tests.resource.testapp"))


def test_listener_receives_committed_changes(recording_module):
    app = serve(
        {
            "cliquet.event_listeners": "rec",
            "cliquet.event_listeners.rec.use": "recording_listener",
        }
    )
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=basic_auth())
    app.delete(f"/v1/articles/{created.json['data']['id']}", headers=basic_auth())
    assert [p["action"] for p in RECEIVED] == ["create", "delete"]
    assert RECEIVED[0]["resource_name"] == "article"
    assert RECEIVED[0]["uri"] == "/articles"


def test_listener_filters_by_action_and_resource(recording_module):
    app = serve(
        {
            "cliquet.event_listeners": "rec",
            "cliquet.event_listeners.rec.use": "recording_listener",
            "cliquet.event_listeners.rec.actions": "delete",
            "cliquet.event_listeners.rec.resources": "article",
        }
    )
    created = app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=basic_auth())
    app.post_json("/v1/notes", {"data": {"text": "n"}}, headers=basic_auth())
    app.delete(f"/v1/articles/{created.json['data']['id']}", headers=basic_auth())
    assert [(p["action"], p["resource_name"]) for p in RECEIVED] == [("delete", "article")]


def test_failed_write_reaches_no_listener(recording_module):
    app = serve(
        {
            "cliquet.event_listeners": "rec",
            "cliquet.event_listeners.rec.use": "recording_listener",
        }
    )
    app.post_json("/v1/articles", {"data": {"nope": 1}}, headers=basic_auth(), status=400)
    assert RECEIVED == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cliquet.event_listeners": "x"}, "cliquet.event_listeners.x.use"),
        (
            {"cliquet.event_listeners": "x", "cliquet.event_listeners.x.use": "nowhere.mod"},
            "'nowhere.mod' cannot be imported",
        ),
        (
            {"cliquet.event_listeners": "x", "cliquet.event_listeners.x.use": "json"},
            "ListenerBase",
        ),
    ],
)
def test_bad_listener_settings_stop_startup(settings, message):
    config = Configurator(settings=settings)
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        cliquet.initialize(config, "1.0")


@pytest.mark.redis
def test_redis_listener_pushes_committed_changes_on_a_list(redis_url):
    listname = f"cliquet-test-{uuid.uuid4().hex}"
    app = serve(
        {
            "cliquet.event_listeners": "redis",
            "cliquet.event_listeners.redis.use": "cliquet.listeners.redis",
            "cliquet.event_listeners.redis.url": redis_url,
            "cliquet.event_listeners.redis.listname": listname,
        }
    )
    client = redis.Redis.from_url(redis_url)
    try:
        app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=basic_auth())
        message = json.loads(client.rpop(listname))
        assert message["payload"]["action"] == "create"
        assert message["impacted_records"][0]["new"]["title"] == "a"
        assert client.llen(listname) == 0
    finally:
        client.delete(listname)


@pytest.mark.redis
def test_redis_listener_publishes_on_a_channel(redis_url):
    channel = f"cliquet-test-{uuid.uuid4().hex}"
    app = serve(
        {
            "cliquet.event_listeners": "redis",
            "cliquet.event_listeners.redis.use": "cliquet.listeners.redis",
            "cliquet.event_listeners.redis.url": redis_url,
            "cliquet.event_listeners.redis.channel": channel,
        }
    )
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    app.post_json("/v1/articles", {"data": {"title": "a"}}, headers=basic_auth())
    message = pubsub.get_message(timeout=2)
    pubsub.close()
    assert json.loads(message["data"])["payload"]["resource_name"] == "article"


def test_redis_listener_needs_a_url():
    config = Configurator(
        settings={
            "cliquet.event_listeners": "redis",
            "cliquet.event_listeners.redis.use": "cliquet.listeners.redis",
        }
    )
    with pytest.raises(ConfigurationError, match="cliquet.event_listeners.redis.url"):
        cliquet.initialize(config, "1.0")


def _redis_listener_config(**settings):
    """A service's settings naming one Redis listener, "redis", with ``settings`` for it."""
    prefix = "cliquet.event_listeners.redis."
    return Configurator(
        settings={
            "cliquet.event_listeners": "redis",
            f"{prefix}use": "cliquet.listeners.redis",
            **{prefix + name: value for name, value in settings.items()},
        }
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("pool_size", "many"), ("pool_size", "0"), ("pool_timeout_seconds", "soon")],
)
def test_redis_listener_names_a_malformed_pool_setting(name, value):
    config = _redis_listener_config(url="redis://127.0.0.1:6379/0", **{name: value})
    with pytest.raises(ConfigurationError) as raised:
        cliquet.initialize(config, "1.0")
    assert str(raised.value).startswith(f"cliquet.event_listeners.redis.{name} is {value!r}")
    assert "url" not in str(raised.value)


def test_redis_listener_reads_its_pool_settings():
    from cliquet.listeners import redis as redis_listener

    config = _redis_listener_config(
        url="redis://127.0.0.1:1/0", pool_size="3", pool_timeout_seconds="4"
    )
    listener = redis_listener.load_from_config(config, "cliquet.event_listeners.redis.")
    pool = listener.client.connection_pool
    assert (pool.max_connections, pool.timeout) == (3, 4)


def test_redis_listener_refuses_a_url_that_is_not_redis():
    config = _redis_listener_config(url="http://127.0.0.1:6379")
    with pytest.raises(ConfigurationError, match="'cliquet.event_listeners.redis.url'"):
        cliquet.initialize(config, "1.0")
