"""Alembic environment of the main database: runs on the connection ``schema.upgrade`` hands in."""

from __future__ import annotations

from alembic import context

from mobileid.database.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
