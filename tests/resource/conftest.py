"""The resource test service, on the storage backends each test names.

A test runs on memory alone unless a ``backends`` marker names others (on the test, its class
or its module: ``pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")``); the
parametrization is ``pytest_generate_tests`` in ``tests/conftest.py``, and
``docs/TESTING.md`` says which tests run where and why.

``app`` is the service with default settings, built once per backend and session (per xdist
worker) and emptied after each test: records, permissions and cache. ``make_resource_app``
builds a service of the test's own (other settings, a setup hook) on the same storage.
The SQL schemas are migrated once per session too: SQLite tests share a copy of a file
migrated once (``sqlite_template``, in ``tests/conftest.py``), PostgreSQL tests the session's
database; both are emptied after each test. Apps still start with
``cliquet.migrate_on_startup``, which then finds the schema up to date.
"""

import pytest

from cliquet.testing.web import basic_auth, build_app

# Other directories import these fixtures by name: what they depend on (resource_backend,
# resource_apps, resource_sqlite_url, postgresql_url) is in tests/conftest.py, seen everywhere.


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


@pytest.fixture
def backend_settings(resource_backend, request):
    """The storage and permission settings of ``resource_backend`` (memory: none)."""
    if resource_backend == "memory":
        return {}
    if resource_backend == "sqlite":
        return _sql_settings(request.getfixturevalue("resource_sqlite_url"))
    return _sql_settings(request.getfixturevalue("postgresql_url"))


def _build(settings=None, setup=None):
    def configure(config):
        config.scan("tests.resource.testapp")
        if setup is not None:
            setup(config)

    return build_app(settings, setup=configure)


def _empty(registry):
    """Forget what a test stored: a unit of work left open, records, permissions, cache."""
    for backend in (registry.storage, registry.permission):
        backend.rollback()
        backend.flush()
    registry.cache.flush()


@pytest.fixture
def make_resource_app(backend_settings):
    """Build the test service; extra settings and a setup hook may be given.

    Its storage is emptied and its connections closed after the test.
    """
    built = []

    def make(settings=None, setup=None):
        app = _build({**backend_settings, **(settings or {})}, setup=setup)
        built.append(app.app.registry)
        return app

    yield make
    for registry in built:
        _empty(registry)
        for backend in (registry.storage, registry.permission):
            engine = getattr(backend, "engine", None)
            if engine is not None:
                engine.dispose()


@pytest.fixture
def app(resource_backend, backend_settings, resource_apps):
    """The test service with default settings on ``resource_backend``.

    Built once per backend and session: a test changing how the service is built (settings,
    subscribers, views) asks ``make_resource_app`` for its own instead. After each test its
    backends are emptied and what the test replaced on them is put back.
    """
    shared = resource_apps.get(resource_backend)
    if shared is None:
        shared = resource_apps[resource_backend] = _build(backend_settings)
    registry = shared.app.registry
    backends = (registry.storage, registry.permission, registry.cache)
    # What a test may replace on a backend (a method made slow, say): put back afterwards.
    # The backends set their attributes in __init__ only, so anything else is the test's.
    attributes = [dict(vars(backend)) for backend in backends]
    yield shared
    for backend, before in zip(backends, attributes, strict=True):
        for name in set(vars(backend)) - set(before):
            delattr(backend, name)
        for name, value in before.items():
            if vars(backend)[name] is not value:
                setattr(backend, name, value)
    _empty(registry)
    shared.reset()  # cookies


@pytest.fixture
def alice():
    return basic_auth("alice", "pw")


@pytest.fixture
def bob():
    return basic_auth("bob", "pw")
