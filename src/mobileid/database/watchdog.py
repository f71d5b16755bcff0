"""A client-side bound on each PostgreSQL statement, for a server that stops answering.

The server ends a statement or a lock wait that runs past its limit (``statement_timeout``,
``lock_timeout``), and libpq bounds connecting. Neither helps once a connection is open and
the server process hangs or the network swallows the request: libpq waits for the answer for
ever, and the request thread with it. So each statement is watched: if no answer came a grace
period after the server's own limit would have ended it, its socket is shut down, the driver
raises at once, and ``faults_as_unavailable`` turns that into BackendUnavailable; the
transaction it was in is rolled back by whoever opened it, so nothing is half-written.

One thread per process keeps the deadlines. Work that must run longer (a migration building
an index) says so with ``unbounded``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# Past the server's own limit: its error, when it can still send one, comes first.
GRACE_S = 2.0
_UNBOUNDED = "mobileid_unbounded"


class _Deadlines:
    """Sockets to shut down at their deadlines, kept by one daemon thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, int]] = {}  # key -> (deadline, socket fd)
        self._thread: threading.Thread | None = None

    def arm(self, key: int, fd: int, after_s: float) -> None:
        with self._cond:
            self._due[key] = (time.monotonic() + after_s, fd)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self, key: int) -> None:
        with self._cond:
            self._due.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                late = [k for k, (t, _) in self._due.items() if t <= now]
                fds = [self._due.pop(k)[1] for k in late]
                if not fds:
                    soonest = min((t for t, _ in self._due.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
            for fd in fds:
                _shut(fd)


def _shut(fd: int) -> None:
    """Shut the socket down (for every descriptor of it): the driver's wait ends at once."""
    with contextlib.suppress(OSError):  # closed meanwhile: nothing left to end
        dup = socket.socket(fileno=os.dup(fd))
        try:
            dup.shutdown(socket.SHUT_RDWR)
        finally:
            dup.close()


_deadlines = _Deadlines()


def watch_statements(engine: Engine, limit_s: float) -> None:
    """Bound every statement on ``engine`` (PostgreSQL) to ``limit_s`` plus ``GRACE_S``."""

    def before(conn: Connection, cursor: Any, *_: Any) -> None:
        if conn.info.get(_UNBOUNDED):
            return
        fd = getattr(getattr(cursor.connection, "pgconn", None), "socket", None)
        if isinstance(fd, int):
            _deadlines.arm(id(cursor), fd, limit_s + GRACE_S)

    def after(conn: Connection, cursor: Any, *_: Any) -> None:
        _deadlines.disarm(id(cursor))

    def failed(ctx: Any) -> None:
        cursor = getattr(ctx, "cursor", None)  # absent when the pool's ping failed
        if cursor is not None:
            _deadlines.disarm(id(cursor))

    _watch_ping(engine, limit_s)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def _watch_ping(engine: Engine, limit_s: float) -> None:
    """The pool's check of a connection before handing it out (``pool_pre_ping``) talks to
    the server outside any statement event: watched the same way, it fails, and the pool then
    connects afresh (bounded by libpq's connect_timeout)."""
    ping = engine.dialect.do_ping

    def watched(dbapi_conn: Any) -> bool:
        fd = getattr(getattr(dbapi_conn, "pgconn", None), "socket", None)
        if isinstance(fd, int):
            _deadlines.arm(id(dbapi_conn), fd, limit_s + GRACE_S)
        try:
            return ping(dbapi_conn)
        finally:
            _deadlines.disarm(id(dbapi_conn))

    engine.dialect.do_ping = watched  # type: ignore[method-assign,assignment]


@contextlib.contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """Statements on ``conn`` inside the block are not watched (they set their own limits)."""
    conn.info[_UNBOUNDED] = True
    try:
        yield
    finally:
        conn.info.pop(_UNBOUNDED, None)
