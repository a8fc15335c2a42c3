"""Resource events, timed by the request's unit of work (see :mod:`cliquet.unit_of_work`).

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
from cliquet.unit_of_work import current_transaction, transaction_manager

__all__ = [
    "ACTIONS",
    "ResourceChanged",
    "AfterResourceChanged",
    "batch_rolled_back",
    "notify_resource_event",
    "resource_events_tween_factory",
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


_PENDING = "cliquet_pending_events"


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
    pending = request.__dict__.setdefault(_PENDING, {})
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
    return list(request.__dict__.pop(_PENDING, {}).values())


def batch_rolled_back(request: Any) -> bool:
    """Whether the unit of work of ``request`` (a batch) is doomed to roll back.

    True once one of its subrequests failed with a 5xx (or had its writes refused by a
    ``ResourceChanged`` subscriber) and every backend can roll back: none of the batch's
    writes will stay, so the batch must not answer 2xx.
    """
    txn = current_transaction(transaction_manager(request.registry))
    return txn is not None and bool(txn.isDoomed())


def _can_roll_back(backend: Any) -> bool:
    """Whether ``backend`` undoes writes on rollback (it overrides the contract's no-op)."""
    return type(backend).rollback not in (StorageBase.rollback, PermissionBase.rollback)


def resource_events_tween_factory(handler: Any, registry: Any) -> Any:
    """Notify the resource events of each (sub)request that succeeded.

    Runs inside the request's transaction (pyramid_tm's, a batch's for its subrequests),
    under the exception views: ``ResourceChanged`` once the view answered below 400, so
    that a subscriber raising is answered as any error and rolls the writes back;
    ``AfterResourceChanged`` from an after-commit hook, once the transaction committed.
    In a batch, when every backend can roll back, a 5xx subrequest or a subscriber refusing
    a subrequest dooms the transaction (see :func:`batch_rolled_back`); when one cannot
    (Redis), each subrequest stands alone and the batch commits what the others wrote.
    """
    manager = transaction_manager(registry)
    backends = [getattr(registry, name, None) for name in ("storage", "permission")]
    atomic = all(_can_roll_back(b) for b in backends if b is not None)

    def doom(request: Any) -> None:
        txn = current_transaction(manager)
        if atomic and txn is not None and "cliquet.parent_request" in request.environ:
            txn.doom()

    def tween(request: Any) -> Any:
        try:
            response = handler(request)
        except BaseException as e:
            # Only an HTTP error below 500 is a client error; any other exception becomes a
            # 500, whatever ``code`` attribute it may carry (SQLAlchemy's are strings).
            if not isinstance(e, HTTPException) or (e.code or 500) >= 500:
                doom(request)
            raise
        events = _pending_events(request)
        if response.status_code >= 400:
            if response.status_code >= 500:
                doom(request)
            return response
        if not events:
            return response
        try:
            for payload, impacted in events:
                registry.notify(ResourceChanged(payload, impacted, request))
        except BaseException:
            # A subscriber refused this (sub)request's writes, which the backends cannot
            # undo apart from the rest of the batch: the whole batch is rolled back.
            doom(request)
            raise
        txn = current_transaction(manager)
        after = [(payload, impacted, request) for payload, impacted in events]
        if txn is None:  # no unit of work (a backend without one): the writes are done
            _notify_after(True, registry, after)
        else:
            txn.addAfterCommitHook(_notify_after, (registry, after))
        return response

    return tween


def _notify_after(
    committed: bool, registry: Any, events: list[tuple[dict[str, Any], list[Any], Any]]
) -> None:
    if not committed:
        return
    for payload, impacted, request in events:
        try:
            registry.notify(AfterResourceChanged(payload, impacted, request))
        except Exception:
            logger = getattr(registry, "logger", None)
            if logger is not None:
                logger.error("event.subscriber.error", uri=payload["uri"], exc_info=True)
