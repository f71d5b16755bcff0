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
template of the gallery, then the geometric matcher on a shortlist. Each row stores its screen
code sealed in a column of its own, under associated data naming the row as the template's
does, so loading a gallery reads and opens only ids, subjects, positions and codes
(:mod:`.finger_screen`: ~1.1 GB in memory per million templates) and prepares nothing. The
shortlisted rows' templates are read from SQL at search time (a row deleted since the load is
no longer found there, so it is no hit) and their matcher's working form kept in a bounded
cache. The first search of a gallery loads it (:meth:`FingerGallery.preload` does it at
start-up instead); the database logs every change to the table (``finger_changes``, written by
triggers), so a search checks that its set is current with one index lookup, and after a
change only the rows touched are read again. With a snapshot folder a set is also kept in one
sealed file, opened with one decryption by the next process and caught up from the log. Rows
without a code (enrolled before migration m0004) or with one made under other screen
parameters get one computed from their template when the gallery is read from the table,
written back in batches, with progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session

from mobileid.database import Where, attach, close_database
from mobileid.database.unit_of_work import UnitOfWork, within
from mobileid.errors import InvalidArgument
from mobileid.finger.index import screen, screen_codes, screen_many
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.threads import one_numpy_blas_thread
from mobileid.gallery.embedded import GALLERY_NAME
from mobileid.gallery.finger_codes import Progress, Sealed, reseal
from mobileid.gallery.finger_load import ScreenLoader
from mobileid.gallery.finger_rows import (
    FINGER_POSITIONS,
    FingerCapture,
    FingerEnrolment,
    FingerHit,
    FingerTemplateRow,
    code_context,
    pack_code,
    pack_template,
    row_context,
)
from mobileid.gallery.finger_screen import FeatureCache, ScreenSet, code_layout, codes_of
from mobileid.gallery.sealing import SecretBox
from mobileid.gallery.store import (
    EmbeddingRow,
    GalleryVersion,
    SubjectRow,
    new_subject_row,
    stamp,
)
from mobileid.types import Subject

__all__ = [
    "FINGER_POSITIONS",
    "FingerCapture",
    "FingerEnrolment",
    "FingerGallery",
    "FingerHit",
]

Clock = Callable[[], datetime]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


class FingerGallery:
    """Finger templates in the embedded database; ``key`` seals them (never read from disk).

    With ``snapshots`` (a folder), each loaded set is also kept there in a sealed file, so
    that the next process opens the gallery with one decryption (``finger_load``).
    """

    def __init__(
        self,
        database: Where,
        *,
        key: bytes,
        clock: Clock = lambda: datetime.now(UTC),
        progress: Progress | None = None,
        snapshots: Path | None = None,
    ) -> None:
        self._box = SecretBox(key)
        self.engine, self._owns_engine = attach(database)
        self.clock = clock
        self._screens = ScreenLoader(self.engine, self._box, key, progress, snapshots)
        self._features = FeatureCache()

    def close(self) -> None:
        if self._owns_engine:
            close_database(self.engine)

    def enrol(
        self,
        gallery: str,
        reference: str,
        name: str,
        source: str,
        captures: Sequence[FingerCapture],
        *,
        training: bool = False,
        uow: UnitOfWork | None = None,
    ) -> tuple[Subject, int]:
        """Create or extend the subject known by ``reference`` with ``captures``, atomically.

        Images already enrolled (same hash, same pipeline) are skipped. The gallery is created
        of the given kind; an existing one of the other kind is refused. Returns the subject
        and the number of templates added. With ``uow`` the rows are written in the caller's
        unit of work (which appends the audit entry and commits both, or neither).
        """
        return self.enrol_many(
            gallery,
            [FingerEnrolment(reference, name, source, captures)],
            training=training,
            uow=uow,
        )[0]

    def enrol_many(
        self,
        gallery: str,
        enrolments: Iterable[FingerEnrolment],
        *,
        training: bool = False,
        uow: UnitOfWork | None = None,
        batch: int = 1,
    ) -> list[tuple[Subject, int]]:
        """:meth:`enrol` for many subjects, ``batch`` subjects per statement set (bulk loads).

        With ``uow`` every subject is written in the caller's unit of work, committed (with
        its audit entries) all or none. Without, each batch is a unit of work of its own: a
        failure rolls back its own batch only, earlier batches stay, and a rerun skips the
        images they stored. Returns (subject, templates added) per enrolment, in order.
        """
        if batch < 1:
            raise InvalidArgument(f"batch: expected >= 1, got {batch}", field="batch")
        _check_gallery(gallery)
        out: list[tuple[Subject, int]] = []
        pending: list[FingerEnrolment] = []
        for e in enrolments:
            _check_positions(e.captures)
            pending.append(e)
            if len(pending) == batch:
                out += self._enrol_batch(gallery, pending, training, uow)
                pending = []
        if pending:
            out += self._enrol_batch(gallery, pending, training, uow)
        return out

    def _enrol_batch(
        self,
        gallery: str,
        enrolments: list[FingerEnrolment],
        training: bool,
        uow: UnitOfWork | None,
    ) -> list[tuple[Subject, int]]:
        """In ``uow`` (or a unit of its own): subjects found or created, new images sealed and
        inserted in one statement (set-wise: a row at a time took ~2.5 ms a subject, mostly
        the ORM's flushes and per-image queries)."""
        now = stamp(self.clock())
        with within(self.engine, uow) as unit, unit.session.no_autoflush:
            s = unit.session
            _ensure_kind(s, gallery, training)
            rows = _subject_rows(s, gallery, enrolments, now)
            seen = self._stored_images(s, gallery, enrolments)
            inserts, added = [], []
            for e, row in zip(enrolments, rows, strict=True):
                fresh = [
                    c for c in e.captures if (c.image_sha256, c.template.pipeline_id) not in seen
                ]
                seen.update((c.image_sha256, c.template.pipeline_id) for c in fresh)
                inserts += [self._sealed_row(gallery, row.subject_id, c, now) for c in fresh]
                added.append(len(fresh))
            s.flush()  # new subjects first: template rows refer to them
            if inserts:
                s.execute(insert(FingerTemplateRow), inserts)
            faces = _face_counts(s, [r.subject_id for r in rows])
            out = []
            for row, n in zip(rows, added, strict=True):
                subject = Subject(
                    row.subject_id, row.name, row.gallery, row.source,
                    faces.get(row.subject_id, 0), row.created_at,
                )  # fmt: skip
                out.append((subject, n))
        return out

    def _sealed_row(
        self, gallery: str, subject_id: str, c: FingerCapture, now: str
    ) -> dict[str, str | bytes]:
        pid = c.template.pipeline_id
        context = row_context(gallery, subject_id, c.position, c.image_sha256, pid)
        tag, _ = code_layout()
        code = pack_code(codes_of([c.template])[0], tag)
        return {
            "subject_id": subject_id,
            "gallery": gallery,
            "position": c.position,
            "pipeline_id": pid,
            "image_sha256": c.image_sha256,
            "template": self._box.seal(pack_template(c.template), context),
            "screen_code": self._box.seal(
                code, code_context(gallery, subject_id, c.position, c.image_sha256, pid)
            ),
            "key_id": self._box.key_id,
            "created_at": now,
        }

    @staticmethod
    def _stored_images(
        s: Session, gallery: str, enrolments: list[FingerEnrolment]
    ) -> set[tuple[str, str]]:
        """(image hash, pipeline id) of the enrolments' images already in the gallery."""
        wanted: dict[str, set[str]] = {}
        for e in enrolments:
            for c in e.captures:
                wanted.setdefault(c.template.pipeline_id, set()).add(c.image_sha256)
        t = FingerTemplateRow
        found: set[tuple[str, str]] = set()
        for pid, shas in wanted.items():
            for part in _parts(sorted(shas)):
                q = select(t.image_sha256).where(
                    t.gallery == gallery, t.pipeline_id == pid, t.image_sha256.in_(part)
                )
                found.update((sha, pid) for sha in s.scalars(q))
        return found

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
        loaded = self._screens.load(gallery, probe.pipeline_id)
        rows, _ = self._screen(loaded, probe, shortlist)
        features = self._shortlisted(gallery, loaded, rows)
        hits = []
        one_numpy_blas_thread()  # small products: BLAS threads only spin (finger/threads.py)
        for r in rows.tolist():
            row_id = int(loaded.ids[r])
            if row_id in features:  # else deleted since the load: no longer a hit
                m = match_features(probe, features[row_id])
                hits.append(FingerHit(loaded.subjects[r], loaded.positions[r], m.score, m.matched))
        hits.sort(key=lambda h: -h.score)
        return hits, dict(loaded.per_subject)

    def search_many(
        self, gallery: str, probes: Sequence[MatchFeatures], shortlist: int
    ) -> tuple[list[list[FingerHit]], dict[str, int]]:
        """:meth:`search` of each of ``probes`` (one pipeline; the views of a photo) with one
        check that the loaded set is current, one screen pass over its codes
        (:func:`~mobileid.finger.index.screen_many`) and one read of the shortlisted rows.
        The same hits as one :meth:`search` per probe, in the order of ``probes``."""
        if len({p.pipeline_id for p in probes}) > 1:
            raise InvalidArgument(
                "probes: expected templates of one pipeline, got "
                f"{sorted({p.pipeline_id for p in probes})}",
                field="probes",
            )
        if not probes:
            return [], {}
        loaded = self._screens.load(gallery, probes[0].pipeline_id)
        if loaded.size:
            found = screen_many(screen_codes(list(probes)), loaded.codes, shortlist)
            lists = [rows for rows, _ in found]
        else:
            lists = [np.zeros(0, np.int64) for _ in probes]
        features = self._shortlisted(gallery, loaded, np.unique(np.concatenate(lists)))
        one_numpy_blas_thread()
        out = []
        for probe, rows in zip(probes, lists, strict=True):
            hits = []
            for r in rows.tolist():
                row_id = int(loaded.ids[r])
                if row_id in features:  # else deleted since the load: no longer a hit
                    m = match_features(probe, features[row_id])
                    hits.append(
                        FingerHit(loaded.subjects[r], loaded.positions[r], m.score, m.matched)
                    )
            out.append(sorted(hits, key=lambda h: -h.score))
        return out, dict(loaded.per_subject)

    @staticmethod
    def _screen(loaded: ScreenSet, probe: MatchFeatures, size: int) -> tuple[I64, F32]:
        if not loaded.size:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return screen(screen_codes([probe])[0], loaded.codes, size)

    def _shortlisted(self, gallery: str, loaded: ScreenSet, rows: I64) -> dict[int, MatchFeatures]:
        """Prepared templates of the shortlisted ``rows`` still in the table, by row id: read
        from SQL in one query, opened and prepared unless the cache holds them."""
        pid = loaded.pipeline_id
        found = self._screens.rows(gallery, pid, loaded.ids[rows].tolist())
        return {r.id: self._features.get(r.id, self._preparer(r, gallery, pid)) for r in found}

    def _preparer(self, row: Sealed, gallery: str, pid: str) -> Callable[[], MatchFeatures]:
        return lambda: prepare(self._screens.box_for(gallery, pid).template(row))

    def preload(self, gallery: str, pipeline_id: str) -> int:
        """Load the gallery's templates of ``pipeline_id`` for search now, rather than at its
        first search (seconds per million templates; minutes where rows still lack a code);
        returns the templates loaded."""
        return self._screens.load(gallery, pipeline_id).size

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
        """Re-seal every template row (its template and its screen code) under ``new``,
        ``batch`` rows per transaction; rows already under ``new`` are skipped, so a rerun
        finishes an interrupted rotation. From then on this gallery uses ``new``. Returns the
        rows re-sealed.

        ``service.keys.rotate_deployment_key`` calls this before it deletes the retired key.
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
                    if row.key_id != new_box.key_id:
                        reseal(row, old_box, new_box)
                        total += 1
            if len(rows) < batch:
                break
        self._box = new_box
        self._screens.reset(new_box, new)
        self._features.clear()
        return total


_T = TypeVar("_T")
_IN_LIMIT = 500  # values per SQL IN list (SQLite allows 32,766 parameters a statement)


def _parts(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for i in range(0, len(values), _IN_LIMIT):
        yield values[i : i + _IN_LIMIT]


def _subject_rows(
    s: Session, gallery: str, enrolments: list[FingerEnrolment], now: str
) -> list[SubjectRow]:
    """Each enrolment's subject: found by reference, or created (in ``s``) when new."""
    refs = sorted({e.reference for e in enrolments})
    known: dict[str, SubjectRow] = {}
    for part in _parts(refs):
        q = select(SubjectRow).where(SubjectRow.gallery == gallery, SubjectRow.reference.in_(part))
        known.update((r.reference, r) for r in s.scalars(q))
    rows = []
    for e in enrolments:
        if e.reference not in known:  # not stored (asked above): no query per new subject
            known[e.reference] = new_subject_row(gallery, e.reference, e.name, e.source, now)
            s.add(known[e.reference])
        rows.append(known[e.reference])
    return rows


def _face_counts(s: Session, subject_ids: list[str]) -> dict[str, int]:
    ids = sorted(set(subject_ids))
    out: dict[str, int] = {}
    for part in _parts(ids):
        q = (
            select(EmbeddingRow.subject_id, func.count())
            .where(EmbeddingRow.subject_id.in_(part))
            .group_by(EmbeddingRow.subject_id)
        )
        out.update((sid, int(n)) for sid, n in s.execute(q))
    return out


def _check_positions(captures: Sequence[FingerCapture]) -> None:
    for c in captures:
        if c.position not in FINGER_POSITIONS:
            raise InvalidArgument(
                f"position: expected one of {list(FINGER_POSITIONS)}, got {c.position!r}",
                field="position",
            )


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
