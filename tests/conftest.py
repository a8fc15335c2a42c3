import os
import sys

import pytest

from cliquet.migration import migrate
from cliquet.sql import create_engine_from_url
from cliquet.testing.web import basic_auth, build_app

pytest_plugins = ["tests.servers"]

SEED_PACKAGES = os.path.join(os.path.dirname(__file__), "seed_packages")


_SHARED_SCOPES = {"class", "module", "package"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Keep the tests sharing a module- (class-, package-) scoped fixture on one xdist worker.

    The suite runs with ``-n auto --dist loadgroup`` (pyproject.toml): without a group, the
    tests of such a module would be spread over the workers, each building the fixture
    (a virtualenv, a baked template, a served process) again. Before xdist's own hook
    (``tryfirst``), which reads the groups.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        if any(
            fixturedef.scope in _SHARED_SCOPES
            for fixturedefs in info.name2fixturedefs.values()
            for fixturedef in fixturedefs
        ):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file holding the storage and permission schemas, migrated once per session.

    Tests copy it rather than migrate a new file each (see ``tests/resource/conftest.py``).
    Here, not there, since other directories import that conftest's fixtures by name.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "resources.db"
    engine = create_engine_from_url(f"sqlite:///{path}")
    try:
        for component in ("storage", "permission"):
            migrate(engine, component)
    finally:
        # The last connection closed checkpoints the WAL into the file, which is then whole.
        engine.dispose()
    return path


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
