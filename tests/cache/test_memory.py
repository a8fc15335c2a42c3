import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyramid.config import Configurator

from cliquet.cache import CacheBase, CacheError, memory
from cliquet.testing.cache import CacheTest


def _memory_cache(prefix: str = "") -> memory.Cache:
    return memory.load_from_config(Configurator(settings={"cliquet.cache_prefix": prefix}))


class TestMemoryCache(CacheTest):
    @pytest.fixture
    def cache(self) -> Iterator[memory.Cache]:
        backend = _memory_cache()
        backend.initialize_schema()
        backend.flush()
        yield backend
        backend.flush()


class TestMemoryCacheWithPrefix(CacheTest):
    @pytest.fixture
    def cache(self) -> Iterator[memory.Cache]:
        backend = _memory_cache("service-a:")
        backend.flush()
        yield backend


def test_load_from_config_reads_the_prefix() -> None:
    assert _memory_cache("svc:").prefix == "svc:"
    assert memory.load_from_config(Configurator(settings={})).prefix == ""


def test_caches_with_different_prefixes_are_isolated() -> None:
    a, b = _memory_cache("a:"), _memory_cache("b:")
    a.set("key", "from a")
    b.set("key", "from b", ttl=10)
    a.flush()
    assert a.get("key") is None
    assert b.get("key") == "from b"
    assert a.ttl("key") == -1


def test_expired_keys_are_swept_without_being_read(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _memory_cache()
    monkeypatch.setattr(memory, "_SWEEP_EVERY_WRITES", 4)
    cache.set("short", 1, ttl=0)
    for i in range(3):
        cache.set(f"key-{i}", i)
    assert "short" not in cache._values
    assert "short" not in cache._deadlines


def test_repr_names_the_backend_and_prefix() -> None:
    assert repr(_memory_cache("p:")) == "<cliquet.cache.memory.Cache prefix='p:' keys=0>"


# The contract is exactly the seven methods a third-party backend implements.


def test_contract_is_the_seven_abstract_methods() -> None:
    assert CacheBase.__abstractmethods__ == {
        "initialize_schema",
        "flush",
        "ttl",
        "expire",
        "set",
        "get",
        "delete",
    }


class DictCache(CacheBase):
    """A third-party backend written like the seed's Riak example.

    It implements the seven contract methods only and its ``__init__`` does
    not call ``super().__init__()``; its "server" is a dict of JSON documents.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._bucket: dict[str, tuple[str, float | None]] = {}

    def initialize_schema(self) -> None:
        pass

    def flush(self) -> None:
        self._bucket.clear()

    def ttl(self, key: str) -> int:
        self.get(key)  # drops the key if it expired
        deadline = self._bucket.get(key, ("", None))[1]
        return -1 if deadline is None else math.ceil(deadline - time.time())

    def expire(self, key: str, ttl: float) -> None:
        self.get(key)
        if key in self._bucket:
            self._bucket[key] = (self._bucket[key][0], time.time() + ttl)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        data = json.dumps(value)
        self._bucket[key] = (data, None if ttl is None else time.time() + ttl)

    def get(self, key: str) -> Any:
        fetched = self._bucket.get(key)
        if fetched is None:
            return None
        data, deadline = fetched
        if deadline is not None and deadline <= time.time():
            self._bucket.pop(key, None)
            return None
        return json.loads(data)

    def delete(self, key: str) -> None:
        self._bucket.pop(key, None)


class TestThirdPartyCacheWithOnlyTheContract(CacheTest):
    @pytest.fixture
    def cache(self) -> Iterator[DictCache]:
        backend = DictCache(pb_port=8087)
        backend.flush()
        yield backend


def test_third_party_cache_without_super_init_has_an_empty_prefix() -> None:
    assert DictCache().prefix == ""


class BrokenCache(DictCache):
    def get(self, key: str) -> Any:
        raise CacheError("connection refused")


class WrongValueCache(DictCache):
    def get(self, key: str) -> Any:
        return "not what was written"


@pytest.mark.parametrize("backend_class", [BrokenCache, WrongValueCache])
def test_heartbeat_is_false_when_the_probe_fails(backend_class: type[DictCache]) -> None:
    assert backend_class().heartbeat() is False


def test_heartbeat_does_not_raise_on_unexpected_errors() -> None:
    class Exploding(DictCache):
        def set(self, key: str, value: Any, ttl: float | None = None) -> None:
            raise RuntimeError("driver bug")

    assert Exploding().heartbeat() is False


def test_cache_error_keeps_the_original_exception() -> None:
    original = ConnectionError("refused")
    error = CacheError(original=original)
    assert error.original is original
    assert str(error) == "ConnectionError: refused"
