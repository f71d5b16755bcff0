"""A client-side bound on every exchange with a PostgreSQL server, for a server gone silent.

The server ends a statement or a lock wait that runs past its own limit (``statement_timeout``,
``lock_timeout``) and libpq bounds connecting. Neither helps once a connection is open and
the server stops answering (a hung or stopped server process, a network that swallows
bytes): libpq has no read timeout, and the request thread would wait for ever.

So each connection is a ``WatchedConnection``: every wait for the server (a statement, a
COMMIT or ROLLBACK, a COPY) carries a deadline of its own, kept by psycopg's
own wait loop, so no other thread touches the socket. The deadline sits well past the
server's own limit (``silence_bound``), so a slow server that is still alive always answers
first, with its own error. When it passes, the connection is closed (its state is unknown),
SQLAlchemy sees a closed connection and invalidates it and the pool's older ones, and
``faults.faults_as_unavailable`` turns the error into BackendUnavailable. The transaction is
rolled back by the server when the socket closes, so nothing is half-written; a COMMIT whose
answer never came says that its outcome is unknown.

The pool checks a connection it hands out again (``check_on_checkout``) under a shorter bound,
``ping_bound``: a ping holds no lock and runs nothing the server's limits could end, so a live
server answers it in milliseconds, and a request arriving while the server is silent fails
after about the limit instead of the silence bound plus a new connection attempt.

The deadline rests on two parts of psycopg that are not in its documented API: the
``timeout`` of ``Connection.wait`` and the ``errors._WaitTimeout`` it raises (psycopg 3.3).
libpq's public options cannot stand in for them (TCP keepalives and ``tcp_user_timeout`` are
answered by the server's kernel while its process is hung), nor can a watchdog thread (it
would touch the socket psycopg is using). So pyproject.toml keeps psycopg to the 3.3 series,
and importing this module checks that both parts are there: an ``except`` naming a missing
``_WaitTimeout`` would otherwise fail only when a server goes silent, the worst moment.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any, TypeVar, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import PQGen
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InvalidatePoolError

RV = TypeVar("RV")

# Past the server's own limit, at least this long and at least the limit again: on a loaded
# machine the server's own error (its timer starts when it reads the statement, and it must
# be scheduled to send it) may come well after the limit, and must still come first.
MIN_GRACE_S = 5.0
# The shortest wait for a ping, however small the limit: a loaded machine must still be able
# to schedule the server's answer.
MIN_PING_S = 1.0
# psycopg's own interval for waking up to notice Ctrl-C inside a wait.
_INTERVAL_S = 0.1
# The psycopg series whose private wait timeout this module relies on (pyproject.toml pins it).
PSYCOPG_NEEDED = ">=3.3,<3.4"


def require_wait_timeout() -> None:
    """ImportError naming the psycopg needed unless the installed one has ``Connection.wait``
    with a ``timeout`` and ``errors._WaitTimeout``. An ImportError, not one of mobileid's
    errors: like a missing package, it is a broken installation, found when a process
    starts, that no request or retry can mend."""
    waits = "timeout" in inspect.signature(psycopg.Connection.wait).parameters
    if not waits or not isinstance(getattr(pg_errors, "_WaitTimeout", None), type):
        raise ImportError(
            f"psycopg: expected psycopg{PSYCOPG_NEEDED} (mobileid bounds each wait for a "
            "PostgreSQL server with its Connection.wait timeout and errors._WaitTimeout), got "
            f"psycopg {psycopg.__version__} without them: pip install "
            f"'psycopg[binary]{PSYCOPG_NEEDED}'",
            name="psycopg",
        )


require_wait_timeout()


def silence_bound(limit_s: float) -> float:
    """How long a connection whose server limit is ``limit_s`` waits for any answer."""
    return limit_s + max(limit_s, MIN_GRACE_S)


def ping_bound(limit_s: float) -> float:
    """How long the pool's check of a pooled connection waits for an answer."""
    return max(limit_s, MIN_PING_S)


class ServerSilent(psycopg.OperationalError):
    """The server sent nothing within the bound: the connection was closed."""


class WatchedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after ``bound_s``."""

    bound_s: float | None = None  # None: unbounded (set once connected, or by ``unbounded``)
    handed_out = False  # by the pool, at least once: its next checkout pings it

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
    event.listen(engine.pool, "checkout", check_on_checkout(engine, limit_s))


def check_on_checkout(engine: Engine, limit_s: float) -> Any:
    """A pool ``checkout`` listener (in place of SQLAlchemy's ``pool_pre_ping``, whose ping
    waits as long as a statement) that pings a pooled connection before handing it out again.

    A connection the server closed (a restart, an administrator's ``pg_terminate_backend``, a
    reset) fails the ping at once: the pool replaces it with a new connection, bounded by
    libpq's ``connect_timeout``, and the request does not notice. A ping with no answer
    within ``ping_bound`` (a server or network gone silent) closes the connection and fails
    the request (``faults.faults_as_unavailable`` makes it BackendUnavailable) rather than
    trying a new connection too: a server that does not answer a ping on an open connection
    would most likely let a new one wait out ``connect_timeout`` as well, doubling the wait
    (a healthy server behind a lost path, such as a firewall that dropped an idle connection,
    costs one failed request per pooled connection so lost, each then replaced).

    A ping that fails at once invalidates the whole pool, not only the connection pinged:
    when one pooled connection finds its server gone (stopped, restarted, failed over), the
    others, opened before, went with it. Each is then replaced on its next checkout without a
    ping of its own, so after a restart one request notices, not one per pooled connection,
    and while the server is down each request fails on its first connection attempt."""
    bound = ping_bound(limit_s)

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if not isinstance(dbapi_conn, WatchedConnection):
            return
        if not dbapi_conn.handed_out:  # it has just answered the connection's handshake
            dbapi_conn.handed_out = True
            return
        statement_bound, dbapi_conn.bound_s = dbapi_conn.bound_s, bound
        try:
            engine.dialect.do_ping(cast(Any, dbapi_conn))  # an empty query, outside a transaction
        except ServerSilent:
            raise
        except psycopg.Error as exc:
            raise InvalidatePoolError(f"pooled connection lost: {exc}") from exc
        finally:
            dbapi_conn.bound_s = statement_bound

    return checkout


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


@contextlib.contextmanager
def limited(conn: Connection, limit_s: float) -> Iterator[None]:
    """Inside the block, in the transaction ``conn`` has begun, the server's statement limit
    and the client's bound on waits are those of ``limit_s`` instead of the engine's: work
    known to take longer than a request's statements (counting millions of rows) that must
    still end. Nothing changes on another engine (SQLite sets no statement limit)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, WatchedConnection):
        yield
        return
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(limit_s * 1000)}")
    bound, raw.bound_s = raw.bound_s, silence_bound(limit_s)
    try:
        yield
    finally:
        raw.bound_s = bound
