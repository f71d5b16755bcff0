"""Reference photos: one small JPEG per enrolled face capture, for a person comparing faces.

Kept in the gallery's database (table ``reference_photos``), written in the transaction that
enrols the capture, and sealed like embeddings (AES-GCM under the deployment key; ``key_id``
says which key). The associated data binds a photo to its gallery, subject and capture hash:
a blob copied into another subject's row fails to open. A photo takes its capture's
``created_at``, so the retention purge deletes both together.

The foreign key to ``subjects`` is checked at commit (deferred), not cascaded: whoever deletes
a subject deletes and counts its photos in the same transaction, and a path that forgets to
fails instead of leaving photos behind. Probe photos are never stored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobileid.capture.reference import ReferenceImage
from mobileid.database import Where, attach, close_database
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.resealing import reseal_in_batches
from mobileid.gallery.sealing import DeploymentKeyError, SecretBox
from mobileid.gallery.store import Base, EmbeddingRow
from mobileid.types import Subject

MEDIA_TYPE = "image/jpeg"


class PhotoRow(Base):
    __tablename__ = "reference_photos"
    __table_args__ = (
        UniqueConstraint("subject_id", "image_sha256"),
        Index("ix_reference_photos_gallery_created", "gallery", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.subject_id", deferrable=True, initially="DEFERRED"), index=True
    )
    gallery: Mapped[str] = mapped_column(String(64))
    image_sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    # nonce || AES-GCM(JPEG bytes); see photo_context for the associated data
    data: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True)
class StoredPhoto:
    """One opened reference photo; ``n`` counts a subject's photos from 1 in enrolment order."""

    subject_id: str
    n: int
    media_type: str
    width: int
    height: int
    data: bytes


def photo_context(gallery: str, subject_id: str, image_sha256: str) -> str:
    return f"mobileid/reference-photo|{gallery}|{subject_id}|{image_sha256}"


def _context(row: PhotoRow) -> str:
    return photo_context(row.gallery, row.subject_id, row.image_sha256)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def add_photos(
    session: Session,
    box: SecretBox,
    subject_id: str,
    gallery: str,
    photos: Sequence[ReferenceImage],
) -> int:
    """Store the ``ReferenceImage``s whose capture this subject has in ``gallery`` (inside the
    enrolling transaction), each with its capture's time; photos already kept are skipped."""
    wanted: dict[str, ReferenceImage] = {p.image_sha256: p for p in photos}
    if not wanted:
        return 0
    captured = dict(
        session.execute(
            select(EmbeddingRow.image_sha256, func.min(EmbeddingRow.created_at))
            .where(
                EmbeddingRow.subject_id == subject_id,
                EmbeddingRow.image_sha256.in_(list(wanted)),
            )
            .group_by(EmbeddingRow.image_sha256)
        ).all()
    )
    kept = set(
        session.scalars(
            select(PhotoRow.image_sha256).where(
                PhotoRow.subject_id == subject_id, PhotoRow.image_sha256.in_(list(captured))
            )
        )
    )
    added = 0
    for sha, created_at in captured.items():
        if sha in kept:
            continue
        photo = wanted[sha]
        sealed = box.seal(photo.jpeg, photo_context(gallery, subject_id, sha))
        session.add(
            PhotoRow(
                subject_id=subject_id,
                gallery=gallery,
                image_sha256=sha,
                width=photo.width,
                height=photo.height,
                data=sealed,
                key_id=box.key_id,
                created_at=created_at,
            )
        )
        added += 1
    session.flush()
    return added


def delete_subject_photos(session: Session, subject_id: str) -> int:
    """Delete a subject's photos inside the caller's transaction; returns how many."""
    return _rowcount(session.execute(delete(PhotoRow).where(PhotoRow.subject_id == subject_id)))


def purge_photos(session: Session, gallery: str, cut: str, doomed: Any) -> int:
    """Delete, inside the purge's transaction, the gallery's photos taken before ``cut`` (a
    stored time) and those of the subjects ``doomed`` (a subquery of ids) is about to delete."""
    old = delete(PhotoRow).where(PhotoRow.gallery == gallery, PhotoRow.created_at < cut)
    n = _rowcount(session.execute(old))
    orphans = delete(PhotoRow).where(PhotoRow.subject_id.in_(doomed))
    return n + _rowcount(session.execute(orphans))


class ReferencePhotos:
    """Reads and key rotation of the photos in the gallery database at ``database``."""

    def __init__(self, database: Where, *, key: bytes) -> None:
        self._box = SecretBox(key)
        self.engine, self._owns_engine = attach(database)

    @property
    def box(self) -> SecretBox:
        """The cipher that seals new photos (the enrolling transaction borrows it)."""
        return self._box

    def close(self) -> None:
        if self._owns_engine:
            close_database(self.engine)

    def add(self, uow: UnitOfWork, subject: Subject, photos: Sequence[ReferenceImage]) -> int:
        """Keep ``photos`` of ``subject``'s captures in the unit that enrols them (see
        ``add_photos``); returns how many were new."""
        uow.check_engine(self.engine)
        return add_photos(uow.session, self._box, subject.subject_id, subject.gallery, photos)

    def delete_subject(self, uow: UnitOfWork, subject_id: str) -> int:
        """Delete a subject's photos in the unit that deletes the subject; returns how many."""
        uow.check_engine(self.engine)
        return delete_subject_photos(uow.session, subject_id)

    def count(self, subject_ids: Sequence[str]) -> dict[str, int]:
        """{subject id: photos kept}, for the subjects that have any."""
        q = (
            select(PhotoRow.subject_id, func.count())
            .where(PhotoRow.subject_id.in_(list(dict.fromkeys(subject_ids))))
            .group_by(PhotoRow.subject_id)
        )
        with Session(self.engine) as s:
            return {sid: int(n) for sid, n in s.execute(q)}

    def read(self, subject_id: str, n: int) -> StoredPhoto:
        """The ``n``-th photo (from 1), opened; NotFound ("no reference photo") when absent."""
        if n < 1:
            raise InvalidArgument(f"n: expected a photo number >= 1, got {n}", field="n")
        q = (
            select(PhotoRow)
            .where(PhotoRow.subject_id == subject_id)
            .order_by(PhotoRow.id)
            .offset(n - 1)
            .limit(1)
        )
        with Session(self.engine) as s:
            row = s.scalar(q)
            if row is None:
                raise NotFound(f"n: no reference photo {n} for subject {subject_id!r}", field="n")
            if row.key_id != self._box.key_id:
                raise DeploymentKeyError(
                    f"reference photos: expected rows sealed with the deployment key in use "
                    f"({self._box.key_id}), got one sealed with key {row.key_id} (an "
                    "unfinished `mobileid admin rotate-key`: run it again)",
                    field="key",
                )
            data = self._box.open(row.data, _context(row), row.key_id)
            return StoredPhoto(subject_id, n, MEDIA_TYPE, row.width, row.height, data)

    def key_ids(self) -> dict[str, int]:
        with Session(self.engine) as s:
            q = select(PhotoRow.key_id, func.count()).group_by(PhotoRow.key_id)
            return {k: int(n) for k, n in s.execute(q)}

    def rotate_key(self, old: bytes, new: bytes, *, batch: int = 5_000) -> int:
        """Re-seal every photo under ``new``, ``batch`` per transaction; rows already under it
        are skipped, so a rerun finishes an interrupted rotation. Returns photos re-sealed."""
        old_box, new_box = SecretBox(old), SecretBox(new)

        def reseal(row: PhotoRow) -> None:
            plain = old_box.open(row.data, _context(row), row.key_id)
            row.data, row.key_id = new_box.seal(plain, _context(row)), new_box.key_id

        total = reseal_in_batches(self.engine, PhotoRow, new_box.key_id, reseal, batch=batch)
        self._box = new_box
        return total
