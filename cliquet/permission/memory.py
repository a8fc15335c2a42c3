"""In-process permission backend: the default, for development and tests.

Data lives in the process, so it is lost on restart and not shared between
workers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any

from pyramid.config import Configurator

from cliquet.permission import PermissionBase

__all__ = ["Permission", "load_from_config"]


class Permission(PermissionBase):
    """Thread-safe in-memory permission backend.

    Empty sets are never kept, so "absent" and "granted to nobody" are the
    same state and listings need no filtering.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._user_principals: dict[str, set[str]] = {}
        # object id -> permission -> principals
        self._aces: dict[str, dict[str, set[str]]] = {}
        # Per-thread undo log of the open unit of work: (table, key, copy of the old entry).
        self._local = threading.local()

    def begin(self) -> None:
        self._local.journal = []

    def commit(self) -> None:
        self._local.journal = None

    def rollback(self) -> None:
        journal = getattr(self._local, "journal", None) or []
        self._local.journal = None
        with self._lock:
            for table, key, previous in reversed(journal):
                if previous is None:
                    table.pop(key, None)
                else:
                    table[key] = previous

    def _remember(self, table: dict[str, Any], key: str) -> None:
        journal = getattr(self._local, "journal", None)
        if journal is not None:
            journal.append((table, key, copy.deepcopy(table.get(key))))

    def __repr__(self) -> str:
        return f"<cliquet.permission.memory.Permission objects={len(self._aces)}>"

    def initialize_schema(self) -> None:
        """Nothing to create in memory."""

    def flush(self) -> None:
        with self._lock:
            self._user_principals.clear()
            self._aces.clear()

    def add_user_principal(self, user_id: str, principal: str) -> None:
        with self._lock:
            self._remember(self._user_principals, user_id)
            self._user_principals.setdefault(user_id, set()).add(principal)

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        with self._lock:
            principals = self._user_principals.get(user_id)
            if principals is None:
                return
            self._remember(self._user_principals, user_id)
            principals.discard(principal)
            if not principals:
                del self._user_principals[user_id]

    def remove_principal(self, principal: str) -> None:
        with self._lock:
            for user_id in [u for u, held in self._user_principals.items() if principal in held]:
                self.remove_user_principal(user_id, principal)

    def get_user_principals(self, user_id: str) -> set[str]:
        with self._lock:
            return set(self._user_principals.get(user_id, ()))

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        with self._lock:
            self._remember(self._aces, object_id)
            self._aces.setdefault(object_id, {}).setdefault(permission, set()).add(principal)

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        with self._lock:
            self._remember(self._aces, object_id)
            self._set_principals(
                object_id, permission, self._principals(object_id, permission) - {principal}
            )

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        with self._lock:
            return set(self._principals(object_id, permission))

    def get_object_permissions(
        self, object_id: str, permissions: list[str] | None = None
    ) -> dict[str, set[str]]:
        with self._lock:
            aces = self._aces.get(object_id, {})
            return {
                permission: set(principals)
                for permission, principals in aces.items()
                if permissions is None or permission in permissions
            }

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        # Materialize first: a generator that fails must not leave a half-done change.
        replacements = {
            permission: set(principals) for permission, principals in permissions.items()
        }
        with self._lock:
            self._remember(self._aces, object_id)
            for permission, principals in replacements.items():
                self._set_principals(object_id, permission, principals)
            return self.get_object_permissions(object_id)

    def delete_object_permissions(self, *object_ids: str) -> None:
        with self._lock:
            for object_id in object_ids:
                self._remember(self._aces, object_id)
                self._aces.pop(object_id, None)

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        *,
        permissions: list[str] | None = None,
        object_id_prefix: str = "",
    ) -> dict[str, set[str]]:
        wanted = set(principals)
        accessible: dict[str, set[str]] = {}
        with self._lock:
            for object_id, aces in self._aces.items():
                if not object_id.startswith(object_id_prefix):
                    continue
                held = {
                    permission
                    for permission, holders in aces.items()
                    if (permissions is None or permission in permissions)
                    and not holders.isdisjoint(wanted)
                }
                if held:
                    accessible[object_id] = held
        return accessible

    def _principals(self, object_id: str, permission: str) -> set[str]:
        """The stored set (not a copy) or an empty one. Hold the lock."""
        return self._aces.get(object_id, {}).get(permission, set())

    def _set_principals(self, object_id: str, permission: str, principals: set[str]) -> None:
        """Store ``principals``, dropping empty ACEs and objects. Hold the lock."""
        if principals:
            self._aces.setdefault(object_id, {})[permission] = principals
            return
        aces = self._aces.get(object_id)
        if aces is None:
            return
        aces.pop(permission, None)
        if not aces:
            del self._aces[object_id]


def load_from_config(config: Configurator) -> Permission:
    """Build the backend; it has no settings (``cliquet.permission_url`` is unused)."""
    return Permission()
