"""The main database's migrations build exactly the schema the code declares, on each engine."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData

import mobileid.gallery.change_logs
import mobileid.gallery.changes
import mobileid.gallery.finger_changes
import mobileid.gallery.finger_rows
import mobileid.gallery.photos  # noqa: F401 - their tables join the gallery's metadata
from mobileid.audit.tables import AuditBase
from mobileid.auth.store import AuthBase
from mobileid.database import close_database, head_revision, open_database
from mobileid.database.schema import VERSION_TABLE, current_revision
from mobileid.gallery.store import Base
from mobileid.service.config_audit import _META as CONFIG_META
from mobileid.training.store import TrainingBase


def declared() -> MetaData:
    """Every table the code of the main database declares, in one metadata."""
    combined = MetaData()
    for meta in (Base.metadata, AuditBase.metadata, AuthBase.metadata, TrainingBase.metadata,
                 CONFIG_META):  # fmt: skip
        for table in meta.tables.values():
            table.to_metadata(combined)
    return combined


def test_a_new_database_is_migrated_to_what_the_code_declares(database_url: str) -> None:
    """On SQLite and PostgreSQL, a new database reaches the newest revision, and comparing it
    with the models finds no missing or extra table, column, index or type."""
    engine = open_database(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, declared())
        diffs = [d for d in diffs if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
        assert diffs == []
    finally:
        close_database(engine)
