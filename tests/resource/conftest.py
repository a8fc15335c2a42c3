"""The resource test service, parametrized over storage backends.

Each backend of ``STORAGE_BACKENDS`` runs the whole resource protocol suite.
"""

import pytest

from cliquet.testing.web import basic_auth, build_app

STORAGE_BACKENDS = {
    "memory": {"cliquet.storage_backend": "cliquet.storage.memory"},
}


@pytest.fixture(params=sorted(STORAGE_BACKENDS))
def backend_settings(request):
    return dict(STORAGE_BACKENDS[request.param])


@pytest.fixture
def make_resource_app(backend_settings):
    """Build the test service; extra settings and a setup hook may be given."""

    def make(settings=None, setup=None):
        def configure(config):
            config.scan("tests.resource.testapp")
            if setup is not None:
                setup(config)

        return build_app({**backend_settings, **(settings or {})}, setup=configure)

    return make


@pytest.fixture
def app(make_resource_app):
    return make_resource_app()


@pytest.fixture
def alice():
    return basic_auth("alice", "pw")


@pytest.fixture
def bob():
    return basic_auth("bob", "pw")
