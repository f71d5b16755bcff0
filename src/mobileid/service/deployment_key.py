"""The deployment key, loaded, or created only where nothing was ever sealed with one.

A key file that went missing (a restore without the keys folder, a careless clean-up) must not
be replaced silently by a new key: enrolment would go on under the new key while every row
sealed before stayed unreadable under either. So before a key is created, the databases of the
data folder are asked which key ids their sealed rows name (any column named ``key_id`` or
``*_key_id``); if any, the missing key is an error naming them.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from mobileid.auth.crypto import load_or_create_key
from mobileid.auth.errors import DeploymentKeyError
from mobileid.config import Settings


def deployment_key(settings: Settings) -> bytes:
    """The deployment's key; a new one only when no sealed row exists yet."""
    path = settings.deployment_key_path
    if not path.exists():
        databases = [settings.database_path, settings.data_dir / "operators.sqlite3"]
        needed = sorted(set().union(*(sealed_key_ids(db) for db in databases)))
        if needed:
            raise DeploymentKeyError(
                f"deployment key: expected the key file {path}, which sealed rows in the "
                f"database need (key id {', '.join(needed)}), got no file: restore it from "
                "the key backup (a new key would leave those rows unreadable)",
                field="key",
            )
    return load_or_create_key(path)


def sealed_key_ids(database: Path) -> set[str]:
    """Key ids named by sealed rows of a SQLite database (empty when there is none)."""
    if not database.exists():
        return set()
    uri = f"file:{database}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found: set[str] = set()
        for table in tables:
            if table.startswith("audit_"):
                continue  # the audit key ids name signing keys, not the deployment key
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            for col in (c for c in columns if c == "key_id" or c.endswith("_key_id")):
                rows = db.execute(
                    f'SELECT DISTINCT "{col}" FROM "{table}" WHERE "{col}" IS NOT NULL'
                )
                found |= {str(r[0]) for r in rows}
    return found
