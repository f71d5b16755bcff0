"""Tables of the gallery in the main database: the source of truth for subjects and embeddings.

The tables are created and changed by the main database's migrations (``mobileid.database``).

Embedding vectors are stored sealed (AES-GCM under the deployment key, see ``sealing.py``);
``key_id`` says which key sealed each row, so a key rotation can proceed row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from mobileid.errors import InvalidArgument


def stamp(moment: datetime) -> str:
    """A stored time: UTC, ISO-8601 to the second, so that stored times sort as text sorts."""
    if moment.tzinfo is None:
        raise InvalidArgument(
            f"time: expected a datetime with a UTC offset, got {moment.isoformat()}", field="time"
        )
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def utcnow() -> str:
    return stamp(datetime.now(UTC))


class Base(DeclarativeBase):
    pass


class SubjectRow(Base):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("gallery", "reference"),)

    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    gallery: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(256))  # the enrolling source's own key
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    embeddings: Mapped[list[EmbeddingRow]] = relationship(
        back_populates="subject", cascade="all, delete-orphan"
    )


class EmbeddingRow(Base):
    __tablename__ = "face_embeddings"
    __table_args__ = (
        UniqueConstraint("gallery", "pipeline_id", "image_sha256"),
        # Ends in the id: index_check's seeks "first id from here in this partition".
        Index("ix_embeddings_partition_id", "gallery", "pipeline_id", "id"),
        Index("ix_embeddings_key_id", "key_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True
    )
    gallery: Mapped[str] = mapped_column(String(64))
    pipeline_id: Mapped[str] = mapped_column(String(200))
    image_sha256: Mapped[str] = mapped_column(String(64))
    # nonce || AES-GCM(float32 little-endian vector); see sealing.row_context for the AAD
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # which deployment key sealed ``vector``; None only in a database written before
    # encryption, whose rows are sealed when the gallery is first opened with a key
    key_id: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    subject: Mapped[SubjectRow] = relationship(back_populates="embeddings")


class GalleryVersion(Base):
    """One row per gallery: whether it is a training gallery, and a version bumped on every
    change, so derived index files know when they are stale."""

    __tablename__ = "gallery_versions"

    gallery: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    # Training galleries hold synthetic or consented data and are reached only by training
    # searches; live galleries never by them.
    training: Mapped[bool] = mapped_column(default=False)
    # Captures older than this many hours are deleted by the purge job; None: kept until
    # deleted by hand.
    retention_hours: Mapped[int | None] = mapped_column(default=None)


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def param_mark(conn: Connection) -> str:
    """The driver's placeholder for one parameter in driver SQL."""
    return _MARKS[conn.dialect.paramstyle]


def insert_rows(
    s: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT of many rows (tuples in ``columns`` order) as one driver ``executemany``.

    Bulk enrolment writes millions of rows; through the ORM or Core insert, SQLAlchemy's
    per-row parameter processing took longer than SQLite's own work (about 30 µs a row).
    """
    if not rows:
        return
    conn = s.connection()
    mark = param_mark(conn)
    marks = ", ".join([mark] * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    conn.exec_driver_sql(sql, list(rows))


def bump_version(s: Session, gallery: str) -> None:
    """Mark the gallery changed, so derived index files are rebuilt."""
    row = s.get(GalleryVersion, gallery)
    if row is None:
        s.add(GalleryVersion(gallery=gallery, version=1))
    else:
        row.version += 1


def subject_row(
    s: Session, gallery: str, reference: str, name: str, source: str, created_at: str
) -> SubjectRow:
    """The subject known by ``reference`` in ``gallery``, created (in ``s``) when new. Face
    and finger enrolment share it, so one person is one subject whatever the modality."""
    row = s.scalar(
        select(SubjectRow).where(SubjectRow.gallery == gallery, SubjectRow.reference == reference)
    )
    if row is None:
        row = new_subject_row(gallery, reference, name, source, created_at)
        s.add(row)
    return row


def new_subject_row(
    gallery: str, reference: str, name: str, source: str, created_at: str
) -> SubjectRow:
    """A new subject's row, not yet added to any session (the caller knows ``reference`` is
    not in ``gallery``)."""
    return SubjectRow(
        subject_id="S" + uuid.uuid4().hex[:15],
        gallery=gallery,
        reference=reference,
        name=name,
        source=source,
        created_at=created_at,
    )
