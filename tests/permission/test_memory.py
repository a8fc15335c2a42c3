from collections.abc import Iterator

import pytest
from pyramid.config import Configurator

from cliquet.permission import PermissionBackendError, PermissionBase, memory
from cliquet.testing.permission import PermissionTest, TransactionalPermissionTest


class TestMemoryPermission(PermissionTest, TransactionalPermissionTest):
    @pytest.fixture
    def permission(self) -> Iterator[memory.Permission]:
        backend = memory.load_from_config(Configurator(settings={}))
        backend.initialize_schema()
        backend.flush()
        yield backend
        backend.flush()


def test_instances_do_not_share_data() -> None:
    a = memory.load_from_config(Configurator(settings={}))
    b = memory.load_from_config(Configurator(settings={}))
    a.add_principal_to_ace("/buckets/b1", "read", "alice")
    assert b.get_object_permissions("/buckets/b1") == {}


def test_emptied_objects_are_not_kept() -> None:
    backend = memory.Permission()
    backend.add_principal_to_ace("/buckets/b1", "read", "alice")
    backend.remove_principal_from_ace("/buckets/b1", "read", "alice")
    backend.add_user_principal("alice", "group:editors")
    backend.remove_user_principal("alice", "group:editors")
    assert backend._aces == {}
    assert backend._user_principals == {}


def test_repr_names_the_backend() -> None:
    assert repr(memory.Permission()) == "<cliquet.permission.memory.Permission objects=0>"


def test_builtin_permission_error_is_not_shadowed() -> None:
    import cliquet.permission

    assert not hasattr(cliquet.permission, "PermissionError")
    assert not issubclass(PermissionBackendError, PermissionError)


def test_backend_error_keeps_the_original_exception() -> None:
    original = TimeoutError("slow")
    error = PermissionBackendError(original=original)
    assert error.original is original
    assert str(error) == "TimeoutError: slow"


class _Inheriting(memory.Permission):
    """Overrides the inheritance hook only: ``write`` implies ``read``."""

    def get_authorized_principals(self, object_id: str, permission: str) -> set[str]:
        principals = super().get_authorized_principals(object_id, permission)
        if permission == "read":
            principals |= super().get_authorized_principals(object_id, "write")
        return principals


def test_check_permission_follows_get_authorized_principals() -> None:
    backend = _Inheriting()
    backend.add_principal_to_ace("/buckets/b1", "write", "alice")
    assert backend.check_permission("/buckets/b1", "read", ["alice"])


class _Broken(memory.Permission):
    def get_user_principals(self, user_id: str) -> set[str]:
        raise PermissionBackendError("connection refused")


class _Forgetful(memory.Permission):
    def add_user_principal(self, user_id: str, principal: str) -> None:
        pass


class _Exploding(memory.Permission):
    def add_user_principal(self, user_id: str, principal: str) -> None:
        raise RuntimeError("driver bug")


@pytest.mark.parametrize("backend_class", [_Broken, _Forgetful, _Exploding])
def test_heartbeat_is_false_and_never_raises_when_the_probe_fails(
    backend_class: type[PermissionBase],
) -> None:
    assert backend_class().heartbeat() is False


def test_heartbeat_leaves_no_probe_behind() -> None:
    backend = memory.Permission()
    assert backend.heartbeat() is True
    assert backend._user_principals == {}


def test_a_backend_without_remove_principal_loads_and_says_what_is_missing() -> None:
    # A backend written before remove_principal joined the contract: the abstract methods only.
    stubs = {
        name: lambda self, *args, **kwargs: None for name in PermissionBase.__abstractmethods__
    }
    backend = type("RiakPermission", (PermissionBase,), stubs)()
    with pytest.raises(
        NotImplementedError, match="RiakPermission does not implement remove_princ"
    ):
        backend.remove_principal("group:editors")
