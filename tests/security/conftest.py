"""The resource test service over memory, SQLite and PostgreSQL, as the hostile client sees it.

The fixtures are those of ``tests/resource/conftest.py``; ``nothing_stored`` is the
check every refused write gets.
"""

import pytest

from tests.resource.conftest import alice, app, backend_settings, bob, make_resource_app
from tests.security.hostile import ALICE, BOB, EVERYONE, stored

__all__ = ["alice", "app", "backend_settings", "bob", "make_resource_app"]


@pytest.fixture
def everything_stored(app):
    """Every live record of the service (alice's, bob's and anonymous articles, all notes)."""

    def read(*parents):
        return stored(app, [ALICE, BOB, EVERYONE, *parents])

    return read


@pytest.fixture
def nothing_stored(everything_stored):
    """Call it after a refused write: nothing changed since the fixture was first used."""
    before = everything_stored()

    def check(*parents):
        after = everything_stored(*parents)
        for name in before:
            before_ids = {r["id"] for r in before[name]}
            new = [r for r in after[name] if r["id"] not in before_ids]
            assert not new, f"stored although refused: {name} {new}"

    return check


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "served: serves the test service with pserve and talks raw HTTP to it"
    )
