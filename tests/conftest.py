import os
import sys

import pytest

from cliquet.testing.web import basic_auth, build_app

pytest_plugins = ["tests.servers"]

SEED_PACKAGES = os.path.join(os.path.dirname(__file__), "seed_packages")


@pytest.fixture
def seed_packages(monkeypatch):
    """Put the seed's example packages on the path (and forget them afterwards)."""
    monkeypatch.syspath_prepend(SEED_PACKAGES)
    yield SEED_PACKAGES
    for name in list(sys.modules):
        if name.split(".")[0] in {
            "cliquet_elasticsearch",
            "cliquet_riak",
            "riak",
            "cliquet_fluent",
            "cliquet_indexing",
            "indexedproject",
            "myproject",
        }:
            del sys.modules[name]


@pytest.fixture
def make_app():
    return build_app


@pytest.fixture
def app():
    return build_app()


@pytest.fixture
def auth():
    return basic_auth()
