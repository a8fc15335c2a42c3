"""Conformance suite of the permission contract (:class:`cliquet.permission.PermissionBase`).

Every permission backend, in-tree or third-party, runs these same tests.
Subclass :class:`PermissionTest` in a ``Test*`` class and provide a
``permission`` fixture that yields a ready, empty instance built the way a
service builds it::

    import pytest
    from pyramid.config import Configurator

    from cliquet.testing.permission import PermissionTest
    from cliquet_riak import permission as riak_permission


    class TestRiakPermission(PermissionTest):
        @pytest.fixture
        def permission(self):
            config = Configurator(settings={"cliquet.permission_url": "riak://localhost"})
            backend = riak_permission.load_from_config(config)
            backend.initialize_schema()
            backend.flush()
            yield backend
            backend.flush()
"""

from __future__ import annotations

import threading

import pytest

from cliquet.permission import PermissionBase

__all__ = ["PermissionTest"]

RECORD = "/buckets/b1/collections/c1/records/r1"
OTHER_RECORD = "/buckets/b1/collections/c1/records/r2"


class PermissionTest:
    """Tests every permission backend must pass; see the module docstring."""

    @pytest.fixture
    def permission(self) -> PermissionBase:
        raise NotImplementedError(
            "A PermissionTest subclass must define a `permission` fixture yielding a flushed "
            "backend."
        )

    # user principals

    def test_user_without_principals_has_an_empty_set(self, permission: PermissionBase) -> None:
        assert permission.get_user_principals("alice") == set()

    def test_add_user_principal(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_user_principal("alice", "group:admins")
        permission.add_user_principal("alice", "group:admins")
        assert permission.get_user_principals("alice") == {"group:editors", "group:admins"}

    def test_user_principals_are_per_user(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        assert permission.get_user_principals("bob") == set()

    def test_remove_user_principal(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_user_principal("alice", "group:admins")
        permission.remove_user_principal("alice", "group:editors")
        assert permission.get_user_principals("alice") == {"group:admins"}

    def test_remove_missing_user_principal_is_not_an_error(
        self, permission: PermissionBase
    ) -> None:
        permission.remove_user_principal("nobody", "group:editors")
        permission.add_user_principal("alice", "group:admins")
        permission.remove_user_principal("alice", "group:editors")
        assert permission.get_user_principals("alice") == {"group:admins"}

    def test_user_principals_returned_are_copies(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.get_user_principals("alice").add("system.Everyone")
        assert permission.get_user_principals("alice") == {"group:editors"}

    def test_remove_principal_takes_it_from_every_user(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_user_principal("alice", "group:admins")
        permission.add_user_principal("bob", "group:editors")
        permission.add_user_principal("carol", "group:editors2")
        # A user whose id is the principal keeps its own principals.
        permission.add_user_principal("group:editors", "group:staff")
        permission.remove_principal("group:editors")
        assert permission.get_user_principals("alice") == {"group:admins"}
        assert permission.get_user_principals("bob") == set()
        assert permission.get_user_principals("carol") == {"group:editors2"}
        assert permission.get_user_principals("group:editors") == {"group:staff"}

    def test_remove_principal_leaves_access_control_entries(
        self, permission: PermissionBase
    ) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_principal_to_ace(RECORD, "write", "group:editors")
        permission.remove_principal("group:editors")
        assert permission.get_object_permissions(RECORD) == {"write": {"group:editors"}}
        assert not permission.check_permission(
            RECORD, "write", permission.get_user_principals("alice")
        )

    def test_remove_principal_nobody_has_is_not_an_error(self, permission: PermissionBase) -> None:
        permission.remove_principal("group:nobody")
        permission.add_user_principal("alice", "group:admins")
        permission.remove_principal("group:nobody")
        assert permission.get_user_principals("alice") == {"group:admins"}

    # access control entries

    def test_object_without_ace_has_no_principals(self, permission: PermissionBase) -> None:
        assert permission.get_object_permission_principals(RECORD, "read") == set()
        assert permission.get_object_permissions(RECORD) == {}

    def test_add_principal_to_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "read", "bob")
        permission.add_principal_to_ace(RECORD, "read", "bob")
        assert permission.get_object_permission_principals(RECORD, "read") == {"alice", "bob"}
        assert permission.get_object_permission_principals(RECORD, "write") == set()

    def test_remove_principal_from_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "read", "bob")
        permission.remove_principal_from_ace(RECORD, "read", "alice")
        assert permission.get_object_permission_principals(RECORD, "read") == {"bob"}

    def test_remove_missing_principal_from_ace_is_not_an_error(
        self, permission: PermissionBase
    ) -> None:
        permission.remove_principal_from_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "read", "bob")
        permission.remove_principal_from_ace(RECORD, "read", "alice")
        assert permission.get_object_permission_principals(RECORD, "read") == {"bob"}

    def test_objects_are_isolated(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(OTHER_RECORD, "write", "bob")
        assert permission.get_object_permissions(RECORD) == {"read": {"alice"}}
        assert permission.get_object_permissions(OTHER_RECORD) == {"write": {"bob"}}

    def test_get_object_permissions_leaves_out_emptied_permissions(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "bob")
        permission.remove_principal_from_ace(RECORD, "write", "bob")
        assert permission.get_object_permissions(RECORD) == {"read": {"alice"}}

    def test_get_object_permissions_filtered_by_permission(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "bob")
        assert permission.get_object_permissions(RECORD, ["write", "create"]) == {"write": {"bob"}}

    def test_object_permissions_returned_are_copies(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.get_object_permission_principals(RECORD, "read").add("mallory")
        permission.get_object_permissions(RECORD)["read"].add("mallory")
        permission.get_object_permissions(RECORD)["write"] = {"mallory"}
        assert permission.get_object_permissions(RECORD) == {"read": {"alice"}}

    # replace / delete

    def test_replace_object_permissions_replaces_given_permissions_only(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "bob")
        result = permission.replace_object_permissions(RECORD, {"read": ["carol", "dave"]})
        expected = {"read": {"carol", "dave"}, "write": {"bob"}}
        assert result == expected
        assert permission.get_object_permissions(RECORD) == expected

    def test_replace_object_permissions_with_empty_list_revokes(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "bob")
        result = permission.replace_object_permissions(RECORD, {"write": []})
        assert result == {"read": {"alice"}}
        assert permission.get_object_permission_principals(RECORD, "write") == set()

    def test_replace_object_permissions_on_a_new_object(self, permission: PermissionBase) -> None:
        result = permission.replace_object_permissions(
            RECORD, {"read": {"alice"}, "write": ("bob", "bob"), "create": []}
        )
        assert result == {"read": {"alice"}, "write": {"bob"}}
        assert permission.get_object_permissions(OTHER_RECORD) == {}

    def test_delete_object_permissions_of_several_objects(
        self, permission: PermissionBase
    ) -> None:
        third = "/buckets/b2"
        for object_id in (RECORD, OTHER_RECORD, third):
            permission.add_principal_to_ace(object_id, "read", "alice")
        permission.delete_object_permissions(RECORD, OTHER_RECORD, "/unknown")
        assert permission.get_object_permissions(RECORD) == {}
        assert permission.get_object_permissions(OTHER_RECORD) == {}
        assert permission.get_object_permissions(third) == {"read": {"alice"}}

    def test_delete_object_permissions_without_ids_does_nothing(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.delete_object_permissions()
        assert permission.get_object_permissions(RECORD) == {"read": {"alice"}}

    def test_flush_removes_everything(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.flush()
        assert permission.get_user_principals("alice") == set()
        assert permission.get_object_permissions(RECORD) == {}
        assert permission.get_accessible_objects(["alice"]) == {}

    def test_initialize_schema_can_be_called_again(self, permission: PermissionBase) -> None:
        permission.initialize_schema()
        permission.add_principal_to_ace(RECORD, "read", "alice")
        assert permission.get_object_permission_principals(RECORD, "read") == {"alice"}

    # accessible objects

    def test_get_accessible_objects_of_any_principal(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "group:editors")
        permission.add_principal_to_ace(OTHER_RECORD, "read", "group:editors")
        permission.add_principal_to_ace("/buckets/b2", "read", "bob")
        assert permission.get_accessible_objects(iter(["alice", "group:editors"])) == {
            RECORD: {"read", "write"},
            OTHER_RECORD: {"read"},
        }

    def test_get_accessible_objects_filtered_by_permission(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "write", "alice")
        permission.add_principal_to_ace(OTHER_RECORD, "read", "alice")
        assert permission.get_accessible_objects(["alice"], permissions=["write"]) == {
            RECORD: {"write"}
        }

    def test_get_accessible_objects_filtered_by_prefix(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace("/buckets/b1", "read", "alice")
        permission.add_principal_to_ace("/buckets/b10/collections/c1", "read", "alice")
        prefix = "/buckets/b1/"
        assert permission.get_accessible_objects(["alice"], object_id_prefix=prefix) == {
            RECORD: {"read"}
        }

    def test_get_accessible_objects_without_principals_is_empty(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        assert permission.get_accessible_objects([]) == {}
        assert permission.get_accessible_objects(["bob"]) == {}

    # defaults built on the contract

    def test_check_permission_with_several_principals(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "write", "group:editors")
        assert permission.check_permission(RECORD, "write", ["alice", "group:editors"])
        assert permission.check_permission(RECORD, "write", {"group:editors"})
        assert not permission.check_permission(RECORD, "write", ["alice", "bob"])
        assert not permission.check_permission(RECORD, "read", ["group:editors"])
        assert not permission.check_permission(OTHER_RECORD, "write", ["group:editors"])
        assert not permission.check_permission(RECORD, "write", [])

    def test_get_authorized_principals(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace(RECORD, "read", "alice")
        permission.add_principal_to_ace(RECORD, "read", "bob")
        assert permission.get_authorized_principals(RECORD, "read") == {"alice", "bob"}
        assert permission.get_authorized_principals(RECORD, "write") == set()

    def test_heartbeat_is_true_and_keeps_existing_data(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        assert permission.heartbeat() is True
        assert permission.get_user_principals("alice") == {"group:editors"}

    def test_concurrent_writes_from_threads(self, permission: PermissionBase) -> None:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(50):
                    permission.add_principal_to_ace(RECORD, "read", f"user-{n}-{i}")
                    permission.add_user_principal(f"user-{n}", f"group-{i}")
            except BaseException as exc:  # reported to the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(permission.get_object_permission_principals(RECORD, "read")) == 8 * 50
        assert len(permission.get_user_principals("user-7")) == 50


class TransactionalPermissionTest:
    """The unit-of-work part of the contract (``begin``/``commit``/``rollback``).

    Mix it in next to :class:`PermissionTest` for a backend that groups a request's writes.
    """

    def test_rollback_undoes_the_writes(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/a", "read", "alice")
        permission.begin()
        permission.add_principal_to_ace("/a", "write", "bob")
        permission.replace_object_permissions("/b", {"read": ["carol"]})
        permission.add_user_principal("alice", "group:x")
        permission.delete_object_permissions("/a")
        permission.rollback()
        assert permission.get_object_permissions("/a") == {"read": {"alice"}}
        assert permission.get_object_permissions("/b") == {}
        assert permission.get_user_principals("alice") == set()

    def test_rollback_gives_back_a_removed_principal(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:editors")
        permission.add_user_principal("bob", "group:editors")
        permission.begin()
        permission.remove_principal("group:editors")
        permission.rollback()
        assert permission.get_user_principals("alice") == {"group:editors"}
        assert permission.get_user_principals("bob") == {"group:editors"}

    def test_commit_keeps_the_writes(self, permission: PermissionBase) -> None:
        permission.begin()
        permission.add_principal_to_ace("/a", "read", "alice")
        assert permission.get_object_permission_principals("/a", "read") == {"alice"}
        permission.commit()
        permission.begin()
        permission.rollback()
        assert permission.get_object_permission_principals("/a", "read") == {"alice"}
