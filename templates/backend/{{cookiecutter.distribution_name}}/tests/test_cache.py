"""The backend against cliquet's cache contract: its conformance suite, then its signatures.

Keep this file green when the real client replaces ``FakeClient``: point ``SETTINGS`` at a
server for tests, and the suite does the rest.
"""

import inspect
from collections.abc import Iterator

import pytest
from cliquet.cache import CacheBase, CacheError
from cliquet.testing.cache import CacheTest
from pyramid.config import Configurator

from {{ cookiecutter.package_name }} import cache as backend

SETTINGS = {"cliquet.cache_url": "{{ cookiecutter.__slug }}://localhost:6379"}
CONTRACT = sorted(CacheBase.__abstractmethods__)


def make_cache(**settings: str) -> backend.Cache:
    return backend.load_from_config(Configurator(settings={**SETTINGS, **settings}))


class TestCache(CacheTest):
    @pytest.fixture
    def cache(self) -> Iterator[backend.Cache]:
        cache = make_cache()
        cache.initialize_schema()
        cache.flush()
        yield cache
        cache.flush()


class TestCacheWithPrefix(CacheTest):
    @pytest.fixture
    def cache(self) -> Iterator[backend.Cache]:
        cache = make_cache(**{"cliquet.cache_prefix": "service-a:"})
        cache.flush()
        yield cache
        cache.flush()


def test_flush_leaves_the_keys_of_other_prefixes() -> None:
    first = make_cache(**{"cliquet.cache_prefix": "a:"})
    second = backend.Cache(first._client, cache_prefix="b:")
    first.set("key", "from a")
    second.set("key", "from b")
    first.flush()
    assert (first.get("key"), second.get("key")) == (None, "from b")


def test_client_failures_are_cache_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = make_cache()

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("refused")

    monkeypatch.setattr(cache._client, "get", refuse)
    with pytest.raises(CacheError):
        cache.get("key")
    assert cache.heartbeat() is False


# The contract is the runtime's: every method is there, with its signature and its docstring.


def test_backend_implements_the_whole_contract() -> None:
    assert not inspect.isabstract(backend.Cache)
    assert isinstance(make_cache(), CacheBase)


@pytest.mark.parametrize("name", CONTRACT)
def test_signature_is_the_contract_one(name: str) -> None:
    ours = inspect.signature(getattr(backend.Cache, name), eval_str=True)
    assert ours == inspect.signature(getattr(CacheBase, name), eval_str=True)


@pytest.mark.parametrize("name", CONTRACT)
def test_documentation_is_the_contract_one(name: str) -> None:
    assert inspect.getdoc(getattr(backend.Cache, name)) == inspect.getdoc(getattr(CacheBase, name))
