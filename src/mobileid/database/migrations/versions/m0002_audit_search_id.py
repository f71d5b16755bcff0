"""Audit entries name the search they concern in an indexed column (``search_id``).

A disposition finds its search by this index instead of reading the whole log. The column is
bookkeeping outside the hash chain: whoever reads by it checks the entry's own details too.
Existing entries are filled in from their details.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "m0002"
down_revision = "m0001"
branch_labels = None
depends_on = None

_BATCH = 1_000


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("search_id", sa.String(32), nullable=True))
        batch.create_index("ix_audit_entries_search_id", ["search_id"])
    bind = op.get_bind()
    entries = sa.table(
        "audit_entries", sa.column("sequence"), sa.column("details"), sa.column("search_id")
    )
    found = bind.execute(
        sa.select(entries.c.sequence, entries.c.details).where(
            entries.c.details.like('%"search_id"%')
        )
    ).all()
    values = [{"seq": seq, "sid": sid} for seq, details in found if (sid := _search_id(details))]
    update = (
        sa.update(entries)
        .where(entries.c.sequence == sa.bindparam("seq"))
        .values(search_id=sa.bindparam("sid"))
    )
    for start in range(0, len(values), _BATCH):
        bind.execute(update, values[start : start + _BATCH])


def _search_id(details: str) -> str | None:
    try:
        value = json.loads(details).get("search_id")
    except (ValueError, AttributeError):
        return None  # an unreadable row stays as it is: `audit verify` reports it
    return value if isinstance(value, str) and len(value) <= 32 else None


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_index("ix_audit_entries_search_id")
        batch.drop_column("search_id")
