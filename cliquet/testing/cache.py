"""Conformance suite of the cache contract (:class:`cliquet.cache.CacheBase`).

Every cache backend, in-tree or third-party, runs these same tests. Subclass
:class:`CacheTest` in a ``Test*`` class and provide a ``cache`` fixture that
yields a ready, empty instance built the way a service builds it::

    import pytest
    from pyramid.config import Configurator

    from cliquet.testing.cache import CacheTest
    from cliquet_riak import cache as riak_cache


    class TestRiakCache(CacheTest):
        @pytest.fixture
        def cache(self):
            config = Configurator(settings={"cliquet.cache_url": "riak://localhost"})
            backend = riak_cache.load_from_config(config)
            backend.initialize_schema()
            backend.flush()
            yield backend
            backend.flush()

One test sleeps just over a second to watch keys expire, others a fraction of one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cliquet.cache import CacheBase

__all__ = ["CacheTest"]


class CacheTest:
    """Tests every cache backend must pass; see the module docstring."""

    @pytest.fixture
    def cache(self) -> CacheBase:
        raise NotImplementedError(
            "A CacheTest subclass must define a `cache` fixture yielding a flushed backend."
        )

    # set / get

    @pytest.mark.parametrize(
        "value",
        ["text", 42, 3.5, True, {"a": 1, "b": [1, 2]}, [1, "two", None]],
        ids=["str", "int", "float", "bool", "dict", "list"],
    )
    def test_get_returns_the_value_set(self, cache: CacheBase, value: Any) -> None:
        cache.set("key", value)
        assert cache.get("key") == value

    @pytest.mark.parametrize(
        "value", ["", 0, False, [], {}], ids=["empty-str", "zero", "false", "empty-list", "empty"]
    )
    def test_falsy_values_are_not_mistaken_for_absence(self, cache: CacheBase, value: Any) -> None:
        cache.set("key", value)
        assert cache.get("key") == value
        assert type(cache.get("key")) is type(value)

    def test_get_of_a_missing_key_returns_none(self, cache: CacheBase) -> None:
        assert cache.get("missing") is None

    def test_set_overwrites_the_previous_value(self, cache: CacheBase) -> None:
        cache.set("key", "old")
        cache.set("key", {"new": True})
        assert cache.get("key") == {"new": True}

    def test_keys_are_independent(self, cache: CacheBase) -> None:
        cache.set("one", 1)
        cache.set("two", 2)
        assert (cache.get("one"), cache.get("two")) == (1, 2)

    def test_set_rejects_values_that_are_not_json(self, cache: CacheBase) -> None:
        with pytest.raises(TypeError):
            cache.set("key", {"when": object()})

    def test_unicode_keys_and_values_round_trip(self, cache: CacheBase) -> None:
        cache.set("clé-ключ-键", {"émoji": "🦄", "text": "naïve café"})
        assert cache.get("clé-ключ-键") == {"émoji": "🦄", "text": "naïve café"}

    def test_returned_values_are_copies(self, cache: CacheBase) -> None:
        cache.set("key", {"items": [1]})
        cache.get("key")["items"].append(2)
        assert cache.get("key") == {"items": [1]}

    def test_stored_values_are_copies(self, cache: CacheBase) -> None:
        value = {"items": [1]}
        cache.set("key", value)
        value["items"].append(2)
        assert cache.get("key") == {"items": [1]}

    # delete

    def test_delete_removes_the_key(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        cache.delete("key")
        assert cache.get("key") is None

    def test_delete_of_a_missing_key_is_not_an_error(self, cache: CacheBase) -> None:
        cache.delete("missing")
        assert cache.get("missing") is None

    def test_delete_leaves_other_keys(self, cache: CacheBase) -> None:
        cache.set("one", 1)
        cache.set("two", 2)
        cache.delete("one")
        assert cache.get("two") == 2

    # ttl / expire

    def test_ttl_of_a_key_set_with_a_ttl_is_positive_and_at_most_given(
        self, cache: CacheBase
    ) -> None:
        cache.set("key", "value", ttl=10)
        assert 0 < cache.ttl("key") <= 10

    def test_ttl_of_a_key_without_expiry_is_minus_one(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        assert cache.ttl("key") == -1

    def test_ttl_of_a_missing_key_is_minus_one(self, cache: CacheBase) -> None:
        assert cache.ttl("missing") == -1

    def test_expire_sets_the_ttl_of_an_existing_key(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        cache.expire("key", 10)
        assert 0 < cache.ttl("key") <= 10
        assert cache.get("key") == "value"

    def test_expire_of_a_missing_key_does_not_create_it(self, cache: CacheBase) -> None:
        cache.expire("missing", 10)
        assert cache.get("missing") is None
        assert cache.ttl("missing") == -1

    def test_expire_with_zero_expires_at_once(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        cache.expire("key", 0)
        assert cache.get("key") is None

    def test_set_without_ttl_clears_a_previous_expiry(self, cache: CacheBase) -> None:
        cache.set("key", "value", ttl=10)
        cache.set("key", "value", ttl=None)
        assert cache.ttl("key") == -1

    def test_keys_given_a_ttl_by_set_or_expire_expire(self, cache: CacheBase) -> None:
        # Whole seconds, as most callers give them; one sleep watches both ways expire.
        cache.set("key", "value", ttl=1)
        cache.set("expired", "value", ttl=100)
        cache.expire("expired", 1)
        cache.set("other", "stays")
        time.sleep(1.1)
        assert cache.get("key") is None
        assert cache.ttl("key") == -1
        assert cache.get("expired") is None
        assert cache.get("other") == "stays"

    def test_a_sub_second_ttl_is_kept_as_given_by_set_or_expire(self, cache: CacheBase) -> None:
        # Neither truncated to 0 (gone at once) nor rounded up to a second (still there).
        # 0.75 s: a backend rounding the seconds left to the nearest (the seed's riak cache)
        # still says 1.
        cache.set("key", "value", ttl=0.75)
        cache.set("expired", "value")
        cache.expire("expired", 0.75)
        assert cache.get("key") == "value"
        assert cache.get("expired") == "value"
        assert cache.ttl("key") == 1  # seconds left, rounded up
        assert cache.ttl("expired") == 1
        cache.set("longer", "value", ttl=2.5)
        assert 2 <= cache.ttl("longer") <= 3
        time.sleep(0.85)
        assert cache.get("key") is None
        assert cache.ttl("key") == -1
        assert cache.get("expired") is None
        assert cache.get("longer") == "value"

    def test_a_ttl_below_one_millisecond_expires_at_once_or_soon(self, cache: CacheBase) -> None:
        # A ttl that rounds to 0 ms must neither raise nor keep the key for ever.
        cache.set("key", "value", ttl=0.0004)
        cache.set("other", "value")
        cache.expire("other", 0.0004)
        time.sleep(0.01)
        assert cache.get("key") is None
        assert cache.get("other") is None

    # flush, bulk calls, heartbeat

    def test_flush_removes_every_key(self, cache: CacheBase) -> None:
        cache.set("one", 1)
        cache.set("two", 2, ttl=10)
        cache.flush()
        assert cache.get("one") is None
        assert cache.get("two") is None

    def test_cache_is_usable_after_flush(self, cache: CacheBase) -> None:
        cache.flush()
        cache.set("key", "value")
        assert cache.get("key") == "value"

    def test_initialize_schema_can_be_called_again(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        cache.initialize_schema()
        cache.set("other", "value")
        assert cache.get("other") == "value"

    def test_get_many_maps_every_key_absent_ones_to_none(self, cache: CacheBase) -> None:
        cache.set("one", 1)
        cache.set("two", [2])
        assert cache.get_many(["one", "two", "missing"]) == {
            "one": 1,
            "two": [2],
            "missing": None,
        }

    def test_delete_many_removes_the_keys_and_skips_missing_ones(self, cache: CacheBase) -> None:
        cache.set("one", 1)
        cache.set("two", 2)
        cache.set("three", 3)
        cache.delete_many(["one", "two", "missing"])
        assert cache.get_many(["one", "two", "three"]) == {"one": None, "two": None, "three": 3}

    def test_heartbeat_is_true_and_keeps_existing_keys(self, cache: CacheBase) -> None:
        cache.set("key", "value")
        assert cache.heartbeat() is True
        assert cache.get("key") == "value"

    # concurrency

    def test_concurrent_set_and_get_from_threads(self, cache: CacheBase) -> None:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(50):
                    cache.set(f"thread-{n}-{i}", {"n": n, "i": i})
                    assert cache.get(f"thread-{n}-{i}") == {"n": n, "i": i}
                    cache.set("shared", n)
                    assert cache.get("shared") in range(8)
            except BaseException as exc:  # reported to the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert cache.get("thread-7-49") == {"n": 7, "i": 49}
