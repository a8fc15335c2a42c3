"""The permission contract: who may do what on which object.

Two kinds of data live here. *User principals* are the extra principals a user
carries (``"group:editors"``), added to those the authentication policy gives.
*Access control entries* (ACEs) map an object id and a permission
(``"read"``, ``"write"``...) to the principals holding it. Object ids are
opaque strings; resources use their URI (``/buckets/b1/records/r1``), which is
what makes prefix queries such as "every record of bucket b1" possible.

A backend is a module exposing ``load_from_config(config) -> PermissionBase``,
named by ``cliquet.permission_backend``. The abstract methods of
:class:`PermissionBase` are the contract; the others have defaults built on
them. :class:`cliquet.testing.permission.PermissionTest` is the conformance
suite.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable

__all__ = ["PermissionBase", "PermissionBackendError"]


class PermissionBackendError(Exception):
    """A permission backend failed (connection lost, server error...).

    Named so as not to shadow the builtin ``PermissionError``, which is about
    the operating system refusing access, not about this backend.

    :param message: what went wrong.
    :param original: the driver exception, kept for logs.
    """

    def __init__(self, message: str = "", *, original: BaseException | None = None) -> None:
        if not message and original is not None:
            message = f"{type(original).__name__}: {original}"
        super().__init__(message)
        self.original = original


class PermissionBase(abc.ABC):
    """Base class of every permission backend.

    Every returned set or dict is the caller's own copy. Removing something
    that is not there is never an error. Every method may raise
    :class:`PermissionBackendError` when the backend fails.
    """

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__}>"

    @abc.abstractmethod
    def initialize_schema(self) -> str | None:
        """Create whatever the backend needs before first use (tables, indexes).

        Called by ``cliquet migrate`` (or at start-up with ``cliquet.migrate_on_startup``),
        never per request; must be safe to call more than once.

        :returns: one line telling what was done (shown by ``cliquet migrate``), or None.
        :raises PermissionBackendError: the backend could not be reached.
        """

    @abc.abstractmethod
    def flush(self) -> None:
        """Remove every user principal and every ACE.

        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def add_user_principal(self, user_id: str, principal: str) -> None:
        """Give ``user_id`` the extra ``principal`` (adding it twice is harmless).

        :param user_id: the user's principal as authentication sets it.
        :param principal: the principal to add, e.g. ``"group:editors"``.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def remove_user_principal(self, user_id: str, principal: str) -> None:
        """Take ``principal`` away from ``user_id``, if it had it.

        :param user_id: the user.
        :param principal: the principal to remove.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def get_user_principals(self, user_id: str) -> set[str]:
        """The extra principals of ``user_id``.

        :param user_id: the user.
        :returns: its principals; empty when it has none.
        :raises PermissionBackendError: the backend failed.
        """

    def remove_principal(self, principal: str) -> None:
        """Take ``principal`` away from every user that has it (as cliquet 3 did).

        For when a group is deleted: its members must not keep it, or a group created
        later under the same id would inherit them. Only user principals change; the ACEs
        granting ``principal`` stay (revoke them with :meth:`replace_object_permissions`
        on the objects :meth:`get_accessible_objects` lists), and so do the principals of
        a user whose id is ``principal``.

        Not abstract, so that a backend written before it still loads; but the contract
        has no call listing users, so there is no default to build on it: a backend that
        does not override it raises :class:`NotImplementedError` here, and fails the
        conformance suite's tests of it.

        :param principal: the principal to remove, e.g. ``"group:editors"``.
        :raises NotImplementedError: the backend does not implement it.
        :raises PermissionBackendError: the backend failed.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} does not implement remove_principal(principal); "
            "the contract has no call listing users to build it on."
        )

    @abc.abstractmethod
    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        """Grant ``permission`` on ``object_id`` to ``principal``.

        :param object_id: the object.
        :param permission: the permission, e.g. ``"write"``.
        :param principal: who receives it.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        """Revoke ``permission`` on ``object_id`` from ``principal``, if granted.

        :param object_id: the object.
        :param permission: the permission.
        :param principal: who loses it.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        """The principals holding ``permission`` on ``object_id``.

        :param object_id: the object.
        :param permission: the permission.
        :returns: the principals; empty when none.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def get_object_permissions(
        self, object_id: str, permissions: list[str] | None = None
    ) -> dict[str, set[str]]:
        """Every permission granted on ``object_id`` with its principals.

        :param object_id: the object.
        :param permissions: only these permissions; ``None`` means all.
        :returns: permission -> principals, only for permissions held by at
            least one principal; empty when the object has none.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        """Set the principals of the given permissions of ``object_id``.

        Each permission named in ``permissions`` gets exactly the principals
        given (an empty iterable revokes it from everyone); permissions not
        named keep their principals. This is how a ``PUT``/``PATCH`` of a
        record's ``permissions`` field is stored.

        :param object_id: the object.
        :param permissions: permission -> its new principals.
        :returns: the object's permissions after the change, as
            :meth:`get_object_permissions` returns them.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def delete_object_permissions(self, *object_ids: str) -> None:
        """Remove every ACE of the given objects (when they are deleted).

        :param object_ids: the objects; unknown ids and no ids are fine.
        :raises PermissionBackendError: the backend failed.
        """

    @abc.abstractmethod
    def get_accessible_objects(
        self,
        principals: Iterable[str],
        *,
        permissions: list[str] | None = None,
        object_id_prefix: str = "",
    ) -> dict[str, set[str]]:
        """The objects on which any of ``principals`` holds a permission.

        Used to list only the records a user may see.

        :param principals: the principals of the current user.
        :param permissions: only these permissions; ``None`` means all.
        :param object_id_prefix: only objects whose id starts with it.
        :returns: object id -> the permissions that any of the principals
            holds on it; objects where they hold none are left out.
        :raises PermissionBackendError: the backend failed.
        """

    def get_authorized_principals(self, object_id: str, permission: str) -> set[str]:
        """The principals allowed to perform ``permission`` on ``object_id``.

        The default is the ACE itself. This is the hook for permission
        inheritance (``write`` implying ``read``, a parent's ACE applying to
        its children): override it and :meth:`check_permission` follows.

        :param object_id: the object.
        :param permission: the permission.
        :returns: the principals.
        :raises PermissionBackendError: the backend failed.
        """
        return self.get_object_permission_principals(object_id, permission)

    def check_permission(self, object_id: str, permission: str, principals: Iterable[str]) -> bool:
        """Whether any of ``principals`` may perform ``permission`` on ``object_id``.

        :param object_id: the object.
        :param permission: the permission.
        :param principals: the principals of the current user.
        :returns: ``True`` when at least one of them is authorized.
        :raises PermissionBackendError: the backend failed.
        """
        return not self.get_authorized_principals(object_id, permission).isdisjoint(principals)

    def begin(self) -> None:
        """Start a unit of work for the calling thread (one per request or batch).

        Backends with transactions group the calling thread's writes until :meth:`commit`
        or :meth:`rollback`; the default does nothing (each write stands alone).
        """

    def commit(self) -> None:
        """Make the writes of the calling thread's unit of work permanent."""

    def rollback(self) -> None:
        """Undo the writes of the calling thread's unit of work, as far as the backend can."""

    def heartbeat(self) -> bool:
        """Whether the backend works, for the ``__heartbeat__`` view.

        Adds, reads back and removes a user principal on a unique probe user,
        so that concurrent heartbeats do not disturb each other. Never raises:
        any failure, whatever its type, is reported as ``False``.

        :returns: ``True`` when the probe round-tripped.
        """
        user_id = f"cliquet.heartbeat.{uuid.uuid4().hex}"
        principal = "alive"
        try:
            self.add_user_principal(user_id, principal)
            ok = principal in self.get_user_principals(user_id)
            self.remove_user_principal(user_id, principal)
        except Exception:
            return False
        return ok
