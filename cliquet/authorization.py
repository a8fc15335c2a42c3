"""Who may do what on resources.

Resource views are protected by the ``dynamic`` permission: the route factory builds a
:class:`RouteFactory` context that knows the resource, the action the request asks for
(``read``, ``create`` or ``write``) and the permission object (a record's URI), and
:class:`AuthorizationPolicy` grants it when one of the request's principals is allowed:

- collection-wide, by the settings ``cliquet.<resource>_<action>_principals`` (``write``
  implies ``read``; ``system.Everyone`` and ``system.Authenticated`` are principals too);
- on one record of a shareable resource, by the ``read``/``write`` principals stored for it
  in the permission backend.

A request's principals (:func:`get_principals`) are those of the authentication policies plus
the principals stored for the user in the permission backend (``add_user_principal``), computed
once per request. Other views keep Pyramid's usual ACL behaviour, with the same principals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.interfaces import ISecurityPolicy
from pyramid.threadlocal import get_current_request

__all__ = [
    "DYNAMIC",
    "Everyone",
    "Authenticated",
    "RouteFactory",
    "AuthorizationPolicy",
    "get_principals",
    "ACTION_BY_METHOD",
    "RECORD_PERMISSIONS",
    "TOMBSTONE_READ",
]

DYNAMIC = "dynamic"

# The action a method asks for on a collection / on a record (PUT may also create).
ACTION_BY_METHOD = {
    ("collection", "GET"): "read",
    ("collection", "HEAD"): "read",
    ("collection", "POST"): "create",
    ("collection", "DELETE"): "write",
    ("record", "GET"): "read",
    ("record", "HEAD"): "read",
    ("record", "PUT"): "write",
    ("record", "PATCH"): "write",
    ("record", "DELETE"): "write",
}

# The permissions a client may give on a record of a shareable resource.
RECORD_PERMISSIONS = ("read", "write")

# Held on a deleted record's URI by those who could read it, so that its tombstone reaches
# them (``_since``); it grants nothing on the URL, and a new record of that id drops it.
TOMBSTONE_READ = "read_tombstone"

# Holding the key permission also grants these.
_IMPLIED = {"read": ("read", "write"), "write": ("write",), "create": ("create",)}

_PRINCIPALS_KEY = "cliquet.principals"


def get_principals(request: Any) -> set[str]:
    """The request's principals, computed once per request.

    ``system.Everyone``; when authenticated, ``system.Authenticated``, the user id and the
    principals stored for it in the permission backend; and whatever the authentication
    policies add (pyramid_multiauth's sub-policies and ``multiauth.groupfinder``).
    """
    cached = request.environ.get(_PRINCIPALS_KEY)
    if cached is not None:
        return set(cached)
    policy = request.registry.queryUtility(ISecurityPolicy)
    if policy is not None and hasattr(policy, "effective_principals"):
        principals = set(policy.effective_principals(request))
    else:
        principals = {Everyone}
    principals.add(Everyone)
    userid = request.authenticated_userid
    if userid:
        principals.update((Authenticated, userid))
        backend = getattr(request.registry, "permission", None)
        if backend is not None:
            principals.update(backend.get_user_principals(userid))
    request.environ[_PRINCIPALS_KEY] = frozenset(principals)
    return principals


class RouteFactory:
    """The context of a resource route (see the module docstring)."""

    def __init__(self, request: Any, *, info: Any, kind: str) -> None:
        self.request = request
        self.info = info
        self.kind = kind
        self.action = ACTION_BY_METHOD.get((kind, request.method), "read")
        # Set when the user may act only on the records shared with them.
        self.shared_only = False
        self.object_id: str | None = None
        if kind == "record" and "id" in request.matchdict:
            self.object_id = info.object_uri(request.matchdict, request.matchdict["id"])

    def __repr__(self) -> str:
        return f"<RouteFactory {self.info.name} {self.kind} {self.action}>"

    def collection_allows(self, principals: Iterable[str], action: str) -> bool:
        principals = set(principals)
        return any(
            principals & self.info.principals.get(granting, set()) for granting in _IMPLIED[action]
        )

    def record_allows(self, principals: Iterable[str], action: str, object_id: str) -> bool:
        """Whether ``principals`` may ``action`` on the record ``object_id``: collection-wide,
        or (shareable resources) by the principals stored for the record."""
        principals = set(principals)
        if self.collection_allows(principals, action):
            return True
        if not self.info.shareable:
            return False
        backend = self.request.registry.permission
        return any(
            backend.check_permission(object_id, granting, principals)
            for granting in _IMPLIED[action]
        )

    def check_permission(self, principals: Iterable[str]) -> bool:
        principals = set(principals)
        action = self.action
        if self.collection_allows(principals, action):
            return True
        if not self.info.shareable:
            return False
        if self.kind == "record" and self.object_id is not None:
            if self.record_allows(principals, action, self.object_id):
                return True
            # PUT on a record nobody shares with this user: allowed as a creation only.
            if self.request.method == "PUT" and self.collection_allows(principals, "create"):
                self.action = "create"
                return True
            return False
        if self.kind == "collection" and action in ("read", "write"):
            # Lists and bulk deletes see only what is shared with the user; an anonymous
            # user is asked to authenticate unless something is shared with everyone.
            self.shared_only = Authenticated in principals or self._shares_any(principals, action)
            return self.shared_only
        return False

    def _shares_any(self, principals: set[str], action: str) -> bool:
        prefix = self.info.object_uri(self.request.matchdict or {}, "")
        granting = list(_IMPLIED[action])
        if action == "read":
            granting.append(TOMBSTONE_READ)  # a sync client of a public record gets its tombstone
        accessible = self.request.registry.permission.get_accessible_objects(
            principals, permissions=granting, object_id_prefix=prefix
        )
        return bool(accessible)


class AuthorizationPolicy:
    """Grants ``dynamic`` through the route context; anything else through ACLs.

    Both decide with the request's full principals (:func:`get_principals`): those the
    security policy passes lack the ones stored in the permission backend.
    """

    def __init__(self) -> None:
        self._acl = ACLHelper()

    def permits(self, context: Any, principals: Iterable[str], permission: str) -> Any:
        request = context.request if isinstance(context, RouteFactory) else get_current_request()
        if request is not None:
            principals = get_principals(request) | set(principals)
        if permission == DYNAMIC and isinstance(context, RouteFactory):
            return context.check_permission(principals)
        return self._acl.permits(context, principals, permission)

    def principals_allowed_by_permission(self, context: Any, permission: str) -> set[str]:
        return set(self._acl.principals_allowed_by_permission(context, permission))
