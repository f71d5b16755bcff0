"""Operators kept in their own file by earlier releases (``DATA_DIR/operators.sqlite3``).

They now live in the main database, so that an operator change and its audit entry commit
together. When a data folder still holds the old file, its rows are copied into the main
database in one transaction (only into a database that has no operators yet: copying twice
would be refused by the unique names anyway), and the file is then deleted: a stale copy would
keep disabled accounts, and TOTP secrets sealed under a key that a rotation has retired.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import Table, column, func, insert, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection, Engine

from mobileid.auth.store import (
    ApiTokenRow,
    ClockRow,
    EntitlementRow,
    OperatorRow,
    SessionRow,
)

# Parents before children (foreign keys).
_TABLES: tuple[Table, ...] = tuple(
    row.__table__  # type: ignore[misc]
    for row in (OperatorRow, EntitlementRow, SessionRow, ApiTokenRow, ClockRow)
)


def adopt_operators_file(path: Path, engine: Engine) -> int:
    """Copy the operators file at ``path`` into the main database and delete it; returns the
    number of operators copied (0, and the file left alone, when there is none to copy or the
    main database already has operators)."""
    if not path.exists():
        return 0
    with engine.begin() as conn:
        if conn.scalar(select(func.count()).select_from(OperatorRow.__table__)):
            return 0
        copied = 0
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as old:
            old.row_factory = sqlite3.Row
            present = {r[0] for r in old.execute("SELECT name FROM sqlite_master")}
            for table in _TABLES:
                if table.name not in present:
                    continue
                rows = [dict(r) for r in old.execute(f'SELECT * FROM "{table.name}"')]
                known = [c.name for c in table.c if rows and c.name in rows[0]]
                if rows:
                    # Untyped columns: the stored text and bytes are copied as they are.
                    raw = sa_table(table.name, *(column(c) for c in known))
                    conn.execute(insert(raw), [{c: r[c] for c in known} for r in rows])
                    _advance_serial(conn, table)
                if table is _TABLES[0]:
                    copied = len(rows)
    path.unlink()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return copied


def _advance_serial(conn: Connection, table: Table) -> None:
    """PostgreSQL hands out ids from a sequence that rows copied with their ids did not move."""
    if conn.dialect.name != "postgresql" or "id" not in table.c:
        return
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f'(SELECT COALESCE(MAX(id), 1) FROM "{table.name}"))'
        )
    )
