"""The main database's schema: Alembic migrations, upgraded when the database is opened.

``open_database(url)`` is how every store of the main database gets its engine: the shared
engine of ``engines.open_engine``, brought to the newest migration the first time this process
opens it. Migrations live in ``migrations/`` inside the package and run programmatically (no
alembic.ini). Their version table has its own name, so a record source kept in the same
PostgreSQL database (which has migrations of its own) does not collide with it.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from mobileid.database.deadline import unbounded
from mobileid.database.engines import (
    Database,
    open_engine,
    redacted,
    release_engine,
    sqlite_url,
    unpack,
)
from mobileid.database.faults import faults_as_unavailable
from mobileid.errors import BackendUnavailable

VERSION_TABLE = "mobileid_schema_version"
# Any fixed number: the PostgreSQL advisory lock held while one process migrates, so that
# several replicas starting at once upgrade one after the other.
_MIGRATION_LOCK = 0x6D6F6269

_upgraded: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines brought to the head
_guard = threading.Lock()


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no migrations found in the mobileid package")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (a no-op when it is there), in one transaction."""
    cfg = _config()
    with engine.begin() as conn, unbounded(conn):  # it lifts the server's limits too
        _serialise(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _serialise(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # A migration may build an index over millions of rows, and a replica starting beside
        # one that migrates waits for it: neither is bounded by the per-statement limit.
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    elif conn.dialect.name == "sqlite":
        # Take the write lock before Alembic reads the version: two processes starting on a
        # fresh file must not both see "no tables" and both create them.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_database(where: str | Path | Database, *, timeout_s: float | None = None) -> Engine:
    """The engine of the main database at ``where`` (a URL, the path of a SQLite file, or a
    ``Database`` such as ``Settings.main_database``, which brings its own bound), upgraded to
    the newest migration on first use in this process; each wait for a lock, a connection or
    (PostgreSQL) a statement ends after ``timeout_s`` (None: the ``Database``'s bound, else the
    default) with BackendUnavailable. Release it with ``close_database``."""
    url, timeout_s = unpack(sqlite_url(where) if isinstance(where, Path) else where, timeout_s)
    engine = open_engine(url, timeout_s=timeout_s)
    faults_as_unavailable(engine)
    with _guard:
        if engine not in _upgraded:
            try:
                upgrade(engine)
            except OperationalError as exc:
                release_engine(engine)
                raise BackendUnavailable(
                    f"database: expected a reachable database at {redacted(url)}, got "
                    f"{str(exc.orig or exc).strip().splitlines()[0]}",
                    field="database_url",
                ) from exc
            except BaseException:
                release_engine(engine)
                raise
            _upgraded.add(engine)
    return engine


def close_database(engine: Engine) -> None:
    """Release an engine from ``open_database``."""
    release_engine(engine)


Where = Engine | str | Path | Database


def attach(where: Where) -> tuple[Engine, bool]:
    """(engine, whether the caller opened it and must close it): a store given an engine
    shares it; one given a URL, a path or a ``Database`` opens the main database there."""
    if isinstance(where, Engine):
        return where, False
    return open_database(where), True
