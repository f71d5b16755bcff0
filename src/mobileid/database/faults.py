"""Faults of a PostgreSQL server as BackendUnavailable: which errors mean "the server cannot
answer now" (rather than "the request is wrong"), and what the reader of the error can do."""

from __future__ import annotations

from psycopg.errors import ConnectionTimeout
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError

from mobileid.database.deadline import ServerSilent
from mobileid.database.engines import server_breaker
from mobileid.errors import BackendUnavailable

# PostgreSQL error classes that mean "the server cannot answer now", not "the request is
# wrong": 08 connection, 53 out of resources (too many connections), 57 operator intervention
# (57014: a statement ran past statement_timeout; 57P01: shutting down), and 55P03 (a lock
# not granted within lock_timeout). A connection failure has no SQLSTATE at all.
_UNAVAILABLE_CLASSES = ("08", "53", "57")
_LOCK_NOT_AVAILABLE = "55P03"
_TOO_SLOW = (_LOCK_NOT_AVAILABLE, "57014")  # the server is up, but ended a wait at the limit


def faults_as_unavailable(engine: Engine) -> None:
    """From now on, a PostgreSQL server of ``engine`` that is down, unreachable, out of
    connections, or does not grant a lock or finish a statement within its time limit raises
    BackendUnavailable naming the database (never its password). The transaction it was in is
    rolled back by whoever opened it, so nothing is half-written. Other errors are unchanged."""
    if engine.dialect.name != "postgresql" or event.contains(engine, "handle_error", _unavailable):
        return
    event.listen(engine, "handle_error", _unavailable)


def _unavailable(ctx: ExceptionContext) -> None:
    if not isinstance(ctx.sqlalchemy_exception, OperationalError):
        return
    state = getattr(ctx.original_exception, "sqlstate", None)
    if state is None or state[:2] in _UNAVAILABLE_CLASSES or state == _LOCK_NOT_AVAILABLE:
        engine = ctx.engine
        where = engine.url.render_as_string(hide_password=True) if engine else "the database"
        lines = str(ctx.original_exception).strip().splitlines()
        error = BackendUnavailable(
            f"database: expected a reachable database at {where} answering within its time "
            f"limit, got {lines[0] if lines else type(ctx.original_exception).__name__} "
            f"({_advice(state)})",
            field="database_url",
        )
        if engine is not None:
            _tell_breaker(engine, ctx.original_exception, error)
        raise error from ctx.original_exception


# No answer within the client's bound (a statement, a COMMIT, the pool's ping) or libpq's
# connect_timeout: the host may be gone without closing anything, and the next request would
# wait as long. Everything else is an answer: a refused connection (the host is there, the
# server stopped: fails in milliseconds, and recovers at once after a start), a statement or
# lock timeout of one slow query, too many connections, a shutting-down server.
_SILENT = (ServerSilent, ConnectionTimeout)


def _tell_breaker(engine: Engine, original: BaseException, error: BackendUnavailable) -> None:
    breaker = server_breaker(engine.url.render_as_string(hide_password=False))
    if isinstance(original, _SILENT):
        breaker.failed(error)
    else:
        breaker.answered()


def _advice(state: str | None) -> str:
    """What the person who reads the error can do about it."""
    if state in _TOO_SLOW:
        return (
            "try again; if it keeps happening, look on the server for long transactions "
            "holding locks, or raise MOBILEID_DATABASE_TIMEOUT_S"
        )
    if state is not None and state[:2] == "53":
        return "try again; if it keeps happening, the server needs more connections or memory"
    return (  # no connection, or the server shutting down or starting
        "start the database server or restore the network to it: requests succeed again "
        "once it answers (a host that stopped answering is tried again after a cool-down "
        "of 2 to 30 s), without restarting mobileid"
    )
