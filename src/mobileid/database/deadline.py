"""A client-side bound on every exchange with a PostgreSQL server, for a server gone silent.

The server ends a statement or a lock wait that runs past its own limit (``statement_timeout``,
``lock_timeout``) and libpq bounds connecting. Neither helps once a connection is open and
the server stops answering (a hung or stopped server process, a network that swallows
bytes): libpq has no read timeout, and the request thread would wait for ever.

So each connection is a ``WatchedConnection``: every wait for the server (a statement, a
COMMIT or ROLLBACK, the pool's ping, a COPY) carries a deadline of its own, kept by psycopg's
own wait loop, so no other thread touches the socket. The deadline sits well past the
server's own limit (``silence_bound``), so a slow server that is still alive always answers
first, with its own error. When it passes, the connection is closed (its state is unknown),
SQLAlchemy sees a closed connection and invalidates it and the pool's older ones, and
``engines.faults_as_unavailable`` turns the error into BackendUnavailable. The transaction is
rolled back by the server when the socket closes, so nothing is half-written; a COMMIT whose
answer never came says that its outcome is unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import PQGen
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

RV = TypeVar("RV")

# Past the server's own limit, at least this long and at least the limit again: on a loaded
# machine the server's own error (its timer starts when it reads the statement, and it must
# be scheduled to send it) may come well after the limit, and must still come first.
MIN_GRACE_S = 5.0
# psycopg's own interval for waking up to notice Ctrl-C inside a wait.
_INTERVAL_S = 0.1


def silence_bound(limit_s: float) -> float:
    """How long a connection whose server limit is ``limit_s`` waits for any answer."""
    return limit_s + max(limit_s, MIN_GRACE_S)


class ServerSilent(psycopg.OperationalError):
    """The server sent nothing within the bound: the connection was closed."""


class WatchedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after ``bound_s``."""

    bound_s: float | None = None  # None: unbounded (set once connected, or by ``unbounded``)

    def wait(
        self, gen: PQGen[RV], interval: float = _INTERVAL_S, timeout: float | None = None
    ) -> RV:
        bound = self.bound_s
        if bound is not None and (timeout is None or timeout > bound):
            timeout = bound
        try:
            return super().wait(gen, interval, timeout)
        except pg_errors._WaitTimeout:
            if bound is None or timeout != bound:
                raise  # a caller's own shorter timeout: theirs to handle
            # The exchange stopped half-way: the connection cannot be used again.
            self.pgconn.finish()
            raise ServerSilent(
                f"no answer from the server within {bound:g} s (the connection was closed)"
            ) from None

    def commit(self) -> None:
        try:
            super().commit()
        except ServerSilent as exc:
            raise ServerSilent(
                f"{exc} while committing: whether the transaction was committed is unknown"
            ) from None


def watch_silence(engine: Engine, limit_s: float) -> None:
    """Open every connection of ``engine`` (PostgreSQL, psycopg) as a ``WatchedConnection``
    bounded by ``silence_bound(limit_s)``."""
    bound = silence_bound(limit_s)

    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> WatchedConnection:
        conn = WatchedConnection.connect(*cargs, **cparams)
        conn.bound_s = bound
        return conn

    event.listen(engine, "do_connect", connect)


@contextlib.contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """Waits on ``conn`` inside the block are not bounded (work that lifts the server's own
    limits too, such as a migration building an index over millions of rows)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, WatchedConnection):
        yield
        return
    bound, raw.bound_s = raw.bound_s, None
    try:
        yield
    finally:
        raw.bound_s = bound
