"""The deployment key, loaded, or created only where nothing was ever sealed with one.

A key file that went missing (a restore without the keys folder, a careless clean-up) must not
be replaced silently by a new key: enrolment would go on under the new key while every row
sealed before stayed unreadable under either. So before a key is created, the main database
(and an earlier release's operators file, if still there) is asked which key ids its sealed
rows name (any column named ``key_id`` or ``*_key_id``); if any, the missing key is an error
naming them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import column as sql_column
from sqlalchemy import inspect, select, table
from sqlalchemy.engine import Engine

from mobileid.auth.crypto import load_or_create_key
from mobileid.auth.errors import DeploymentKeyError
from mobileid.config import Settings
from mobileid.database import open_engine, release_engine, sqlite_url

LEGACY_OPERATORS_FILE = "operators.sqlite3"


def deployment_key(settings: Settings, engine: Engine | None = None) -> bytes:
    """The deployment's key; a new one only when no sealed row exists yet. ``engine``: the
    main database's, when the caller holds it (else it is opened for the check)."""
    path = settings.deployment_key_path
    if not path.exists():
        needed = _sealed_in_main(settings, engine)
        legacy = settings.data_dir / LEGACY_OPERATORS_FILE
        if legacy.exists():
            needed |= sealed_key_ids(legacy)
        if needed:
            raise DeploymentKeyError(
                f"deployment key: expected the key file {path}, which sealed rows in the "
                f"database need (key id {', '.join(sorted(needed))}), got no file: restore it "
                "from the key backup (a new key would leave those rows unreadable)",
                field="key",
            )
    return load_or_create_key(path)


def _sealed_in_main(settings: Settings, engine: Engine | None) -> set[str]:
    if engine is not None:
        return sealed_in(engine)
    if settings.database_url is None and not settings.database_path.exists():
        return set()  # nothing written yet; do not create the file just to look
    opened = open_engine(settings.main_database)
    try:
        return sealed_in(opened)
    finally:
        release_engine(opened)


def sealed_key_ids(database: Path) -> set[str]:
    """Key ids named by sealed rows of a SQLite file (empty when there is none)."""
    if not database.exists():
        return set()
    engine = open_engine(sqlite_url(database))
    try:
        return sealed_in(engine)
    finally:
        release_engine(engine)


def sealed_in(engine: Engine) -> set[str]:
    """Key ids named by sealed rows of the database behind ``engine``."""
    found: set[str] = set()
    with engine.connect() as conn:
        inspector = inspect(conn)
        for name in inspector.get_table_names():
            if name.startswith("audit_"):
                continue  # the audit key ids name signing keys, not the deployment key
            columns = [c["name"] for c in inspector.get_columns(name)]
            for col in (c for c in columns if c == "key_id" or c.endswith("_key_id")):
                rows = table(name, sql_column(col))
                query = select(rows.c[col]).where(rows.c[col].is_not(None)).distinct()
                found |= {str(v) for v in conn.scalars(query)}
    return found
