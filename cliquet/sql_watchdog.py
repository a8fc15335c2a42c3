"""A client-side deadline on every PostgreSQL reply, kept by one watchdog thread per engine.

``statement_timeout`` is enforced by the server: a server that stops answering (a stuck
process, a hung pooler in front of it) while its host keeps the connection open and
acknowledges the bytes never cancels anything, and no TCP timeout fires either. Here the
client gives up on such a connection itself.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = ["bound_replies"]


class _NoReply(psycopg.OperationalError):
    """The server did not reply within the client's bound; the connection was broken."""


class _WatchedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server is given a deadline.

    psycopg runs each exchange with the server (a statement, a commit, a ping) through
    :meth:`wait`: arming the watchdog there covers them all, at the cost of two dict
    operations under an uncontended lock.
    """

    watchdog: _Watchdog
    timed_out = False

    def wait(self, *args: Any, **kwargs: Any) -> Any:
        if "timeout" in kwargs or len(args) > 2:
            return super().wait(*args, **kwargs)  # psycopg bounds this wait itself
        watchdog = self.watchdog
        watchdog.arm(self)
        try:
            return super().wait(*args, **kwargs)
        except psycopg.OperationalError as e:
            if self.timed_out:
                raise _NoReply(f"no reply from the server within {watchdog.seconds:g} s") from e
            raise
        finally:
            watchdog.disarm(self)


class _Watchdog:
    """The deadlines of one engine's PostgreSQL waits, and the thread that enforces them.

    A wait still running ``seconds`` after it started has its socket shut down from this thread,
    which makes the blocked call fail at once with a connection psycopg reports as broken.

    One thread serves the engine, started when a wait is armed and none runs, ending once
    nothing is armed. Every deadline is ``seconds`` after its arming, so the oldest entry
    is the next to expire and the thread never needs waking.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        # Armed connections, oldest first: the monotonic time each wait expires.
        self._deadlines: dict[_WatchedConnection, float] = {}
        self._running = False
        reference = weakref.ref(self)

        def in_child() -> None:
            # The parent's thread and waits are not the child's.
            watchdog = reference()
            if watchdog is not None:
                watchdog._lock, watchdog._deadlines = threading.Lock(), {}
                watchdog._running = False

        os.register_at_fork(after_in_child=in_child)

    def arm(self, connection: _WatchedConnection) -> None:
        with self._lock:
            self._deadlines[connection] = time.monotonic() + self.seconds
            if not self._running:
                self._running = True
                threading.Thread(
                    target=self._run, name="cliquet-sql-watchdog", daemon=True
                ).start()

    def disarm(self, connection: _WatchedConnection) -> None:
        # Under the lock: once a wait is disarmed, its socket is never shut down, so a file
        # descriptor closed and reused elsewhere cannot be.
        with self._lock:
            self._deadlines.pop(connection, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._deadlines:
                    connection, deadline = next(iter(self._deadlines.items()))
                    if deadline > now:
                        break
                    del self._deadlines[connection]
                    _break(connection)
                if not self._deadlines:
                    self._running = False
                    return
                pause = deadline - now
            time.sleep(pause)


def _break(connection: _WatchedConnection) -> None:
    """Shut ``connection``'s socket down, failing the wait blocked on it."""
    connection.timed_out = True
    try:
        sock = socket.fromfd(connection.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except (OSError, psycopg.Error):
        return  # already closed
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()  # the duplicate descriptor; the connection keeps its own


def bound_replies(engine: Engine, seconds: float) -> None:
    """Open ``engine``'s connections as :class:`_WatchedConnection` with a deadline of
    ``seconds`` on every reply."""
    watchdog = _Watchdog(seconds)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        connection = _WatchedConnection.connect(*cargs, **cparams)
        connection.watchdog = watchdog
        return connection

    @event.listens_for(engine, "handle_error")
    def _handle_error(context: Any) -> None:
        if getattr(context, "is_pre_ping", False) and isinstance(
            context.original_exception, _NoReply
        ):
            # A ping that waited out the bound already cost the request its time: the pool
            # drops that connection and the request fails, rather than also waiting out a
            # connect to a server that is not answering.
            context.is_disconnect = False
