"""SQLite tables of the embedded gallery: the source of truth for subjects and embeddings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        Index("ix_embeddings_gallery_pipeline", "gallery", "pipeline_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True
    )
    gallery: Mapped[str] = mapped_column(String(64))
    pipeline_id: Mapped[str] = mapped_column(String(200))
    image_sha256: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    subject: Mapped[SubjectRow] = relationship(back_populates="embeddings")


class GalleryVersion(Base):
    """Bumped on every change of a gallery, so derived index files know they are stale."""

    __tablename__ = "gallery_versions"

    gallery: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


def open_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    Base.metadata.create_all(engine)
    return engine
