"""A request's unit of work: one transaction of the ``transaction`` package, run by pyramid_tm.

pyramid_tm begins a transaction for each writing request (a batch and its subrequests share
one), commits it when the answer is below 400 and aborts it otherwise; a commit that fails is
answered by the exception views (503 errno 201). The backends join that transaction as data
managers: the SQL ones through zope.sqlalchemy, when first used (:class:`cliquet.sql.UnitOfWork`),
any other backend with a ``begin``/``commit``/``rollback`` of its own (memory, a third-party
one) through :class:`ContractDataManager`. Reads (``GET``, ``HEAD``, ``OPTIONS``) get no
transaction: each of their calls stands alone, and on SQLite they never wait for the writers.

Each registry has its :class:`TransactionManager`: explicit (nothing can touch a transaction
that was not begun) and per thread, as the requests a thread serves are.
"""

from __future__ import annotations

from typing import Any

import transaction
from transaction._transaction import Status
from transaction.interfaces import NoTransaction

__all__ = [
    "ContractDataManager",
    "TransactionManager",
    "current_transaction",
    "includeme",
    "transaction_manager",
]

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
# Statuses of a transaction that backends may still join: not committing nor committed
# (AfterResourceChanged subscribers run in after-commit hooks, outside any unit of work).
_OPEN = (Status.ACTIVE, Status.DOOMED)


class TransactionManager(transaction.ThreadTransactionManager):
    """An explicit transaction manager per thread, whose transactions the ``backends`` join.

    ``backends`` (shared by every thread, filled at start-up) are those joined through
    :class:`ContractDataManager` as each transaction begins.
    """

    def __init__(self, backends: list[Any] | None = None) -> None:
        # threading.local runs this in each thread, with the same arguments.
        self.manager = transaction.TransactionManager(explicit=True)
        self.backends = backends if backends is not None else []
        self._joiner = _Joiner(self.backends)  # synchronizers are weakly referenced
        self.manager.registerSynch(self._joiner)

    def begin(self) -> Any:
        """Begin the thread's transaction, once one left over by the thread is aborted.

        pyramid_tm answers a failed commit with the exception views and leaves that
        transaction to the manager, as it leaves one that a ``BaseException`` (not an
        ``Exception``) interrupted: explicit, the manager would refuse to begin the next
        request's, and every later request of the thread would fail.
        """
        left = self.manager._txn
        if left is not None:
            left.abort()
        return self.manager.begin()


def current_transaction(manager: Any) -> Any:
    """The transaction the calling thread may write in, or None (no unit of work)."""
    try:
        txn = manager.get()
    except NoTransaction:
        return None
    return txn if txn.status in _OPEN else None


def transaction_manager(registry: Any) -> TransactionManager:
    """The :class:`TransactionManager` of ``registry``, made on first use."""
    manager: TransactionManager | None = getattr(registry, "cliquet_transaction_manager", None)
    if manager is None:
        manager = TransactionManager()
        registry.cliquet_transaction_manager = manager
    return manager


class ContractDataManager:
    """Runs backends' ``begin``/``commit``/``rollback`` as one data manager of a transaction.

    For backends that keep their own unit of work (the memory ones' undo logs, a third-party
    backend written against the contract): begun with the transaction, committed in order
    when it votes (before the SQL data managers, which sort last), rolled back when it
    aborts. When one fails to commit, those not committed yet roll back (as do the SQL ones).
    """

    transaction_manager = None

    def __init__(self, backends: list[Any]) -> None:
        self.backends = list(backends)
        for backend in self.backends:
            backend.begin()

    def _rollback(self) -> None:
        for backend in self.backends:
            backend.rollback()

    def abort(self, txn: Any) -> None:
        self._rollback()

    def tpc_begin(self, txn: Any) -> None:
        pass

    def commit(self, txn: Any) -> None:
        pass

    def tpc_vote(self, txn: Any) -> None:
        for backend in self.backends:
            backend.commit()

    def tpc_finish(self, txn: Any) -> None:
        pass

    def tpc_abort(self, txn: Any) -> None:
        self._rollback()  # a committed one's rollback does nothing

    def sortKey(self) -> str:
        return f"cliquet.contract:{id(self)}"


class _Joiner:
    """A synchronizer joining the contract backends to each new transaction."""

    def __init__(self, backends: list[Any]) -> None:
        self.backends = backends

    def newTransaction(self, txn: Any) -> None:
        if self.backends:
            txn.join(ContractDataManager(self.backends))

    def beforeCompletion(self, txn: Any) -> None:
        pass

    def afterCompletion(self, txn: Any) -> None:
        pass


def _joins_by_contract(backend: Any) -> bool:
    """Whether ``backend`` keeps a unit of work of its own that no data manager runs."""
    from cliquet.permission import PermissionBase
    from cliquet.storage import StorageBase

    if getattr(backend, "joins_transactions", False):
        return False
    return type(backend).begin not in (StorageBase.begin, PermissionBase.begin)


def _manager_of(request: Any) -> TransactionManager:
    """pyramid_tm's ``tm.manager_hook``: the registry's manager."""
    return transaction_manager(request.registry)


def _activate(request: Any) -> bool:
    """pyramid_tm's ``tm.activate_hook``: a transaction for each top-level writing request.

    Reads need none (nor the write lock it takes on SQLite); a batch's subrequests run in
    the batch's.
    """
    return request.method not in _SAFE_METHODS and "cliquet.parent_request" not in request.environ


def includeme(config: Any) -> None:
    """Run each writing request in a transaction (pyramid_tm), with the resource events."""
    from pyramid.tweens import EXCVIEW
    from pyramid_tm import default_commit_veto

    registry = config.registry
    manager = transaction_manager(registry)
    for name in ("storage", "permission"):
        backend = getattr(registry, name, None)
        if backend is not None and _joins_by_contract(backend) and backend not in manager.backends:
            manager.backends.append(backend)
    defaults = {
        "tm.manager_hook": _manager_of,
        "tm.activate_hook": _activate,
        # 4xx and 5xx answers roll back, as does a doomed transaction (a failed batch).
        "tm.commit_veto": default_commit_veto,
        # Authentication runs inside the views, where its errors are answered.
        "tm.annotate_user": False,
    }
    for key, value in defaults.items():
        registry.settings.setdefault(key, value)
    config.include("pyramid_tm")
    # Under the exception views: a subscriber refusing a write is answered as any error.
    config.add_tween("cliquet.events.resource_events_tween_factory", under=EXCVIEW)
    engines = getattr(registry, "cliquet_sql_engines", None) or {}
    if any(engine.dialect.name == "postgresql" for engine in engines.values()):
        # A request's reads share one connection per engine (see cliquet.sql.held_reads).
        config.add_tween(
            "cliquet.sql.held_reads_tween_factory", over="pyramid_tm.tm_tween_factory"
        )
