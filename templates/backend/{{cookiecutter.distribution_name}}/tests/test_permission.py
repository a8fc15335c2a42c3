"""The backend against cliquet's permission contract: its conformance suite, then its signatures.

Keep this file green when the real client replaces ``FakeClient``: point ``SETTINGS`` at a
server for tests, and the suite does the rest.
"""

import inspect
from collections.abc import Iterator

import pytest
from cliquet.permission import PermissionBackendError, PermissionBase
from cliquet.testing.permission import PermissionTest
from pyramid.config import Configurator

from {{ cookiecutter.package_name }} import permission as backend

SETTINGS = {"cliquet.permission_url": "{{ cookiecutter.__slug }}://localhost:6379"}
CONTRACT = sorted(PermissionBase.__abstractmethods__)


def make_permission() -> backend.Permission:
    return backend.load_from_config(Configurator(settings=SETTINGS))


class TestPermission(PermissionTest):
    @pytest.fixture
    def permission(self) -> Iterator[backend.Permission]:
        permission = make_permission()
        permission.initialize_schema()
        permission.flush()
        yield permission
        permission.flush()


def test_object_ids_may_hold_any_character() -> None:
    permission = make_permission()
    permission.add_principal_to_ace('/a:"b"', "read", "alice")
    permission.add_principal_to_ace("/a", 'read:"b"', "bob")
    assert permission.get_object_permissions('/a:"b"') == {"read": {"alice"}}
    assert permission.get_object_permissions("/a") == {'read:"b"': {"bob"}}


def test_client_failures_are_permission_backend_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    permission = make_permission()

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("refused")

    monkeypatch.setattr(permission._client, "smembers", refuse)
    with pytest.raises(PermissionBackendError):
        permission.get_user_principals("alice")
    assert permission.heartbeat() is False


# The contract is the runtime's: every method is there, with its signature and its docstring.


def test_backend_implements_the_whole_contract() -> None:
    assert not inspect.isabstract(backend.Permission)
    assert isinstance(make_permission(), PermissionBase)


@pytest.mark.parametrize("name", CONTRACT)
def test_signature_is_the_contract_one(name: str) -> None:
    ours = inspect.signature(getattr(backend.Permission, name), eval_str=True)
    assert ours == inspect.signature(getattr(PermissionBase, name), eval_str=True)


@pytest.mark.parametrize("name", CONTRACT)
def test_documentation_is_the_contract_one(name: str) -> None:
    ours = inspect.getdoc(getattr(backend.Permission, name))
    assert ours == inspect.getdoc(getattr(PermissionBase, name))
