"""{{ cookiecutter.description }}

Enable it in a service's ``.ini``::

    cliquet.permission_backend = {{ cookiecutter.package_name }}.permission
    cliquet.permission_url = {{ cookiecutter.__slug }}://localhost:6379

:class:`Permission` implements the abstract methods of
:class:`cliquet.permission.PermissionBase` and ``remove_principal`` (which the contract cannot
build from the others: it lists users), with the same signatures and no docstrings of their
own: each inherits the contract's (``help(Permission.get_accessible_objects)`` shows it), so
that the documentation cannot drift from the runtime. ``tests/test_permission.py`` checks both
and runs cliquet's conformance suite.

It starts over :class:`FakeClient`, an in-process stand-in for a client of a server of sets.
Swap in the real library where the ``REAL CLIENT`` comments say, and keep the suite green.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

from cliquet.permission import PermissionBackendError, PermissionBase
from pyramid.config import Configurator

__all__ = ["FakeClient", "Permission", "load_from_config"]

# Where the server is when ``cliquet.permission_url`` is not set.
DEFAULT_URL = "{{ cookiecutter.__slug }}://localhost"

# REAL CLIENT: the exceptions of the real library (connection lost, timeout, server error).
CLIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)


class FakeClient:
    """In-process stand-in for a client of a server of sets of strings, by key.

    REAL CLIENT: delete this class and build the library's client in
    :func:`load_from_config`. Its calls are those most clients have: ``sadd``, ``srem``,
    ``smembers``, ``delete``, ``scan`` and ``flush``. As on most servers, a set emptied by
    ``srem`` is gone.
    """

    def __init__(self, host: str = "localhost", port: int | None = None) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._sets: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"<FakeClient {self.host}:{self.port}>"

    def sadd(self, key: str, *members: str) -> None:
        with self._lock:
            self._sets.setdefault(key, set()).update(members)

    def srem(self, key: str, *members: str) -> None:
        with self._lock:
            remaining = self._sets.get(key, set()) - set(members)
            if remaining:
                self._sets[key] = remaining
            else:
                self._sets.pop(key, None)

    def smembers(self, key: str) -> set[str]:
        with self._lock:
            return set(self._sets.get(key, ()))

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._sets.pop(key, None)

    def scan(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``."""
        with self._lock:
            return [key for key in self._sets if key.startswith(prefix)]

    def flush(self) -> None:
        with self._lock:
            self._sets.clear()


# Keys: "user:<user id>" holds a user's principals; "ace:<JSON [object id, permission]>"
# holds the principals of one access control entry (JSON, since ids may hold any character).
USER = "user:"
ACE = "ace:"


def _ace(object_id: str, permission: str) -> str:
    return ACE + json.dumps([object_id, permission])


def _parse_ace(key: str) -> tuple[str, str]:
    object_id, permission = json.loads(key[len(ACE) :])
    return object_id, permission


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """Turn the client's failures into :class:`PermissionBackendError`."""
    try:
        yield
    except CLIENT_ERRORS as e:
        raise PermissionBackendError(original=e) from e


class Permission(PermissionBase):
    """User principals and access control entries as sets of principals."""

    def __init__(self, client: FakeClient) -> None:
        self._client = client

    def _aces(self) -> Iterator[tuple[str, str, str]]:
        """Every ACE as ``(key, object id, permission)``.

        REAL CLIENT: this scans every entry; a server with secondary indexes (or a table)
        can answer the queries below without it.
        """
        for key in self._client.scan(ACE):
            yield (key, *_parse_ace(key))

    # The contract: signatures as in PermissionBase, docstrings inherited from it.

    def initialize_schema(self) -> str | None:
        # REAL CLIENT: create what the server needs (tables, indexes), if anything.
        return None

    def flush(self) -> None:
        with _client_errors():
            self._client.flush()

    def add_user_principal(self, user_id: str, principal: str) -> None:
        with _client_errors():
            self._client.sadd(USER + user_id, principal)

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        with _client_errors():
            self._client.srem(USER + user_id, principal)

    def remove_principal(self, principal: str) -> None:
        # Not abstract, but the contract cannot build it: the backend lists its users.
        with _client_errors():
            for key in self._client.scan(USER):
                self._client.srem(key, principal)

    def get_user_principals(self, user_id: str) -> set[str]:
        with _client_errors():
            return self._client.smembers(USER + user_id)

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        with _client_errors():
            self._client.sadd(_ace(object_id, permission), principal)

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        with _client_errors():
            self._client.srem(_ace(object_id, permission), principal)

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        with _client_errors():
            return self._client.smembers(_ace(object_id, permission))

    def get_object_permissions(
        self, object_id: str, permissions: list[str] | None = None
    ) -> dict[str, set[str]]:
        with _client_errors():
            found: dict[str, set[str]] = {}
            for key, ace_object_id, permission in self._aces():
                if ace_object_id != object_id:
                    continue
                if permissions is not None and permission not in permissions:
                    continue
                principals = self._client.smembers(key)
                if principals:
                    found[permission] = principals
            return found

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        # Read every iterable first: one that fails must not leave a half-done change.
        replacements = {permission: set(members) for permission, members in permissions.items()}
        with _client_errors():
            for permission, principals in replacements.items():
                key = _ace(object_id, permission)
                self._client.delete(key)
                if principals:
                    self._client.sadd(key, *principals)
        return self.get_object_permissions(object_id)

    def delete_object_permissions(self, *object_ids: str) -> None:
        doomed = set(object_ids)
        with _client_errors():
            keys = [key for key, object_id, _ in self._aces() if object_id in doomed]
            if keys:
                self._client.delete(*keys)

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        *,
        permissions: list[str] | None = None,
        object_id_prefix: str = "",
    ) -> dict[str, set[str]]:
        wanted = set(principals)
        accessible: dict[str, set[str]] = {}
        with _client_errors():
            for key, object_id, permission in self._aces():
                if not object_id.startswith(object_id_prefix):
                    continue
                if permissions is not None and permission not in permissions:
                    continue
                if not self._client.smembers(key).isdisjoint(wanted):
                    accessible.setdefault(object_id, set()).add(permission)
        return accessible


def load_from_config(config: Configurator) -> Permission:
    """Build the permission backend from ``cliquet.permission_url``."""
    settings = config.get_settings()
    url = urlparse(settings.get("cliquet.permission_url") or DEFAULT_URL)
    # REAL CLIENT: build the library's client from the URL instead.
    return Permission(FakeClient(host=url.hostname or "localhost", port=url.port))
