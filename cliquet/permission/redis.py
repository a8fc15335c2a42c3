"""Redis permissions: Redis sets, under an optional ``cliquet.permission_prefix``.

Keys:

- ``{prefix}user:{user_id}``: the user's extra principals;
- ``{prefix}ace:{object_id}:{permission}``: the principals holding ``permission``;
- ``{prefix}permissions:{object_id}``: the permissions of the object that have principals.

The last one is an index: reading an object's permissions costs one key per permission instead
of a scan of the whole database, and listing objects by id prefix scans these keys, whose names
hold nothing but the object id. Changes that must keep it exact run as Redis transactions
(``MULTI``, with ``WATCH`` when they read first). Object ids and permission names should not
both contain ``:``, or two ACEs could share a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import redis
from pyramid.config import Configurator
from redis.client import Pipeline

from cliquet.permission import PermissionBackendError, PermissionBase
from cliquet.redis_client import (
    client_settings,
    create_client,
    glob_escape,
    transaction,
    translate_errors,
)

__all__ = ["Permission", "load_from_config"]

# Keys asked of each SCAN step, and objects handled per round trip or transaction.
_BATCH = 500
_OBJECTS_PER_TRANSACTION = 100


class Permission(PermissionBase):
    """Permission backend on a Redis client (see :func:`cliquet.redis_client.create_client`)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def __repr__(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"<cliquet.permission.redis.Permission server={where!r} prefix={self.prefix!r}>"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def _ace_key(self, object_id: str, permission: str) -> str:
        return f"{self.prefix}ace:{object_id}:{permission}"

    def _index_key(self, object_id: str) -> str:
        return f"{self.prefix}permissions:{object_id}"

    def initialize_schema(self) -> None:
        """Redis needs no schema."""

    def flush(self) -> None:
        prefix = glob_escape(self.prefix)
        with translate_errors(PermissionBackendError):
            for kind in ("user", "ace", "permissions"):
                batch: list[str] = []
                for key in self.client.scan_iter(match=f"{prefix}{kind}:*", count=_BATCH):
                    batch.append(key)
                    if len(batch) == _BATCH:
                        self.client.delete(*batch)
                        batch = []
                if batch:
                    self.client.delete(*batch)

    def add_user_principal(self, user_id: str, principal: str) -> None:
        with translate_errors(PermissionBackendError):
            self.client.sadd(self._user_key(user_id), principal)

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        with translate_errors(PermissionBackendError):
            # Redis deletes a set when its last member goes.
            self.client.srem(self._user_key(user_id), principal)

    def remove_principal(self, principal: str) -> None:
        # One SREM per user set, a batch per round trip; Redis deletes a set emptied.
        pattern = glob_escape(self._user_key("")) + "*"
        with translate_errors(PermissionBackendError):
            pipe = self.client.pipeline(transaction=False)
            for n, user_key in enumerate(self.client.scan_iter(match=pattern, count=_BATCH), 1):
                pipe.srem(user_key, principal)
                if n % _BATCH == 0:
                    pipe.execute()
            pipe.execute()

    def get_user_principals(self, user_id: str) -> set[str]:
        with translate_errors(PermissionBackendError):
            return cast("set[str]", self.client.smembers(self._user_key(user_id)))

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        with translate_errors(PermissionBackendError):
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(self._ace_key(object_id, permission), principal)
            pipe.sadd(self._index_key(object_id), permission)
            pipe.execute()

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        ace_key = self._ace_key(object_id, permission)

        def remove(pipe: Pipeline) -> None:
            # Watching the ACE: if it changes before EXEC, Redis refuses and this runs again.
            emptied = pipe.scard(ace_key) == 1 and bool(pipe.sismember(ace_key, principal))
            pipe.multi()
            pipe.srem(ace_key, principal)
            if emptied:
                pipe.srem(self._index_key(object_id), permission)

        with translate_errors(PermissionBackendError):
            transaction(self.client, remove, ace_key)

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        with translate_errors(PermissionBackendError):
            return cast("set[str]", self.client.smembers(self._ace_key(object_id, permission)))

    def get_object_permissions(
        self, object_id: str, permissions: list[str] | None = None
    ) -> dict[str, set[str]]:
        with translate_errors(PermissionBackendError):
            if permissions is None:
                permissions = sorted(
                    cast("set[str]", self.client.smembers(self._index_key(object_id)))
                )
            if not permissions:
                return {}
            pipe = self.client.pipeline(transaction=False)
            for permission in permissions:
                pipe.smembers(self._ace_key(object_id, permission))
            members = cast("list[set[str]]", pipe.execute())
        return {
            permission: principals
            for permission, principals in zip(permissions, members, strict=True)
            if principals
        }

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        # Materialize first: a generator that fails must not leave a half-done change.
        replacements = {
            permission: set(principals) for permission, principals in permissions.items()
        }
        index_key = self._index_key(object_id)
        with translate_errors(PermissionBackendError):
            if replacements:
                pipe = self.client.pipeline(transaction=True)
                for permission, principals in replacements.items():
                    ace_key = self._ace_key(object_id, permission)
                    pipe.delete(ace_key)
                    if principals:
                        pipe.sadd(ace_key, *principals)
                        pipe.sadd(index_key, permission)
                    else:
                        pipe.srem(index_key, permission)
                pipe.execute()
        return self.get_object_permissions(object_id)

    def delete_object_permissions(self, *object_ids: str) -> None:
        unique = list(dict.fromkeys(object_ids))
        with translate_errors(PermissionBackendError):
            for start in range(0, len(unique), _OBJECTS_PER_TRANSACTION):
                batch = unique[start : start + _OBJECTS_PER_TRANSACTION]
                index_keys = [self._index_key(object_id) for object_id in batch]

                def delete(pipe: Pipeline, batch: list[str] = batch) -> None:
                    # Watching the indexes: an ACE added before EXEC makes this run again.
                    keys: list[str] = []
                    for object_id in batch:
                        index_key = self._index_key(object_id)
                        keys.append(index_key)
                        for permission in cast("set[str]", pipe.smembers(index_key)):
                            keys.append(self._ace_key(object_id, permission))
                    pipe.multi()
                    pipe.delete(*keys)

                transaction(self.client, delete, *index_keys)

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        *,
        permissions: list[str] | None = None,
        object_id_prefix: str = "",
    ) -> dict[str, set[str]]:
        wanted = sorted(set(principals))
        accessible: dict[str, set[str]] = {}
        if not wanted or permissions == []:
            return accessible
        index_prefix = self._index_key("")
        pattern = glob_escape(index_prefix + object_id_prefix) + "*"
        with translate_errors(PermissionBackendError):
            object_ids: list[str] = []
            for index_key in self.client.scan_iter(match=pattern, count=_BATCH):
                object_ids.append(index_key[len(index_prefix) :])
                if len(object_ids) == _BATCH:
                    self._collect_accessible(object_ids, wanted, permissions, accessible)
                    object_ids = []
            if object_ids:
                self._collect_accessible(object_ids, wanted, permissions, accessible)
        return accessible

    def _collect_accessible(
        self,
        object_ids: list[str],
        principals: list[str],
        permissions: list[str] | None,
        accessible: dict[str, set[str]],
    ) -> None:
        """Add to ``accessible`` what ``principals`` hold on ``object_ids``: two round trips."""
        if permissions is None:
            pipe = self.client.pipeline(transaction=False)
            for object_id in object_ids:
                pipe.smembers(self._index_key(object_id))
            held = cast("list[set[str]]", pipe.execute())
            candidates = [
                (object_id, permission)
                for object_id, object_permissions in zip(object_ids, held, strict=True)
                for permission in object_permissions
            ]
        else:
            candidates = [
                (object_id, permission) for object_id in object_ids for permission in permissions
            ]
        pipe = self.client.pipeline(transaction=False)
        for object_id, permission in candidates:
            pipe.smismember(self._ace_key(object_id, permission), principals)
        flags: list[Any] = pipe.execute()
        for (object_id, permission), found in zip(candidates, flags, strict=True):
            if any(found):
                accessible.setdefault(object_id, set()).add(permission)


def load_from_config(config: Configurator) -> Permission:
    """Build the backend from ``cliquet.permission_url`` and ``cliquet.permission_prefix``.

    Pool settings: ``cliquet.permission_pool_size``,
    ``cliquet.permission_pool_timeout_seconds`` (see
    :func:`cliquet.redis_client.client_settings`). Connects lazily.

    :raises pyramid.exceptions.ConfigurationError: the URL is empty or not a Redis URL.
    """
    settings = config.get_settings()
    client = create_client(**client_settings(settings, "permission"))
    return Permission(client, prefix=settings.get("cliquet.permission_prefix", "") or "")
