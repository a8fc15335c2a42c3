"""Who may do what on resources.

Resource views are protected by the ``dynamic`` permission: the route factory builds a
:class:`RouteFactory` context that knows the resource, the action the request asks for
(``read``, ``create`` or ``write``) and the permission object (a record's URI), and
:class:`AuthorizationPolicy` grants it when one of the request's principals is allowed:

- collection-wide, by the settings ``cliquet.<resource>_<action>_principals`` (``write``
  implies ``read``; ``system.Everyone`` and ``system.Authenticated`` are principals too);
- on one record of a shareable resource, by the ``read``/``write`` principals stored for it
  in the permission backend.

Other views keep Pyramid's usual ACL behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.interfaces import ISecurityPolicy

__all__ = [
    "DYNAMIC",
    "Everyone",
    "Authenticated",
    "RouteFactory",
    "AuthorizationPolicy",
    "get_principals",
    "ACTION_BY_METHOD",
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

# Holding the key permission also grants these.
_IMPLIED = {"read": ("read", "write"), "write": ("write",), "create": ("create",)}


def get_principals(request: Any) -> set[str]:
    """The request's principals: ``system.Everyone``, and when authenticated
    ``system.Authenticated``, the user id and what the policies add."""
    policy = request.registry.queryUtility(ISecurityPolicy)
    if policy is not None and hasattr(policy, "effective_principals"):
        return set(policy.effective_principals(request))
    principals = {Everyone}
    userid = request.authenticated_userid
    if userid:
        principals.update((Authenticated, userid))
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

    def check_permission(self, principals: Iterable[str]) -> bool:
        principals = set(principals)
        action = self.action
        if self.collection_allows(principals, action):
            return True
        if not self.info.shareable:
            return False
        backend = self.request.registry.permission
        if self.kind == "record" and self.object_id is not None:
            if any(
                backend.check_permission(self.object_id, granting, principals)
                for granting in _IMPLIED[action]
            ):
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
        accessible = self.request.registry.permission.get_accessible_objects(
            principals, permissions=list(_IMPLIED[action]), object_id_prefix=prefix
        )
        return bool(accessible)


class AuthorizationPolicy:
    """Grants ``dynamic`` through the route context; anything else through ACLs."""

    def __init__(self) -> None:
        self._acl = ACLHelper()

    def permits(self, context: Any, principals: Iterable[str], permission: str) -> Any:
        if permission == DYNAMIC and isinstance(context, RouteFactory):
            return context.check_permission(principals)
        return self._acl.permits(context, principals, permission)

    def principals_allowed_by_permission(self, context: Any, permission: str) -> set[str]:
        return set(self._acl.principals_allowed_by_permission(context, permission))
