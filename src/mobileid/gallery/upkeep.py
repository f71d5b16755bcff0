"""Work on the stored gallery as a whole: retention rules, purges, re-sealing under a key.

Each function takes the engine of the embedded gallery's database. A retention change or a
purge runs in the caller's unit of work when given one (the service appends the audit entry
through the same unit, so a change whose entry cannot be written does not happen), else in one
of its own; a key rotation runs its own transactions, a batch each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.database.unit_of_work import UnitOfWork, within
from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery import changes
from mobileid.gallery.finger_rows import FingerTemplateRow
from mobileid.gallery.photos import purge_photos
from mobileid.gallery.protocol import Purged
from mobileid.gallery.sealing import DeploymentKeyError, SecretBox, open_vector, row_context
from mobileid.gallery.store import EmbeddingRow, GalleryVersion, SubjectRow, bump_version, stamp

MAX_RETENTION_HOURS = 100 * 365 * 24  # a bound against typos, not a policy


def _context(row: EmbeddingRow) -> str:
    return row_context(row.gallery, row.subject_id, row.image_sha256, row.pipeline_id)


def _gallery_row(s: Session, gallery: str) -> GalleryVersion:
    row = s.get(GalleryVersion, gallery)
    if row is None:
        raise NotFound(f"gallery: no gallery {gallery!r}", field="gallery")
    return row


def check_hours(hours: int | None) -> int | None:
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise InvalidArgument(f"hours: expected a whole number, got {hours!r}", field="hours")
    if not 1 <= hours <= MAX_RETENTION_HOURS:
        raise InvalidArgument(
            f"hours: expected 1..{MAX_RETENTION_HOURS} (or no rule), got {hours}", field="hours"
        )
    return hours


def retention(engine: Engine, gallery: str) -> int | None:
    with Session(engine) as s:
        return _gallery_row(s, gallery).retention_hours


def retention_rules(engine: Engine) -> dict[str, int | None]:
    """Every gallery's rule, by name."""
    with Session(engine) as s:
        q = select(GalleryVersion.gallery, GalleryVersion.retention_hours)
        return {g: h for g, h in s.execute(q.order_by(GalleryVersion.gallery))}


def set_retention(
    engine: Engine, gallery: str, hours: int | None, uow: UnitOfWork | None
) -> int | None:
    hours = check_hours(hours)
    with within(engine, uow) as unit:
        row = _gallery_row(unit.session, gallery)
        old = row.retention_hours
        row.retention_hours = hours
        unit.session.flush()
    return old


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def purge_before(engine: Engine, gallery: str, cutoff: datetime, uow: UnitOfWork | None) -> Purged:
    cut = stamp(cutoff)
    with within(engine, uow) as unit:
        s = unit.session
        rule = _gallery_row(s, gallery).retention_hours
        expired = select(EmbeddingRow.gallery, EmbeddingRow.pipeline_id, EmbeddingRow.id).where(
            EmbeddingRow.gallery == gallery, EmbeddingRow.created_at < cut
        )
        changes.log_removed(s, [(g, p, i) for g, p, i in s.execute(expired)])
        embeddings = _rowcount(
            s.execute(
                delete(EmbeddingRow).where(
                    EmbeddingRow.gallery == gallery, EmbeddingRow.created_at < cut
                )
            )
        )
        # Finger captures follow the same rule as face captures.
        FingerTemplateRow.__table__.create(s.connection(), checkfirst=True)  # type: ignore[attr-defined]
        templates = _rowcount(
            s.execute(
                delete(FingerTemplateRow).where(
                    FingerTemplateRow.gallery == gallery, FingerTemplateRow.created_at < cut
                )
            )
        )
        has_capture = select(EmbeddingRow.id).where(
            EmbeddingRow.subject_id == SubjectRow.subject_id
        )
        has_print = select(FingerTemplateRow.id).where(
            FingerTemplateRow.subject_id == SubjectRow.subject_id
        )
        doomed = select(SubjectRow.subject_id).where(
            SubjectRow.gallery == gallery,
            SubjectRow.created_at < cut,
            ~has_capture.exists(),
            ~has_print.exists(),
        )
        # Reference photos go with their captures (and with subjects about to be deleted).
        photos = purge_photos(s, gallery, cut, doomed)
        subjects = _rowcount(s.execute(delete(SubjectRow).where(SubjectRow.subject_id.in_(doomed))))
        if embeddings or subjects or templates:
            bump_version(s, gallery)
    return Purged(gallery, rule or 0, cutoff, subjects, embeddings, templates, photos)


def reseal_rows(
    engine: Engine, old: SecretBox, new: SecretBox, *, batch: int, uow: UnitOfWork | None
) -> int:
    """Re-seal rows under ``new`` in id order, ``batch`` per transaction. Rows already under
    ``new`` are skipped, so a rerun finishes an interrupted rotation; a row under any third
    key stops it with DeploymentKeyError. The last batch is written in ``uow`` (the caller's
    unit, holding the audit entry), so the rotation counts as done only once that commits;
    the caller's unit must not have written before (on SQLite it would hold the write lock
    the earlier batches wait for)."""
    if batch < 1:
        raise InvalidArgument(f"batch: expected >= 1, got {batch}", field="batch")
    last_id, total = 0, 0
    while True:
        with Session(engine) as s:  # is this batch the last? (one more id than a batch)
            ids = s.scalars(
                select(EmbeddingRow.id)
                .where(EmbeddingRow.id > last_id)
                .order_by(EmbeddingRow.id)
                .limit(batch + 1)
            ).all()
        final = len(ids) <= batch
        rows = select(EmbeddingRow).where(EmbeddingRow.id > last_id)
        if not final:
            rows = rows.where(EmbeddingRow.id <= ids[batch - 1])
        with within(engine, uow if final else None) as unit:
            for row in unit.session.scalars(rows.order_by(EmbeddingRow.id)):
                last_id = row.id
                if row.key_id != new.key_id:
                    plain = open_vector(old, row.vector, _context(row), row.key_id)
                    row.vector, row.key_id = new.seal(plain, _context(row)), new.key_id
                    total += 1
            unit.session.flush()
        if final:
            return total


def seal_plaintext(engine: Engine, box: SecretBox) -> int:
    """Seal rows stored before encryption (``key_id`` NULL), all in one transaction."""
    with Session(engine) as s, s.begin():
        rows = s.scalars(select(EmbeddingRow).where(EmbeddingRow.key_id.is_(None))).all()
        for row in rows:
            if len(row.vector) % 4:
                raise DeploymentKeyError(
                    f"face embedding {row.id}: expected an unsealed float32 vector (no key id "
                    f"stored), got {len(row.vector)} bytes",
                    field="key",
                )
            context = _context(row)
            row.vector, row.key_id = box.seal(row.vector, context), box.key_id
        return len(rows)


def key_ids(engine: Engine) -> dict[str | None, int]:
    with Session(engine) as s:
        q = select(EmbeddingRow.key_id, func.count()).group_by(EmbeddingRow.key_id)
        return {k: int(n) for k, n in s.execute(q)}
