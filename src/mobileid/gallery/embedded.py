"""The gallery: subjects and embeddings in SQL (the source of truth), vectors in an index.

The vector index (``vectors.py``: embedded FAISS files by default, or Milvus) knows only ids,
vectors and partitions; every change to embeddings is logged with a sequence number in the
same transaction (``changes.py``), and the index catches up from it before a search
(``sync.py``). Embedding vectors and index files are sealed under the deployment key (see
``sealing.py``); the key is given to the constructor, never read from disk here. The SQL
queries on subjects and the rows an enrolment adds are in ``subjects.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mobileid.database import Where, attach, close_database
from mobileid.database.unit_of_work import UnitOfWork, within
from mobileid.errors import BackendUnavailable, InvalidArgument, NotFound
from mobileid.gallery import bulk, changes, upkeep
from mobileid.gallery import subjects as stored
from mobileid.gallery.bulk import BulkEnrolled, EnrolBatch
from mobileid.gallery.faiss_files import remove_index_files
from mobileid.gallery.faiss_index import FaissVectorIndex, set_search_threads
from mobileid.gallery.protocol import Purged
from mobileid.gallery.sealing import SecretBox
from mobileid.gallery.store import (
    EmbeddingRow,
    GalleryVersion,
    SubjectRow,
    bump_version,
    stamp,
    subject_row,
)
from mobileid.gallery.subjects import GALLERY_NAME
from mobileid.gallery.sync import VectorSync
from mobileid.gallery.vectors import Partition, VectorIndex
from mobileid.types import SearchHit, Subject, Vector

__all__ = ["GALLERY_NAME", "Clock", "EmbeddedGallery", "Progress"]

log = logging.getLogger("mobileid.gallery")

Progress = Callable[[int, int], None]
Clock = Callable[[], datetime]


class EmbeddedGallery:
    """A ``GalleryIndex`` over one SQL database and a ``VectorIndex`` (by default FAISS
    files in ``index_dir``: no server needed).

    ``key`` is the 32-byte deployment key that seals embeddings and index files; ``clock``
    gives the time stored with new subjects and captures (the retention rules read it).
    Rows of a database written before encryption are sealed when it is first opened.
    """

    def __init__(
        self,
        database: Where,
        index_dir: Path,
        *,
        key: bytes,
        progress: Progress | None = None,
        search_threads: int = 1,
        clock: Clock = lambda: datetime.now(UTC),
        vectors: VectorIndex | None = None,
    ):
        self._box = SecretBox(key)
        set_search_threads(search_threads)
        self.engine, self._owns_engine = attach(database)
        self.index_dir = index_dir
        self.progress = progress
        self.clock = clock
        self.vectors: VectorIndex = vectors or FaissVectorIndex(index_dir, key=key)
        self.sync = VectorSync(self.engine, self.vectors, lambda: self._box, progress)
        upkeep.seal_plaintext(self.engine, self._box)

    @property
    def key_id(self) -> str:
        """The public fingerprint of the key in use (never the key)."""
        return self._box.key_id

    def close(self) -> None:
        self.sync.counts.join()  # before the rebuilds: a count may start one
        for thread in list(self.sync.building.values()):
            thread.join()
        self.vectors.close()
        if self._owns_engine:
            close_database(self.engine)

    # --- subjects -------------------------------------------------------------------------
    def enrol(
        self,
        gallery: str,
        reference: str,
        name: str,
        source: str,
        embeddings: Sequence[tuple[str, Vector]],
        pipeline_id: str,
        *,
        uow: UnitOfWork | None = None,
    ) -> tuple[Subject, int]:
        checked = [(sha, stored.check_vector(v)) for sha, v in embeddings]
        if not GALLERY_NAME.match(gallery):
            self.create_gallery(gallery, training=False)  # raises the naming error
        now = stamp(self.clock())
        with within(self.engine, uow) as unit:
            s = unit.session
            row = subject_row(s, gallery, reference, name, source, now)
            added = stored.new_embeddings(s, self._box, row, pipeline_id, checked, now)
            s.add_all(added)
            s.flush()
            if added:
                bump_version(s, gallery)
                changes.log_added(s, gallery, pipeline_id, [e.id for e in added])
            count = s.scalar(select(func.count()).where(EmbeddingRow.subject_id == row.subject_id))
            subject = stored.subject_value(row, int(count or 0))
        return subject, len(added)

    def enrol_many(
        self,
        gallery: str,
        batches: Iterable[EnrolBatch],
        pipeline_id: str,
        *,
        training: bool = False,
        uow: UnitOfWork | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> BulkEnrolled:
        """Enrol many embeddings (see ``bulk.py``): every batch in ``uow`` when given (with
        the caller's audit entry), else one unit of work of its own per batch. The gallery is
        created of the given kind when new."""
        self.create_gallery(gallery, training=training)
        now = stamp(self.clock())
        return bulk.enrol_many(
            self.engine, self._box, gallery, pipeline_id, batches, now, uow, progress
        )

    def has_image(self, gallery: str, image_sha256: str, pipeline_id: str) -> bool:
        return stored.has_image(self.engine, gallery, image_sha256, pipeline_id)

    def remove(self, subject_id: str, *, uow: UnitOfWork | None = None) -> Subject:
        with within(self.engine, uow) as unit:
            s = unit.session
            row = s.get(SubjectRow, subject_id)
            if row is None:
                raise NotFound(f"subject_id: no subject {subject_id!r}", field="subject_id")
            n = s.scalar(select(func.count()).where(EmbeddingRow.subject_id == subject_id))
            subject = stored.subject_value(row, int(n or 0))
            gone = s.execute(
                select(EmbeddingRow.gallery, EmbeddingRow.pipeline_id, EmbeddingRow.id).where(
                    EmbeddingRow.subject_id == subject_id
                )
            ).all()
            changes.log_removed(s, [(g, p, i) for g, p, i in gone])
            partitions = {Partition(g, p) for g, p, _ in gone}
            s.execute(delete(EmbeddingRow).where(EmbeddingRow.subject_id == subject_id))
            s.execute(delete(SubjectRow).where(SubjectRow.subject_id == subject_id))
            bump_version(s, subject.gallery)
            unit.after_commit(lambda: self._forget_removed(partitions))
        return subject

    def _forget_removed(self, partitions: set[Partition]) -> None:
        """Apply removals to the vector index now, which rewrites its file: a sealed index file
        would otherwise hold deleted or purged vectors until the next search. A partition with
        no index in memory or on disk holds nothing to remove."""
        for partition in partitions:
            try:
                if self.vectors.applied(partition) is not None:
                    self.sync.catch_up(partition)
            except BackendUnavailable as exc:
                # The removal is committed and in the change log: failing it now would tell
                # the caller it did not happen. The index (a server, never the sealed file)
                # applies it at its next catch-up; until then every hit is checked in SQL.
                log.warning("removal left for the next catch-up of %s: %s", partition, exc)

    def get(self, subject_id: str) -> Subject:
        return stored.get_subject(self.engine, subject_id)

    def subjects(self, gallery: str | None = None) -> list[Subject]:
        return stored.list_subjects(self.engine, gallery)

    def create_gallery(self, gallery: str, *, training: bool) -> None:
        """Create a gallery of the given kind; an existing one must be of the same kind."""
        if not GALLERY_NAME.match(gallery):
            raise InvalidArgument(
                f"gallery: expected 1-64 letters, digits, '-' or '_', got {gallery!r}",
                field="gallery",
            )
        with Session(self.engine) as s, s.begin():
            stored.ensure_kind(s, gallery, training)

    def galleries(self, training: bool | None = None) -> list[str]:
        """Gallery names (of one kind, when given), from the version table: no table scan."""
        q = select(GalleryVersion.gallery).order_by(GalleryVersion.gallery)
        if training is not None:
            q = q.where(GalleryVersion.training == training)
        with Session(self.engine) as s:
            return list(s.scalars(q))

    def count(self, gallery: str, pipeline_id: str | None = None) -> int:
        if pipeline_id is not None:  # the index's count, once caught up: no table scan
            partition = Partition(gallery, pipeline_id)
            self.sync.catch_up(partition)
            return self.vectors.count(partition)
        return stored.count_rows(self.engine, gallery, None)

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, Subject]:
        """Several subjects in one query (unknown ids are left out)."""
        return stored.subjects_by_id(self.engine, subject_ids)

    # --- search ---------------------------------------------------------------------------
    def search(self, gallery: str, probe: Vector, pipeline_id: str, k: int) -> list[SearchHit]:
        if k < 1:
            raise InvalidArgument(f"top: expected a whole number >= 1, got {k}", field="top")
        return self.sync.search(Partition(gallery, pipeline_id), stored.check_vector(probe), k)

    def search_many(
        self, gallery: str, probes: npt.ArrayLike, pipeline_id: str, k: int
    ) -> list[list[SearchHit]]:
        """``search`` for each row of ``probes``, in one request to the vector index."""
        if k < 1:
            raise InvalidArgument(f"top: expected a whole number >= 1, got {k}", field="top")
        return self.sync.search_many(Partition(gallery, pipeline_id), np.asarray(probes), k)

    def subject_vectors(
        self, gallery: str, subject_id: str, pipeline_id: str
    ) -> npt.NDArray[np.float32]:
        """The subject's embeddings made by ``pipeline_id`` (rows of unit vectors)."""
        return self.sync.subject_vectors(Partition(gallery, pipeline_id), subject_id).vectors

    def catch_up(self, gallery: str, pipeline_id: str) -> int:
        """Bring the partition's vector index up to date with SQL now (a server does this
        before its first search); returns the embeddings applied."""
        return self.sync.catch_up(Partition(gallery, pipeline_id))

    # --- retention ------------------------------------------------------------------------
    def retention(self, gallery: str) -> int | None:
        return upkeep.retention(self.engine, gallery)

    def retention_rules(self) -> dict[str, int | None]:
        """Every gallery's retention rule in hours (None: no rule), by name."""
        return upkeep.retention_rules(self.engine)

    def set_retention(
        self, gallery: str, hours: int | None, *, uow: UnitOfWork | None = None
    ) -> int | None:
        return upkeep.set_retention(self.engine, gallery, hours, uow)

    def purge_before(
        self, gallery: str, cutoff: datetime, *, uow: UnitOfWork | None = None
    ) -> Purged:
        with Session(self.engine) as s:
            pipelines = s.scalars(
                select(EmbeddingRow.pipeline_id).where(EmbeddingRow.gallery == gallery).distinct()
            ).all()
        with within(self.engine, uow) as unit:
            purged = upkeep.purge_before(self.engine, gallery, cutoff, unit)
            if purged.embeddings_deleted:
                partitions = {Partition(gallery, p) for p in pipelines}
                unit.after_commit(lambda: self._forget_removed(partitions))
        return purged

    # --- keys -----------------------------------------------------------------------------
    def key_ids(self) -> dict[str | None, int]:
        return upkeep.key_ids(self.engine)

    def rotate_key(
        self, old: bytes, new: bytes, *, batch: int = 5_000, uow: UnitOfWork | None = None
    ) -> int:
        """Re-seal every embedding under ``new`` (see ``upkeep.reseal_rows``: the last batch
        in ``uow`` when given), then, once that has committed, drop the index files sealed
        under ``old``; from then on this gallery uses ``new``."""
        new_box = SecretBox(new)
        with within(self.engine, uow) as unit:
            n = upkeep.reseal_rows(self.engine, SecretBox(old), new_box, batch=batch, uow=unit)
            unit.after_commit(lambda: self._use_key(new, new_box))
        return n

    def _use_key(self, new: bytes, box: SecretBox) -> None:
        self._box = box
        if isinstance(self.vectors, FaissVectorIndex):
            self.vectors.rekey(new)
        remove_index_files(self.index_dir)
