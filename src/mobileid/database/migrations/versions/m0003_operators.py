"""Operators, entitlements, sessions, API tokens and the auth clock join the main database.

Until now they lived in their own file (``operators.sqlite3``), so an operator change and its
audit entry could not commit together. The rows of such a file are copied in by
``mobileid.auth.legacy`` when the data folder is opened (a migration cannot know the folder).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0003"
down_revision = "m0002"
branch_labels = None
depends_on = None

S = sa.String
T = sa.String(32)  # aware UTC times as fixed-width ISO text


def upgrade() -> None:
    op.create_table(
        "auth_operators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", S(64), nullable=False, unique=True),
        sa.Column("display_name", S(256), nullable=False),
        sa.Column("role", S(16), nullable=False),
        sa.Column("unit", S(128)),
        sa.Column("password_hash", S(512), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary, nullable=False),
        sa.Column("totp_key_id", S(16), nullable=False),
        sa.Column("last_totp_step", sa.Integer),
        sa.Column("failed_logons", sa.Integer, nullable=False),
        sa.Column("locked_until", T),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_logon_at", T),
        sa.Column("disabled_at", T),
    )
    op.create_table(
        "auth_entitlements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "operator_id",
            sa.Integer,
            sa.ForeignKey("auth_operators.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", S(16), nullable=False),
        sa.Column("name", S(128), nullable=False),
        sa.Column("granted_at", T, nullable=False),
        sa.Column("granted_by", S(128), nullable=False),
        sa.UniqueConstraint("operator_id", "kind", "name"),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_sha256", S(64), nullable=False, unique=True),
        sa.Column(
            "operator_id",
            sa.Integer,
            sa.ForeignKey("auth_operators.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_used_at", T, nullable=False),
        sa.Column("ended_at", T),
        sa.Column("end_reason", S(32)),
    )
    op.create_table(
        "auth_api_tokens",
        sa.Column("token_id", S(24), primary_key=True),
        sa.Column("token_sha256", S(64), nullable=False, unique=True),
        sa.Column(
            "operator_id",
            sa.Integer,
            sa.ForeignKey("auth_operators.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("label", S(128), nullable=False),
        sa.Column("scope", S(1024), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("expires_at", T, nullable=False),
        sa.Column("revoked_at", T),
        sa.Column("revoked_by", S(128)),
        sa.Column("last_used_at", T),
    )
    op.create_table(
        "auth_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("high_water", T, nullable=False),
        sa.Column("offset_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("auth_clock", "auth_api_tokens", "auth_sessions", "auth_entitlements"):
        op.drop_table(table)
    op.drop_table("auth_operators")
