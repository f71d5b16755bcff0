"""Finger template rows keep their screen code, sealed, in a column of their own.

Loading a finger gallery then reads ~1 KB a row instead of opening and preparing every template
(~0.5 ms a row: minutes per million). The codes are sealed under the deployment key, which a
migration does not hold, so existing rows are left NULL here and given their code by the
finger gallery's next load of their gallery (``FingerGallery._backfill``, with progress).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0004"
down_revision = "m0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("finger_templates") as batch:
        batch.add_column(sa.Column("screen_code", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("finger_templates") as batch:
        batch.drop_column("screen_code")
