"""Alembic migrations of a record source (run by :func:`mobileid.records.schema.upgrade`)."""
