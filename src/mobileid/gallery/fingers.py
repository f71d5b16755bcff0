"""The embedded finger gallery: minutiae templates, sealed, beside the face gallery.

Templates live in the face gallery's SQLite database (``Settings.database_path``), so that an
enrolment and its audit entry commit in one transaction, and they share its tables where the
two modalities meet:

- ``subjects``: the same (gallery, reference) is the same subject, whether enrolled by face,
  by finger or both; deleting a subject deletes its finger templates too (foreign-key cascade).
- ``gallery_versions``: a gallery name is either training or live, for both modalities.

Each template row is sealed with the deployment key (AES-GCM, auth's ``SecretBox``) under
associated data naming its row, exactly as face embeddings are (``sealing.py``): a payload
copied into another row fails to open.

Search is two-stage (:mod:`mobileid.finger.index`): the binary-cylinder screen over every
template of the gallery, then the geometric matcher on a shortlist. The decrypted, prepared
templates are cached in memory per (gallery, pipeline id) and rebuilt when the table changes
(row count or highest row id: ids are never reused, see ``sqlite_autoincrement``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobileid.errors import InvalidArgument
from mobileid.finger.index import U64, screen, screen_codes
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.types import FingerTemplate
from mobileid.gallery.embedded import GALLERY_NAME
from mobileid.gallery.sealing import DeploymentKeyError, SecretBox
from mobileid.gallery.store import (
    Base,
    EmbeddingRow,
    GalleryVersion,
    open_engine,
    stamp,
    subject_row,
)
from mobileid.types import Subject

__all__ = [
    "FINGER_POSITIONS",
    "FingerCapture",
    "FingerGallery",
    "FingerHit",
    "FingerHook",
]

# ISO/IEC 19794-2 finger position codes 1..10; 0 is "unknown".
FINGER_POSITIONS = (
    "unknown",
    "right_thumb",
    "right_index",
    "right_middle",
    "right_ring",
    "right_little",
    "left_thumb",
    "left_index",
    "left_middle",
    "left_ring",
    "left_little",
)

FingerHook = Callable[[Any, Subject, int], None]
"""Called inside an enrolment's transaction with (session, subject, templates added)."""

Clock = Callable[[], datetime]


class FingerTemplateRow(Base):
    __tablename__ = "finger_templates"
    __table_args__ = (
        UniqueConstraint("gallery", "pipeline_id", "image_sha256"),
        Index("ix_finger_templates_gallery_pipeline", "gallery", "pipeline_id"),
        {"sqlite_autoincrement": True},  # ids never reused: (count, max id) names the set
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.subject_id", ondelete="CASCADE"), index=True
    )
    gallery: Mapped[str] = mapped_column(String(64))
    position: Mapped[str] = mapped_column(String(16))  # one of FINGER_POSITIONS
    pipeline_id: Mapped[str] = mapped_column(String(200))
    image_sha256: Mapped[str] = mapped_column(String(64))
    template: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || AES-GCM(payload)
    key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True, eq=False)
class FingerCapture:
    """One print to enrol: its template, where it sits on the hand, its image's hash."""

    template: FingerTemplate
    position: str
    image_sha256: str


@dataclass(frozen=True)
class FingerHit:
    """One template scored by the geometric matcher for one probe."""

    subject_id: str
    position: str
    score: float  # similarity, higher is more alike
    matched: int  # minutia pairs under one rigid alignment


def row_context(gallery: str, subject_id: str, position: str, sha: str, pipeline_id: str) -> str:
    """The associated data of one template row (pipeline id last: only it may hold '|')."""
    return f"mobileid/finger-template|{gallery}|{subject_id}|{position}|{sha}|{pipeline_id}"


_HEAD = struct.Struct("<BIIffI")  # format version, width, height, ppi, quality, minutiae
_FORMAT = 1


def pack_template(t: FingerTemplate) -> bytes:
    """Exact bytes of a template (no quantisation, unlike ISO/ANSI records)."""
    head = _HEAD.pack(_FORMAT, t.width, t.height, t.ppi, t.quality, t.count)
    return head + t.minutiae.astype("<f4").tobytes()


def unpack_template(data: bytes, pipeline_id: str) -> FingerTemplate:
    version, width, height, ppi, quality, n = _HEAD.unpack_from(data)
    if version != _FORMAT or len(data) != _HEAD.size + 20 * n:
        raise DeploymentKeyError(
            f"finger template: expected payload format {_FORMAT} of {_HEAD.size + 20 * n} bytes, "
            f"got format {version} of {len(data)} bytes",
            field="template",
        )
    m = np.frombuffer(data, dtype="<f4", offset=_HEAD.size).reshape(n, 5)
    return FingerTemplate(m, width, height, ppi, quality, pipeline_id)


@dataclass(frozen=True, eq=False)
class _Loaded:
    """A gallery's templates of one pipeline, ready to search."""

    stamp: tuple[int, int]
    subjects: list[str]
    positions: list[str]
    features: list[MatchFeatures]
    codes: U64


class FingerGallery:
    """Finger templates in the embedded database; ``key`` seals them (never read from disk)."""

    def __init__(
        self, database: Path, *, key: bytes, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._box = SecretBox(key)
        self.engine = open_engine(database)
        Base.metadata.create_all(self.engine, tables=[FingerTemplateRow.__table__])  # type: ignore[list-item]
        self.clock = clock
        self._loaded: dict[tuple[str, str], _Loaded] = {}

    def close(self) -> None:
        self.engine.dispose()

    def enrol(
        self,
        gallery: str,
        reference: str,
        name: str,
        source: str,
        captures: Sequence[FingerCapture],
        *,
        training: bool = False,
        in_transaction: FingerHook | None = None,
    ) -> tuple[Subject, int]:
        """Create or extend the subject known by ``reference`` with ``captures``, atomically.

        Images already enrolled (same hash, same pipeline) are skipped. The gallery is created
        of the given kind; an existing one of the other kind is refused. Returns the subject
        and the number of templates added; ``in_transaction`` runs in the same transaction.
        """
        _check_gallery(gallery)
        for c in captures:
            if c.position not in FINGER_POSITIONS:
                raise InvalidArgument(
                    f"position: expected one of {list(FINGER_POSITIONS)}, got {c.position!r}",
                    field="position",
                )
        now = stamp(self.clock())
        with Session(self.engine) as s, s.begin():
            _ensure_kind(s, gallery, training)
            row = subject_row(s, gallery, reference, name, source, now)
            added = 0
            for c in captures:
                pid = c.template.pipeline_id
                if self._has(s, gallery, c.image_sha256, pid):
                    continue
                context = row_context(gallery, row.subject_id, c.position, c.image_sha256, pid)
                s.add(
                    FingerTemplateRow(
                        subject_id=row.subject_id,
                        gallery=gallery,
                        position=c.position,
                        pipeline_id=pid,
                        image_sha256=c.image_sha256,
                        template=self._box.seal(pack_template(c.template), context),
                        key_id=self._box.key_id,
                        created_at=now,
                    )
                )
                s.flush()
                added += 1
            faces = s.scalar(select(func.count()).where(EmbeddingRow.subject_id == row.subject_id))
            subject = Subject(
                row.subject_id, row.name, row.gallery, row.source, int(faces or 0), row.created_at
            )
            if in_transaction:
                in_transaction(s, subject, added)
        return subject, added

    @staticmethod
    def _has(s: Session, gallery: str, sha: str, pipeline_id: str) -> bool:
        q = select(FingerTemplateRow.id).where(
            FingerTemplateRow.gallery == gallery,
            FingerTemplateRow.pipeline_id == pipeline_id,
            FingerTemplateRow.image_sha256 == sha,
        )
        return s.scalar(q) is not None

    def has_image(self, gallery: str, image_sha256: str, pipeline_id: str) -> bool:
        with Session(self.engine) as s:
            return self._has(s, gallery, image_sha256, pipeline_id)

    def count(self, gallery: str, pipeline_id: str | None = None) -> int:
        """Templates in the gallery (of one pipeline, when given)."""
        q = select(func.count()).where(FingerTemplateRow.gallery == gallery)
        if pipeline_id is not None:
            q = q.where(FingerTemplateRow.pipeline_id == pipeline_id)
        with Session(self.engine) as s:
            return int(s.scalar(q) or 0)

    def positions(self, subject_id: str) -> dict[str, int]:
        """{finger position: templates} of one subject."""
        q = (
            select(FingerTemplateRow.position, func.count())
            .where(FingerTemplateRow.subject_id == subject_id)
            .group_by(FingerTemplateRow.position)
        )
        with Session(self.engine) as s:
            return {p: int(n) for p, n in s.execute(q)}

    def search(
        self, gallery: str, probe: MatchFeatures, shortlist: int
    ) -> tuple[list[FingerHit], dict[str, int]]:
        """Screen every template of the probe's pipeline, check the ``shortlist`` best.

        Returns the checked hits, best first, and how many templates each subject of the
        gallery has in this pipeline (the number of comparisons its best score is a maximum of).
        """
        loaded = self._load(gallery, probe.pipeline_id)
        per_subject: dict[str, int] = {}
        for sid in loaded.subjects:
            per_subject[sid] = per_subject.get(sid, 0) + 1
        if not loaded.subjects:
            return [], per_subject
        code = screen_codes([probe])[0]
        rows, _ = screen(code, loaded.codes, shortlist)
        hits = []
        for r in rows.tolist():
            m = match_features(probe, loaded.features[r])
            hits.append(FingerHit(loaded.subjects[r], loaded.positions[r], m.score, m.matched))
        hits.sort(key=lambda h: -h.score)
        return hits, per_subject

    # --- keys -----------------------------------------------------------------------------
    @property
    def key_id(self) -> str:
        return self._box.key_id

    def key_ids(self) -> dict[str, int]:
        """Template rows per sealing key id."""
        q = select(FingerTemplateRow.key_id, func.count()).group_by(FingerTemplateRow.key_id)
        with Session(self.engine) as s:
            return {k: int(n) for k, n in s.execute(q)}

    def rotate_key(self, old: bytes, new: bytes, *, batch: int = 5_000) -> int:
        """Re-seal every template row under ``new``, ``batch`` rows per transaction; rows
        already under ``new`` are skipped, so a rerun finishes an interrupted rotation. From
        then on this gallery uses ``new``. Returns the rows re-sealed.

        ``service.keys.rotate_deployment_key`` must call this before it deletes the retired
        key, or finger templates become unreadable (not wired yet: see the closing note).
        """
        if batch < 1:
            raise InvalidArgument(f"batch: expected >= 1, got {batch}", field="batch")
        old_box, new_box = SecretBox(old), SecretBox(new)
        last_id, total = 0, 0
        while True:
            with Session(self.engine) as s, s.begin():
                q = select(FingerTemplateRow).where(FingerTemplateRow.id > last_id)
                rows = s.scalars(q.order_by(FingerTemplateRow.id).limit(batch)).all()
                for row in rows:
                    last_id = row.id
                    if row.key_id == new_box.key_id:
                        continue
                    context = _context(row)
                    plain = old_box.open(row.template, context, row.key_id)
                    row.template, row.key_id = new_box.seal(plain, context), new_box.key_id
                    total += 1
            if len(rows) < batch:
                break
        self._box, self._loaded = new_box, {}
        return total

    def _stamp(self, s: Session, gallery: str, pipeline_id: str) -> tuple[int, int]:
        q = select(func.count(), func.coalesce(func.max(FingerTemplateRow.id), 0)).where(
            FingerTemplateRow.gallery == gallery, FingerTemplateRow.pipeline_id == pipeline_id
        )
        n, last = s.execute(q).one()
        return int(n), int(last)

    def _load(self, gallery: str, pipeline_id: str) -> _Loaded:
        with Session(self.engine) as s:
            now = self._stamp(s, gallery, pipeline_id)
            cached = self._loaded.get((gallery, pipeline_id))
            if cached is not None and cached.stamp == now:
                return cached
            q = (
                select(FingerTemplateRow)
                .where(
                    FingerTemplateRow.gallery == gallery,
                    FingerTemplateRow.pipeline_id == pipeline_id,
                )
                .order_by(FingerTemplateRow.id)
            )
            rows = list(s.scalars(q))
            features = [prepare(self._open(r)) for r in rows]
        loaded = _Loaded(
            now,
            [r.subject_id for r in rows],
            [r.position for r in rows],
            features,
            screen_codes(features),
        )
        self._loaded[(gallery, pipeline_id)] = loaded
        return loaded

    def _open(self, row: FingerTemplateRow) -> FingerTemplate:
        if row.key_id != self._box.key_id:
            raise DeploymentKeyError(
                f"finger templates: expected rows sealed with the deployment key in use "
                f"({self._box.key_id}), got a row sealed with key {row.key_id}",
                field="key",
            )
        plain = self._box.open(row.template, _context(row), row.key_id)
        return unpack_template(plain, row.pipeline_id)


def _context(row: FingerTemplateRow) -> str:
    return row_context(row.gallery, row.subject_id, row.position, row.image_sha256, row.pipeline_id)


def _check_gallery(gallery: str) -> None:
    if not GALLERY_NAME.match(gallery):
        raise InvalidArgument(
            f"gallery: expected 1-64 letters, digits, '-' or '_', got {gallery!r}",
            field="gallery",
        )


def _ensure_kind(s: Session, gallery: str, training: bool) -> None:
    """Create the gallery's row of this kind, or refuse when it exists as the other kind."""
    row = s.get(GalleryVersion, gallery)
    if row is None:
        s.add(GalleryVersion(gallery=gallery, version=0, training=training))
        s.flush()
    elif row.training != training:
        kind = "a training" if row.training else "a live"
        raise InvalidArgument(
            f"gallery: {gallery!r} exists as {kind} gallery; a gallery's kind never changes "
            "(training and live data stay apart)",
            field="gallery",
        )
