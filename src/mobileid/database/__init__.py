"""Databases: engines opened by URL in one place, and the main database's migrations."""

from mobileid.database.engines import (
    Database,
    backend_name,
    engine_url,
    open_engine,
    release_engine,
    sqlite_url,
)
from mobileid.database.schema import (
    Where,
    attach,
    close_database,
    head_revision,
    open_database,
    upgrade,
)
from mobileid.database.unit_of_work import UnitOfWork

__all__ = [
    "Database",
    "UnitOfWork",
    "Where",
    "attach",
    "backend_name",
    "close_database",
    "engine_url",
    "head_revision",
    "open_database",
    "open_engine",
    "release_engine",
    "sqlite_url",
    "upgrade",
]
