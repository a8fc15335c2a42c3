"""The resource test service, parametrized over storage backends.

Each backend of ``STORAGE_BACKENDS`` runs the whole resource protocol suite.

The SQL schemas are built once per session (per xdist worker), not per test: SQLite tests
each get a copy of a file migrated once (``sqlite_template``, in ``tests/conftest.py``),
PostgreSQL tests share the session's database, emptied after each test. Apps still start
with ``cliquet.migrate_on_startup``, which then finds the schema up to date.
"""

import shutil

import pytest

from cliquet.testing.web import basic_auth, build_app

STORAGE_BACKENDS = ["memory", "sqlite", "postgresql"]


def _sql_settings(url):
    return {
        "cliquet.storage_backend": "cliquet.storage.sql",
        "cliquet.storage_url": url,
        "cliquet.storage_pool_size": "2",
        "cliquet.permission_backend": "cliquet.permission.sql",
        "cliquet.permission_url": url,
        "cliquet.permission_pool_size": "2",
        "cliquet.migrate_on_startup": "true",
    }


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.postgresql] if name == "postgresql" else [])
        for name in STORAGE_BACKENDS
    ]
)
def backend_settings(request, tmp_path):
    if request.param == "memory":
        return {}
    if request.param == "sqlite":
        path = tmp_path / "resources.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return _sql_settings(f"sqlite:///{path}")
    return _sql_settings(request.getfixturevalue("postgresql_url"))


@pytest.fixture
def make_resource_app(backend_settings):
    """Build the test service; extra settings and a setup hook may be given.

    SQL backends are emptied and their connections closed after the test.
    """
    built = []

    def make(settings=None, setup=None):
        def configure(config):
            config.scan("tests.resource.testapp")
            if setup is not None:
                setup(config)

        app = build_app({**backend_settings, **(settings or {})}, setup=configure)
        built.append(app.app.registry)
        return app

    yield make
    for registry in built:
        for backend in (registry.storage, registry.permission):
            engine = getattr(backend, "engine", None)
            if engine is not None:
                backend.flush()
                engine.dispose()


@pytest.fixture
def app(make_resource_app):
    return make_resource_app()


@pytest.fixture
def alice():
    return basic_auth("alice", "pw")


@pytest.fixture
def bob():
    return basic_auth("bob", "pw")
