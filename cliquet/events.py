"""Resource events, and the unit of work that gives them their timing.

``ResourceChanged`` is notified after the writes of a successful (sub)request, while the
request's transaction is still open: a subscriber that raises refuses the writes, which are
rolled back, and the client gets the error. ``AfterResourceChanged`` carries the same payload
once the transaction has committed: side effects (indexing, notifications) belong there, and
its subscribers' failures are logged, never turned into an error for a write that happened.
Nothing is notified for a request that failed.

Extensions subscribe instead of subclassing::

    def includeme(config):
        config.add_subscriber(on_change, ResourceChanged)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from pyramid.httpexceptions import HTTPException

from cliquet.permission import PermissionBase
from cliquet.storage import StorageBase

__all__ = [
    "ACTIONS",
    "ResourceChanged",
    "AfterResourceChanged",
    "batch_rolled_back",
    "notify_resource_event",
    "transaction_tween_factory",
]


class ACTIONS(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class _ResourceEvent:
    def __init__(
        self,
        payload: dict[str, Any],
        impacted_records: list[dict[str, Any]],
        request: Any,
    ) -> None:
        self.payload = payload
        self.impacted_records = impacted_records
        self.request = request

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.payload['action']} {self.payload['uri']} "
            f"({len(self.impacted_records)} records)>"
        )


class ResourceChanged(_ResourceEvent):
    """Records were written: ``payload`` says how, ``impacted_records`` holds old/new pairs.

    ``payload``: ``action`` (create, update, delete), ``resource_name``, ``user_id``, ``uri``
    (of the collection), ``timestamp`` (the collection's, after the write) and the route's
    ids (``id`` for a record). ``impacted_records``: ``[{"old": ..., "new": ...}]`` (no
    ``old`` on create; ``new`` is the tombstone on delete).
    """


class AfterResourceChanged(_ResourceEvent):
    """The same as :class:`ResourceChanged`, once the writes are committed."""


_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_PENDING = "cliquet.pending_events"
_PARENT = "cliquet.parent_request"
_ROLLBACK = "cliquet.rollback"
_AFTER_EVENTS = "cliquet.after_events"


def notify_resource_event(
    request: Any,
    *,
    resource_name: str,
    uri: str,
    timestamp: int,
    action: ACTIONS,
    impacted: Iterable[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> None:
    """Record that the request wrote records; the events fire when the request succeeds.

    Writes of one action on one collection within one request make one event.
    """
    pending = request.environ.setdefault(_PENDING, {})
    key = (action.value, uri)
    if key not in pending:
        payload = {
            "action": action.value,
            "resource_name": resource_name,
            "user_id": request.authenticated_userid,
            "uri": uri,
            "timestamp": timestamp,
            **(extra or {}),
        }
        pending[key] = (payload, [])
    payload, records = pending[key]
    payload["timestamp"] = max(payload["timestamp"], timestamp)
    records.extend(impacted)


def _pending_events(request: Any) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    return list(request.environ.pop(_PENDING, {}).values())


def batch_rolled_back(request: Any) -> bool:
    """Whether the unit of work of ``request`` (a batch) is doomed to roll back.

    True once one of its subrequests failed with a 5xx (or had its writes refused by a
    ``ResourceChanged`` subscriber) and every backend can roll back: none of the batch's
    writes will stay, so the batch must not answer 2xx.
    """
    return bool(request.environ.get(_ROLLBACK))


def _transactional_backends(registry: Any) -> list[Any]:
    backends = []
    for name in ("storage", "permission"):
        backend = getattr(registry, name, None)
        if backend is not None and hasattr(backend, "begin"):
            backends.append(backend)
    return backends


def _can_roll_back(backend: Any) -> bool:
    """Whether ``backend`` undoes writes on rollback (it overrides the contract's no-op)."""
    return type(backend).rollback not in (StorageBase.rollback, PermissionBase.rollback)


def transaction_tween_factory(handler: Any, registry: Any) -> Any:
    """One unit of work per top-level request (a batch and its subrequests share one).

    Begins the backends' transaction, runs the request, notifies ``ResourceChanged`` for its
    writes, then commits and notifies ``AfterResourceChanged``; any error response rolls
    everything back. In a batch, when every backend can roll back, a 5xx subrequest or a
    subscriber refusing a subrequest dooms the whole unit of work (see
    :func:`batch_rolled_back`); when one cannot (Redis), each subrequest stands alone and
    the batch commits what the others wrote.
    """
    backends = _transactional_backends(registry)
    atomic = all(_can_roll_back(backend) for backend in backends)

    def doom(parent: Any) -> None:
        if atomic:
            parent.environ[_ROLLBACK] = True

    def notify_changed(request: Any) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        events = _pending_events(request)
        for payload, impacted in events:
            registry.notify(ResourceChanged(payload, impacted, request))
        return events

    def subrequest(request: Any, parent: Any) -> Any:
        try:
            response = handler(request)
        except BaseException as e:
            # Only an HTTP error below 500 is a client error; any other exception becomes a
            # 500, whatever ``code`` attribute it may carry (SQLAlchemy's are strings).
            if not isinstance(e, HTTPException) or (e.code or 500) >= 500:
                doom(parent)
            raise
        if response.status_code < 400:
            try:
                events = notify_changed(request)
            except BaseException:
                # A subscriber refused this subrequest's writes, which the backends cannot
                # undo apart from the rest of the batch: the whole batch is rolled back.
                doom(parent)
                raise
            parent.environ.setdefault(_AFTER_EVENTS, []).extend(
                (payload, impacted, request) for payload, impacted in events
            )
        else:
            _pending_events(request)
            if response.status_code >= 500:
                doom(parent)
        return response

    def tween(request: Any) -> Any:
        parent = request.environ.get(_PARENT)
        if parent is not None:
            return subrequest(request, parent)
        if request.method in _SAFE_METHODS:
            # Reads need no unit of work (nor the write lock it takes on SQLite).
            return handler(request)
        for backend in backends:
            backend.begin()
        try:
            response = handler(request)
            if response.status_code >= 400 or batch_rolled_back(request):
                raise _Rollback(response)
            events = [(p, i, request) for p, i in notify_changed(request)]
        except _Rollback as rollback:
            _rollback(backends)
            return rollback.response
        except BaseException:
            _rollback(backends)
            raise
        try:
            for backend in backends:
                backend.commit()
        except BaseException:
            # Those not committed yet must not keep their half (rolling back a committed
            # unit of work does nothing).
            _rollback(backends)
            raise
        _notify_after(registry, request.environ.pop(_AFTER_EVENTS, []) + events)
        return response

    return tween


class _Rollback(Exception):
    def __init__(self, response: Any) -> None:
        self.response = response


def _rollback(backends: list[Any]) -> None:
    for backend in backends:
        backend.rollback()


def _notify_after(registry: Any, events: list[tuple[dict[str, Any], list[Any], Any]]) -> None:
    for payload, impacted, request in events:
        try:
            registry.notify(AfterResourceChanged(payload, impacted, request))
        except Exception:
            logger = getattr(registry, "logger", None)
            if logger is not None:
                logger.error("event.subscriber.error", uri=payload["uri"], exc_info=True)
