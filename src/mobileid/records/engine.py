"""SQLAlchemy engines for record sources: the same code on SQLite and PostgreSQL, chosen by URL.

Only this module knows engine-specific settings (SQLite pragmas, PostgreSQL timeouts).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError


def describe_failure(exc: BaseException) -> str:
    """One line a person can act on, for a source that failed."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig).strip().splitlines()
        return f"{type(exc.orig).__name__}: {text[0] if text else 'database error'}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def engine_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver, the one mobileid installs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_engine(raw_url: str, timeout_s: float) -> Engine:
    """An engine whose waits (locks, connecting, statements) end after ``timeout_s``."""
    url = make_url(engine_url(raw_url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout_s})
        busy_ms = int(timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    if url.get_backend_name() == "postgresql":
        # A source that hangs must not hold a worker thread for ever: the server ends any
        # statement that runs past the timeout, and connecting gives up after it too.
        return create_engine(
            url,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": max(1, round(timeout_s)),
                "options": f"-c statement_timeout={int(timeout_s * 1000)}",
            },
        )
    return create_engine(url)
