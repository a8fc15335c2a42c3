"""The Redis cache, and the client helpers of ``cliquet.redis_client``."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cliquet.cache import CacheError
from cliquet.cache import redis as redis_cache
from cliquet.redis_client import client_settings, create_client, glob_escape
from cliquet.testing.cache import CacheTest

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def _build(url: str, **settings: Any) -> redis_cache.Cache:
    config = Configurator(settings={"cliquet.cache_url": url, **settings})
    return redis_cache.load_from_config(config)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look behind the backend's back."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def backend(redis_url: str, redis_prefix: str) -> Iterator[redis_cache.Cache]:
    cache = _build(redis_url, **{"cliquet.cache_prefix": redis_prefix})
    cache.initialize_schema()
    cache.flush()
    yield cache
    cache.flush()
    cache.client.close()


@pytest.mark.redis
class TestRedisCache(CacheTest):
    @pytest.fixture
    def cache(self, backend: redis_cache.Cache) -> redis_cache.Cache:
        return backend


@pytest.mark.redis
def test_values_are_json_under_the_prefixed_key(
    backend: redis_cache.Cache, raw: redis.Redis, redis_prefix: str
) -> None:
    backend.set("key", {"a": [1, "é"]}, ttl=100)
    assert raw.get(f"{redis_prefix}key") == '{"a": [1, "\\u00e9"]}'
    assert 99 <= raw.ttl(f"{redis_prefix}key") <= 100


@pytest.mark.redis
def test_ttls_are_sent_in_milliseconds(
    backend: redis_cache.Cache, raw: redis.Redis, redis_prefix: str
) -> None:
    backend.set("key", "value", ttl=0.5)
    assert 0 < raw.pttl(f"{redis_prefix}key") <= 500
    backend.expire("key", 1.25)
    assert 500 < raw.pttl(f"{redis_prefix}key") <= 1250
    backend.set("tiny", "value", ttl=0.0001)  # under a millisecond: one, not a refused 0
    assert raw.pttl(f"{redis_prefix}tiny") in (-2, 0, 1)


@pytest.mark.redis
def test_flush_deletes_only_the_keys_under_the_prefix(
    redis_url: str, redis_prefix: str, raw: redis.Redis
) -> None:
    # Glob characters in a prefix are literal: "[ab]*" must not match "a" or "b...".
    cache = _build(redis_url, **{"cliquet.cache_prefix": f"{redis_prefix}[ab]*:"})
    for i in range(1200):  # more than one SCAN step and one DEL batch
        cache.set(f"key-{i}", i)
    raw.set(f"{redis_prefix}a:key-1", "foreign")
    raw.set(f"{redis_prefix}b", "foreign")
    cache.flush()
    assert cache.get("key-1") is None
    assert sorted(raw.scan_iter(match=f"{glob_escape(redis_prefix)}*")) == [
        f"{redis_prefix}a:key-1",
        f"{redis_prefix}b",
    ]
    cache.client.close()


@pytest.mark.redis
def test_ttl_rounds_up(backend: redis_cache.Cache, raw: redis.Redis, redis_prefix: str) -> None:
    backend.set("key", "value")
    raw.pexpire(f"{redis_prefix}key", 1400)
    assert backend.ttl("key") == 2


@pytest.mark.redis
def test_set_with_a_ttl_of_zero_or_less_leaves_no_value(backend: redis_cache.Cache) -> None:
    for ttl in (0, -5):
        backend.set("key", "old")
        backend.set("key", "new", ttl=ttl)
        assert backend.get("key") is None


@pytest.mark.redis
def test_cache_recovers_when_its_connection_is_killed(
    backend: redis_cache.Cache, raw: redis.Redis
) -> None:
    backend.set("key", "value")
    client_id = backend.client.client_id()
    raw.client_kill_filter(_id=client_id)
    assert backend.get("key") == "value"


@pytest.mark.redis
def test_pool_is_bounded_by_the_pool_settings(redis_url: str) -> None:
    cache = _build(
        redis_url,
        **{"cliquet.cache_pool_size": "2", "cliquet.cache_pool_timeout_seconds": "1"},
    )
    pool: Any = cache.client.connection_pool
    held = [pool.get_connection(), pool.get_connection()]
    start = time.monotonic()
    with pytest.raises(CacheError):
        cache.get("key")
    assert 0.9 < time.monotonic() - start < 5
    for connection in held:
        pool.release(connection)
    assert cache.get("key") is None
    cache.client.close()


def test_dead_server_raises_cache_error_quickly() -> None:
    cache = _build(DEAD_REDIS_URL, **{"cliquet.cache_pool_timeout_seconds": 2})
    start = time.monotonic()
    for call in (
        lambda: cache.get("key"),
        lambda: cache.set("key", "value", ttl=10),
        lambda: cache.ttl("key"),
        lambda: cache.expire("key", 10),
        lambda: cache.delete("key"),
        lambda: cache.get_many(["a", "b"]),
        cache.flush,
    ):
        with pytest.raises(CacheError) as raised:
            call()
        assert isinstance(raised.value.original, redis.exceptions.ConnectionError)
    assert cache.heartbeat() is False
    assert time.monotonic() - start < 10


def test_load_from_config_refuses_an_empty_or_foreign_url() -> None:
    for settings in ({}, {"cliquet.cache_url": ""}):
        with pytest.raises(ConfigurationError, match="cliquet.cache_url"):
            redis_cache.load_from_config(Configurator(settings=settings))
    with pytest.raises(ConfigurationError, match="cliquet.cache_url"):
        _build("postgresql://localhost/db")


def test_load_from_config_reads_the_prefix_and_connects_lazily() -> None:
    cache = _build(DEAD_REDIS_URL, **{"cliquet.cache_prefix": "svc:"})
    assert cache.prefix == "svc:"
    assert repr(cache) == "<cliquet.cache.redis.Cache server='127.0.0.1:1' prefix='svc:'>"


def test_client_settings_defaults_and_strings() -> None:
    assert client_settings({"cliquet.cache_url": "redis://h/1"}, "cache") == {
        "url": "redis://h/1",
        "pool_size": 10,
        "pool_timeout_seconds": 30,
    }
    settings = {
        "cliquet.storage_url": "redis://h/1",
        "cliquet.storage_pool_size": "3",
        "cliquet.storage_pool_timeout_seconds": 4,
    }
    assert client_settings(settings, "storage") == {
        "url": "redis://h/1",
        "pool_size": 3,
        "pool_timeout_seconds": 4,
    }


@pytest.mark.parametrize("value", ["none", "0", True])
def test_client_settings_name_the_malformed_setting(value: Any) -> None:
    settings = {"cliquet.cache_url": "redis://h/1", "cliquet.cache_pool_size": value}
    with pytest.raises(ConfigurationError, match="cliquet.cache_pool_size"):
        client_settings(settings, "cache")


def test_create_client_refuses_other_urls() -> None:
    with pytest.raises(ValueError):
        create_client("http://localhost:6379")


def test_glob_escape() -> None:
    assert glob_escape("a*b?[c]\\d") == "a\\*b\\?\\[c\\]\\\\d"
