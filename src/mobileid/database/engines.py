"""The one place mobileid opens database engines: by URL, one pool per URL per process.

Every store (galleries, audit log, operators, training records, record sources) asks here, so
that a process holds one connection pool per database whatever number of stores use it, and
engine-specific settings (SQLite pragmas, PostgreSQL timeouts) live in this module only.

Engines are counted: each ``open_engine`` is matched by one ``release_engine``, and the pool
is disposed of when the last user releases it. A forked child forgets its parent's engines
(their connections belong to the parent) and opens its own.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from mobileid.breaker import Breaker, breaker_for
from mobileid.database.deadline import watch_silence
from mobileid.errors import BackendUnavailable, InvalidArgument

# How long a writer waits for SQLite's write lock, and on PostgreSQL a connection attempt, a
# row or table lock and one statement, before giving up with an error instead of hanging.
DEFAULT_TIMEOUT_S = 10.0
# libpq counts connect_timeout in whole seconds and treats anything under 2 as 2.
_MIN_CONNECT_S = 2


@dataclass
class _Held:
    engine: Engine
    users: int


_lock = threading.Lock()
_engines: dict[tuple[str, float | None], _Held] = {}


@dataclass(frozen=True)
class Database:
    """A database to open: its URL and the bound on each of its waits (seconds; None: the
    default). How settings name the main database (``Settings.main_database``), so that every
    command, store and worker opening it from settings waits as long as the deployment said,
    and shares one pool."""

    url: str
    timeout_s: float | None = None

    def __repr__(self) -> str:  # the URL may hold the password of the password file
        return f"Database({redacted(self.url)!r}, timeout_s={self.timeout_s!r})"


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite file at ``path``."""
    return f"sqlite:///{path}"


def engine_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver, the one mobileid installs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SUPPORTED = ("sqlite", "postgresql")


def backend_name(url: str) -> str:
    """The engine a URL names, "sqlite" or "postgresql" (InvalidArgument for anything else)."""
    try:
        name = make_url(engine_url(url)).get_backend_name()
    except ArgumentError:
        name = None
    if name not in SUPPORTED:
        raise InvalidArgument(
            "database URL: expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB, got "
            f"{redacted(url)!r}",
            field="database_url",
        )
    return str(name)


def redacted(url: str) -> str:
    """The URL with any password hidden (for messages and logs)."""
    try:
        return make_url(engine_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def with_password_file(url: str, password_file: Path | None) -> str:
    """``url`` with the password read from ``password_file`` (a Docker or Kubernetes secret;
    trailing newlines dropped, as PostgreSQL's own ``POSTGRES_PASSWORD_FILE`` does), so that
    the password is in no environment variable, command line or compose file. The result
    holds the password: show it only through ``redacted``."""
    if password_file is None:
        return url
    field = "database_password_file"
    parsed = make_url(engine_url(url))
    if parsed.get_backend_name() != "postgresql":
        raise InvalidArgument(
            "MOBILEID_DATABASE_PASSWORD_FILE: expected a postgresql:// database URL beside it, "
            f"got {redacted(url)!r}",
            field=field,
        )
    if parsed.password is not None:
        raise InvalidArgument(
            "MOBILEID_DATABASE_PASSWORD_FILE: expected a database URL without a password beside "
            f"it (one or the other), got {redacted(url)!r}",
            field=field,
        )
    try:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidArgument(
            f"MOBILEID_DATABASE_PASSWORD_FILE: expected a readable file, got {str(password_file)!r}"
            f" ({why})",
            field=field,
        ) from None
    if not password:
        raise InvalidArgument(
            "MOBILEID_DATABASE_PASSWORD_FILE: expected a password, got an empty file "
            f"{str(password_file)!r}",
            field=field,
        )
    return parsed.set(password=password).render_as_string(hide_password=False)


def open_engine(where: str | Database, *, timeout_s: float | None = None) -> Engine:
    """The process's engine for ``where`` (a URL, or a ``Database`` with its own bound; created
    on first use; release it when done).

    ``timeout_s`` bounds every wait: SQLite's write lock; on PostgreSQL connecting, each lock
    and each statement (None: the ``Database``'s bound, else ``DEFAULT_TIMEOUT_S``).
    """
    url, timeout_s = unpack(where, timeout_s)
    backend_name(url)  # a clear error for a URL nobody can read
    wait = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    if not 0 < wait < math.inf:  # 0 would mean "no limit" to PostgreSQL
        raise InvalidArgument(
            f"database timeout: expected seconds > 0, got {timeout_s!r}", field="database_timeout_s"
        )
    key = (engine_url(url), wait)
    with _lock:
        held = _engines.get(key)
        if held is None:
            held = _engines[key] = _Held(_create(key[0], key[1]), 0)
        held.users += 1
        return held.engine


def unpack(where: str | Database, timeout_s: float | None = None) -> tuple[str, float | None]:
    """(URL, bound) of ``where``; an explicit ``timeout_s`` wins over a ``Database``'s own."""
    if isinstance(where, Database):
        return where.url, where.timeout_s if timeout_s is None else timeout_s
    return where, timeout_s


def release_engine(engine: Engine) -> None:
    """One user fewer; the last one disposes of the pool (its connections close)."""
    with _lock:
        for key, held in list(_engines.items()):
            if held.engine is engine:
                held.users -= 1
                if held.users <= 0:
                    del _engines[key]
                    engine.dispose()
                return
    engine.dispose()  # not one of ours (already released): still let its connections go


def open_count() -> int:
    """How many engines this process holds (tests check that stores share them)."""
    with _lock:
        return len(_engines)


class BoundedPool(QueuePool):
    """A connection pool whose wait for a free connection (every one in use by other
    requests) ends after the engine's timeout with BackendUnavailable, as a lock wait does,
    instead of SQLAlchemy's own 30 s and its own error."""

    where = "the database"  # a pool does not know its engine's URL: see ``_pool``
    breaker: Breaker | None = None  # a server's (PostgreSQL): fail fast while it is open

    def _do_get(self) -> ConnectionPoolEntry:
        if self.breaker is not None:
            self.breaker.admit()  # before any wait: a free connection, a new one, a ping
        try:
            return super()._do_get()
        except PoolTimeout as exc:
            raise BackendUnavailable(
                f"database: expected a free connection to {self.where} within "
                f"{self._timeout:g} s, got all {self.size() + self._max_overflow} in use "
                "(more requests at once than this process's pool holds)",
                field="database_url",
            ) from exc


def server_breaker(url: str) -> Breaker:
    """The process's circuit breaker of the database server at ``url`` (one per URL, shared
    by its engines of any bound)."""
    parsed = make_url(engine_url(url))
    key = parsed.render_as_string(hide_password=False)
    return breaker_for(key, parsed.render_as_string(hide_password=True))


def _pool(url: str, wait: float, breaker: Breaker | None = None) -> dict[str, Any]:
    """``create_engine``'s arguments for a bounded pool of ``url``. The pool class names the
    database itself (and holds its breaker), so a pool recreated after ``dispose`` still
    does."""
    where = make_url(url).render_as_string(hide_password=True)
    return {
        "poolclass": type("BoundedPool", (BoundedPool,), {"where": where, "breaker": breaker}),
        "pool_timeout": wait,
    }


def _create(url: str, wait: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = not parsed.database or parsed.database == ":memory:"
        if not memory:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        pool = {} if memory else _pool(url, wait)  # one in-memory database per connection
        engine = create_engine(parsed, connect_args={"timeout": wait}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas(int(wait * 1000)))
        return engine
    if parsed.get_backend_name() == "postgresql":
        # A server that hangs, or a lock another transaction keeps (the audit head row that
        # serialises appends), must not hold a worker thread for ever: the server ends a lock
        # wait or a statement that runs past the limit, libpq a connection attempt.
        ms = int(wait * 1000)
        args: dict[str, Any] = {
            "connect_timeout": max(_MIN_CONNECT_S, math.ceil(wait)),
            "options": f"-c lock_timeout={ms} -c statement_timeout={ms}",
        }
        breaker = server_breaker(url)
        engine = create_engine(parsed, connect_args=args, **_pool(url, wait, breaker))
        watch_silence(engine, wait)  # a server that stops answering; pooled ones checked
        # A connection handed out (new, or pooled and answering its ping): the server is there.
        event.listen(engine.pool, "checkout", lambda *_: breaker.answered())
        return engine
    return create_engine(parsed)


def _sqlite_pragmas(busy_ms: int) -> Any:
    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        # An audit entry or an enrolment that was committed stays committed after a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        # Deleted rows are overwritten with zeros, not left in free pages: a purge or a
        # deletion removes the data from the file, not just from the tables.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    return pragmas


def _forget_after_fork() -> None:
    # The parent's pooled connections must not be used (or closed) by the child, and a lock
    # another thread held at the fork would never be released in it.
    global _lock
    _lock = threading.Lock()
    for held in _engines.values():
        held.engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
