"""Face embeddings are indexed by (gallery, pipeline id, id), replacing (gallery, pipeline id).

The first use of a Milvus index in a process compares a sample of its vectors with SQL
(``gallery/index_check.py``): one row at or after a point in each stretch of a partition's
ids, an index seek per stretch. On SQLite the old index already ended in the row id; on
PostgreSQL it did not, and each seek scanned the primary key past other galleries' rows
(about 27 ms per seek across a gap of 100,000 rows: 0.9 s for a sample). The new index serves
every query the old one did (the same leading columns).
"""

from __future__ import annotations

from alembic import op

revision = "m0007"
down_revision = "m0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF EXISTS: a SQLite database written before migrations may never have had the old one.
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_embeddings_partition_id "
        "ON face_embeddings (gallery, pipeline_id, id)"
    )
    op.execute("DROP INDEX IF EXISTS ix_embeddings_gallery_pipeline")


def downgrade() -> None:
    op.create_index("ix_embeddings_gallery_pipeline", "face_embeddings", ["gallery", "pipeline_id"])
    op.drop_index("ix_embeddings_partition_id", table_name="face_embeddings")
