"""Engines of record sources: the same code on SQLite and PostgreSQL, chosen by URL.

Engines come from :mod:`mobileid.database` (one pool per URL per process); a source's waits
(locks, connecting, statements) end after its ``timeout_s``.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from mobileid.database import engine_url
from mobileid.database import open_engine as open_shared_engine

__all__ = ["describe_failure", "engine_url", "open_engine"]


def describe_failure(exc: BaseException) -> str:
    """One line a person can act on, for a source that failed."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig).strip().splitlines()
        return f"{type(exc.orig).__name__}: {text[0] if text else 'database error'}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def open_engine(raw_url: str, timeout_s: float) -> Engine:
    """The shared engine of a source's URL whose waits end after ``timeout_s`` (release it
    with ``mobileid.database.release_engine``)."""
    return open_shared_engine(raw_url, timeout_s=timeout_s)
