"""Baseline: the main database as release 0.1 wrote it (galleries, audit log, training).

Frozen here, apart from the ORM models, so later changes to the models do not rewrite history.
A database written before migrations existed already holds some or all of these tables: only
the missing ones are created, and the columns added by hand before Alembic (the embedding key
id, gallery retention) are added where absent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0001"
down_revision = None
branch_labels = None
depends_on = None

meta = sa.MetaData()


def col(name: str, kind: sa.types.TypeEngine | type, *args: object, **kw: object) -> sa.Column:
    kw.setdefault("nullable", False)
    return sa.Column(name, kind, *args, **kw)  # type: ignore[arg-type]


S = sa.String
sa.Table(
    "subjects", meta,
    col("subject_id", S(32), primary_key=True),
    col("gallery", S(64), index=True),
    col("reference", S(256)), col("name", S(256)), col("source", S(256)),
    col("created_at", S(32)),
    sa.UniqueConstraint("gallery", "reference"),
)  # fmt: skip
sa.Table(
    "face_embeddings", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("subject_id", S(32), sa.ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True),
    col("gallery", S(64)), col("pipeline_id", S(200)), col("image_sha256", S(64)),
    col("vector", sa.LargeBinary), col("key_id", S(16), nullable=True), col("created_at", S(32)),
    sa.UniqueConstraint("gallery", "pipeline_id", "image_sha256"),
    sa.Index("ix_embeddings_gallery_pipeline", "gallery", "pipeline_id"),
    sa.Index("ix_embeddings_key_id", "key_id"),
)  # fmt: skip
sa.Table(
    "gallery_versions", meta,
    col("gallery", S(64), primary_key=True), col("version", sa.Integer),
    col("training", sa.Boolean), col("retention_hours", sa.Integer, nullable=True),
)  # fmt: skip
sa.Table(
    "face_embedding_changes", meta,
    col("seq", sa.Integer, primary_key=True, autoincrement=True),
    col("gallery", S(64)), col("pipeline_id", S(200)), col("embedding_id", sa.Integer),
    col("removed", sa.Boolean),
    sa.Index("ix_changes_partition_seq", "gallery", "pipeline_id", "seq"),
    sqlite_autoincrement=True,
)  # fmt: skip
sa.Table(
    "finger_templates", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("subject_id", S(32), sa.ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True),
    col("gallery", S(64)), col("position", S(16)), col("pipeline_id", S(200)),
    col("image_sha256", S(64)), col("template", sa.LargeBinary), col("key_id", S(16)),
    col("created_at", S(32)),
    sa.UniqueConstraint("gallery", "pipeline_id", "image_sha256"),
    sa.Index("ix_finger_templates_gallery_pipeline", "gallery", "pipeline_id"),
    sqlite_autoincrement=True,
)  # fmt: skip
sa.Table(
    "reference_photos", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("subject_id", S(32), sa.ForeignKey(
        "subjects.subject_id", deferrable=True, initially="DEFERRED"), index=True),
    col("gallery", S(64)), col("image_sha256", S(64)), col("width", sa.Integer),
    col("height", sa.Integer), col("data", sa.LargeBinary), col("key_id", S(16), index=True),
    col("created_at", S(32)),
    sa.UniqueConstraint("subject_id", "image_sha256"),
    sa.Index("ix_reference_photos_gallery_created", "gallery", "created_at"),
)  # fmt: skip
sa.Table(
    "audit_entries", meta,
    col("sequence", sa.Integer, primary_key=True, autoincrement=False),
    col("time", S(40)), col("operator", S(256), index=True), col("role", S(64)),
    col("event", S(64), index=True), col("component", S(64)), col("outcome", S(16)),
    col("details", sa.Text), col("clock_regressed", sa.Boolean), col("prev_hash", S(64)),
    col("entry_hash", S(64)),
)  # fmt: skip
sa.Table(
    "audit_checkpoints", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("sequence", sa.Integer, index=True), col("entry_hash", S(64)), col("time", S(40)),
    col("key_id", S(16)), col("signature", S(128)),
)  # fmt: skip
sa.Table(
    "audit_head", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=False),
    col("sequence", sa.Integer), col("entry_hash", S(64)), col("time", S(40)),
    col("last_checkpoint", sa.Integer),
)  # fmt: skip
sa.Table("config_state", meta, col("name", S(32), primary_key=True), col("digest", S(64)))
sa.Table(
    "training_practice", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("username", S(64), index=True), col("search_id", S(32)), col("at", S(32)),
    col("modality", S(16)), col("target", S(64), nullable=True), col("quality_passed", sa.Boolean),
    col("problems", sa.Text), col("mate_rank", sa.Integer, nullable=True),
    col("mate_first", sa.Boolean),
)  # fmt: skip
sa.Table(
    "training_certifications", meta,
    col("id", sa.Integer, primary_key=True, autoincrement=True),
    col("username", S(64), index=True), col("certified_by", S(128)), col("certified_at", S(32)),
    col("expires_at", S(32)), col("exempt_reason", sa.Text, nullable=True),
    col("figures", sa.Text),
)  # fmt: skip

# Columns added by hand after the first release, before migrations: (table, column, SQL type).
_ADDED_BEFORE_ALEMBIC = (
    ("face_embeddings", "key_id", "VARCHAR(16)"),
    ("gallery_versions", "retention_hours", "INTEGER"),
)


def upgrade() -> None:
    bind = op.get_bind()
    meta.create_all(bind, checkfirst=True)
    if bind.dialect.name != "sqlite":
        return  # only SQLite databases were ever written without migrations
    inspector = sa.inspect(bind)
    for table, column, sql_type in _ADDED_BEFORE_ALEMBIC:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
    op.execute("CREATE INDEX IF NOT EXISTS ix_embeddings_key_id ON face_embeddings (key_id)")


def downgrade() -> None:
    meta.drop_all(op.get_bind())
