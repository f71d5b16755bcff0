"""Initial schema of a record source: records, exact keys, name blocks, links."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "record_keys",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column(
            "record_id",
            sa.String(64),
            sa.ForeignKey("records.record_id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "record_names",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("block", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column(
            "record_id",
            sa.String(64),
            sa.ForeignKey("records.record_id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_record_names_block", "record_names", ["block"])
    op.create_table(
        "links",
        sa.Column("from_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("to_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_links_to", "links", ["to_id"])


def downgrade() -> None:
    op.drop_table("links")
    op.drop_table("record_names")
    op.drop_table("record_keys")
    op.drop_table("records")
