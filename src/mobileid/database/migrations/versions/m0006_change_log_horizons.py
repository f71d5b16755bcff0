"""The change logs get a horizon: how far each has been pruned.

The face embedding log and the finger template log grew by a row per change, forever. Entries
up to a sequence number may now be deleted (``mobileid admin prune-changes``), and this table
records that number per log, so that an index or snapshot that applied less than it knows it
may have missed changes and is rebuilt from the rows themselves (``gallery/change_logs.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0006"
down_revision = "m0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_log_horizons",
        sa.Column("log", sa.String(64), primary_key=True),
        sa.Column("pruned_upto", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_log_horizons")
