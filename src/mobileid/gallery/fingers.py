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
change only the rows touched are read again and applied in place (:mod:`.finger_grow`). With
a snapshot folder a set is also kept in sealed files (``finger_snapshot``: segments that a
change writes only where it touched them), opened by the next process with one decryption per
~16,000 rows and caught up from the log. Rows without a code (enrolled before migration
m0004) or with one made under other screen parameters get one computed from their template
when the gallery is read from the table, written back in batches, with progress. Rows are
written by :mod:`.finger_enrol`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobileid.database import Where, attach, close_database
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument
from mobileid.finger.index import screen_codes
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.threads import one_numpy_blas_thread
from mobileid.gallery.finger_cache import FeatureCache
from mobileid.gallery.finger_codes import Progress, Sealed, reseal
from mobileid.gallery.finger_enrol import check_gallery, check_positions, enrol_batch
from mobileid.gallery.finger_load import ScreenLoader
from mobileid.gallery.finger_rows import (
    FINGER_POSITIONS,
    FingerCapture,
    FingerEnrolment,
    FingerHit,
    FingerTemplateRow,
)
from mobileid.gallery.finger_screen import ScreenSet, SubjectCounts
from mobileid.gallery.resealing import reseal_in_batches
from mobileid.gallery.sealing import SecretBox
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

    With ``snapshots`` (a folder), each loaded set is also kept there in sealed files, so
    that the next process opens the gallery with a few decryptions (``finger_load``).
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
        self.flush_snapshots()
        if self._owns_engine:
            close_database(self.engine)

    def flush_snapshots(self, timeout: float | None = None) -> bool:
        """Wait until the snapshots being written in the background are written
        (``finger_writer``); False when ``timeout`` seconds passed first."""
        return self._screens.writer.flush(timeout)

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
        check_gallery(gallery)
        out: list[tuple[Subject, int]] = []
        pending: list[FingerEnrolment] = []
        for e in chain(enrolments, [None]):  # None: the end, where the last batch is written
            if e is not None:
                check_positions(e.captures)
                pending.append(e)
            if pending and (e is None or len(pending) == batch):
                now = self.clock()
                out += enrol_batch(self.engine, self._box, now, gallery, pending, training, uow)
                pending = []
        return out

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
    ) -> tuple[list[FingerHit], SubjectCounts]:
        """Screen every template of the probe's pipeline, check the ``shortlist`` best.

        Returns the checked hits, best first, and how many templates each subject of the
        gallery has in this pipeline (the number of comparisons its best score is a maximum of):
        a read-only view of the loaded set's counts (one entry per subject, up to a million at
        a million templates), counted only when first read, and their ``total``, known without
        counting (all that the service needs).
        """
        hits, counts = self.search_many(gallery, [probe], shortlist)
        return hits[0], counts

    def search_many(
        self, gallery: str, probes: Sequence[MatchFeatures], shortlist: int
    ) -> tuple[list[list[FingerHit]], SubjectCounts]:
        """:meth:`search` of each of ``probes`` (one pipeline; the views of a photo) with one
        check that the loaded set is current, one screen pass over its codes
        (:meth:`ScreenSet.shortlists`) and one read of the shortlisted rows.
        The same hits as one :meth:`search` per probe, in the order of ``probes``."""
        if len({p.pipeline_id for p in probes}) > 1:
            raise InvalidArgument(
                "probes: expected templates of one pipeline, got "
                f"{sorted({p.pipeline_id for p in probes})}",
                field="probes",
            )
        if not probes:
            return [], SubjectCounts(ScreenSet.empty(""))
        loaded = self._screens.load(gallery, probes[0].pipeline_id)
        lists = [rows for rows, _ in loaded.shortlists(screen_codes(list(probes)), shortlist)]
        features = self._shortlisted(gallery, loaded, np.unique(np.concatenate(lists)))
        one_numpy_blas_thread()  # small products: BLAS threads only spin (finger/threads.py)
        out = [_checked(p, rows, loaded, features) for p, rows in zip(probes, lists, strict=True)]
        return out, SubjectCounts(loaded)

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
        old_box, new_box = SecretBox(old), SecretBox(new)
        total = reseal_in_batches(
            self.engine,
            FingerTemplateRow,
            new_box.key_id,
            lambda row: reseal(row, old_box, new_box),
            batch=batch,
        )
        self._box = new_box
        self._screens.reset(new_box, new)
        self._features.clear()
        return total


def _checked(
    probe: MatchFeatures, rows: I64, loaded: ScreenSet, features: dict[int, MatchFeatures]
) -> list[FingerHit]:
    """The shortlisted ``rows`` compared with ``probe``, best first; a row whose template is
    not in ``features`` was deleted since the load and is no longer a hit."""
    hits = []
    for r in rows.tolist():
        row_id = int(loaded.ids[r])
        if row_id in features:
            m = match_features(probe, features[row_id])
            hits.append(FingerHit(loaded.subjects[r], loaded.positions[r], m.score, m.matched))
    return sorted(hits, key=lambda h: -h.score)
