"""The change log of face embeddings: one sequence number per embedding added or removed.

Vector indexes are derived from SQL. Each remembers the last sequence number it applied to a
partition (gallery, pipeline id); catching up means reading the ids touched after it and
putting the rows that still exist (removing the others). Ids are touched, not replayed, so
applying the same changes twice, or out of order, ends in the same state: what SQL holds.

The log is written in the same transaction as the embedding rows, by every path that adds or
deletes them (enrolment, bulk enrolment, removal, purge). Old entries are pruned by
:func:`.change_logs.prune`; an index behind what was pruned is rebuilt instead of caught up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Boolean, Index, Integer, String, Table, bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobileid.gallery.store import Base, insert_rows
from mobileid.gallery.vectors import Partition


class ChangeRow(Base):
    __tablename__ = "face_embedding_changes"
    # AUTOINCREMENT: a sequence number is never handed out twice, even after the newest
    # rows were deleted (SQLite would otherwise reuse the largest rowid).
    __table_args__ = (
        Index("ix_changes_partition_seq", "gallery", "pipeline_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gallery: Mapped[str] = mapped_column(String(64))
    pipeline_id: Mapped[str] = mapped_column(String(200))
    embedding_id: Mapped[int] = mapped_column(Integer)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


_CHANGES = cast(Table, ChangeRow.__table__)


def _serialise(s: Session) -> None:
    """On PostgreSQL, sequence numbers can commit out of order, and an index that applied 11
    would never see 10 committed later: writers of the log take turns. SQLite serialises
    writers already."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection().exec_driver_sql(
            "LOCK TABLE face_embedding_changes IN SHARE ROW EXCLUSIVE MODE"
        )


_LATEST = select(func.max(_CHANGES.c.seq)).where(  # built once: it runs before every search
    _CHANGES.c.gallery == bindparam("gallery"), _CHANGES.c.pipeline_id == bindparam("pipeline_id")
)


def log_added(s: Session, gallery: str, pipeline_id: str, ids: Iterable[int]) -> None:
    rows = [(gallery, pipeline_id, int(i), False) for i in ids]
    if rows:
        _serialise(s)
        insert_rows(s, _CHANGES, ("gallery", "pipeline_id", "embedding_id", "removed"), rows)


def log_removed(s: Session, rows: Sequence[tuple[str, str, int]]) -> None:
    """Log removals of (gallery, pipeline id, embedding id)."""
    if rows:
        _serialise(s)
        s.execute(
            insert(_CHANGES),
            [
                {"gallery": g, "pipeline_id": p, "embedding_id": int(i), "removed": True}
                for g, p, i in rows
            ],
        )


def latest(s: Session | Connection, partition: Partition) -> int:
    """The partition's newest sequence number (0 when nothing was ever logged)."""
    params = {"gallery": partition.gallery, "pipeline_id": partition.pipeline_id}
    return int(s.execute(_LATEST, params).scalar() or 0)


def touched(s: Session, partition: Partition, after: int, upto: int) -> list[int]:
    """Embedding ids added or removed with after < seq <= upto, each once."""
    q = (
        select(ChangeRow.embedding_id)
        .where(
            ChangeRow.gallery == partition.gallery,
            ChangeRow.pipeline_id == partition.pipeline_id,
            ChangeRow.seq > after,
            ChangeRow.seq <= upto,
        )
        .distinct()
    )
    return [int(i) for i in s.scalars(q)]
