"""The embedded gallery: SQLite (via SQLAlchemy) as the source of truth, FAISS for search."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.faiss_index import DIM, FlatIndex, index_stem, set_search_threads
from mobileid.gallery.store import EmbeddingRow, GalleryVersion, SubjectRow, open_engine
from mobileid.types import SearchHit, Subject, Vector

Progress = Callable[[int, int], None]

_BATCH = 50_000


def _subject(row: SubjectRow, count: int) -> Subject:
    return Subject(
        subject_id=row.subject_id,
        name=row.name,
        gallery=row.gallery,
        source=row.source,
        embeddings=count,
        created_at=row.created_at,
    )


def _check_vector(vector: Vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape != (DIM,) or not np.all(np.isfinite(v)):
        raise InvalidArgument(
            f"embedding: expected {DIM} finite numbers, got shape {np.shape(vector)}",
            field="embedding",
        )
    return v


class EmbeddedGallery:
    """A ``GalleryIndex`` that needs no server: one SQLite file and FAISS index files."""

    def __init__(
        self,
        database: Path,
        index_dir: Path,
        progress: Progress | None = None,
        search_threads: int = 1,
    ):
        set_search_threads(search_threads)
        self.engine = open_engine(database)
        self.index_dir = index_dir
        self.progress = progress
        self._indexes: dict[tuple[str, str], FlatIndex] = {}

    def close(self) -> None:
        self.engine.dispose()

    # --- subjects -------------------------------------------------------------------------
    def enrol(
        self,
        gallery: str,
        reference: str,
        name: str,
        source: str,
        embeddings: Sequence[tuple[str, Vector]],
        pipeline_id: str,
    ) -> tuple[Subject, int]:
        checked = [(sha, _check_vector(v)) for sha, v in embeddings]
        with Session(self.engine) as s, s.begin():
            row = s.scalar(
                select(SubjectRow).where(
                    SubjectRow.gallery == gallery, SubjectRow.reference == reference
                )
            )
            if row is None:
                row = SubjectRow(
                    subject_id="S" + uuid.uuid4().hex[:15],
                    gallery=gallery,
                    reference=reference,
                    name=name,
                    source=source,
                )
                s.add(row)
            seen = set(
                s.scalars(
                    select(EmbeddingRow.image_sha256).where(
                        EmbeddingRow.gallery == gallery,
                        EmbeddingRow.pipeline_id == pipeline_id,
                        EmbeddingRow.image_sha256.in_([sha for sha, _ in checked]),
                    )
                )
            )
            added = []
            for sha, v in checked:
                if sha in seen:
                    continue
                seen.add(sha)
                added.append(v)
                s.add(
                    EmbeddingRow(
                        subject_id=row.subject_id,
                        gallery=gallery,
                        pipeline_id=pipeline_id,
                        image_sha256=sha,
                        vector=v.astype("<f4").tobytes(),
                    )
                )
            if added:
                self._bump(s, gallery)
            s.flush()
            count = s.scalar(select(func.count()).where(EmbeddingRow.subject_id == row.subject_id))
            subject = _subject(row, int(count or 0))
        self._indexes.pop((gallery, pipeline_id), None)
        return subject, len(added)

    def has_image(self, gallery: str, image_sha256: str, pipeline_id: str) -> bool:
        with Session(self.engine) as s:
            return (
                s.scalar(
                    select(EmbeddingRow.id).where(
                        EmbeddingRow.gallery == gallery,
                        EmbeddingRow.pipeline_id == pipeline_id,
                        EmbeddingRow.image_sha256 == image_sha256,
                    )
                )
                is not None
            )

    def remove(self, subject_id: str) -> Subject:
        with Session(self.engine) as s, s.begin():
            row = s.get(SubjectRow, subject_id)
            if row is None:
                raise NotFound(f"subject_id: no subject {subject_id!r}", field="subject_id")
            n = s.scalar(select(func.count()).where(EmbeddingRow.subject_id == subject_id))
            subject = _subject(row, int(n or 0))
            s.execute(delete(EmbeddingRow).where(EmbeddingRow.subject_id == subject_id))
            s.execute(delete(SubjectRow).where(SubjectRow.subject_id == subject_id))
            self._bump(s, subject.gallery)
        self._indexes = {k: v for k, v in self._indexes.items() if k[0] != subject.gallery}
        return subject

    def get(self, subject_id: str) -> Subject:
        with Session(self.engine) as s:
            row = s.get(SubjectRow, subject_id)
            if row is None:
                raise NotFound(f"subject_id: no subject {subject_id!r}", field="subject_id")
            return _subject(row, len(row.embeddings))

    def subjects(self, gallery: str | None = None) -> list[Subject]:
        counts = (
            select(EmbeddingRow.subject_id, func.count().label("n"))
            .group_by(EmbeddingRow.subject_id)
            .subquery()
        )
        q = (
            select(SubjectRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.subject_id == SubjectRow.subject_id)
            .order_by(SubjectRow.gallery, SubjectRow.name, SubjectRow.subject_id)
        )
        if gallery is not None:
            q = q.where(SubjectRow.gallery == gallery)
        with Session(self.engine) as s:
            return [_subject(row, int(n)) for row, n in s.execute(q)]

    def galleries(self) -> list[str]:
        """Galleries that have ever been enrolled into (one version row each: no table scan)."""
        with Session(self.engine) as s:
            return list(s.scalars(select(GalleryVersion.gallery).order_by(GalleryVersion.gallery)))

    def count(self, gallery: str, pipeline_id: str | None = None) -> int:
        if pipeline_id is not None:
            return self.index(gallery, pipeline_id).size  # no table scan per search
        return self._count_rows(gallery, None)

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, Subject]:
        """Several subjects in one query (unknown ids are left out)."""
        ids = list(dict.fromkeys(subject_ids))
        counts = (
            select(EmbeddingRow.subject_id, func.count().label("n"))
            .where(EmbeddingRow.subject_id.in_(ids))
            .group_by(EmbeddingRow.subject_id)
            .subquery()
        )
        q = (
            select(SubjectRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.subject_id == SubjectRow.subject_id)
            .where(SubjectRow.subject_id.in_(ids))
        )
        with Session(self.engine) as s:
            return {row.subject_id: _subject(row, int(n)) for row, n in s.execute(q)}

    def _count_rows(self, gallery: str, pipeline_id: str | None) -> int:
        q = select(func.count()).select_from(EmbeddingRow).where(EmbeddingRow.gallery == gallery)
        if pipeline_id is not None:
            q = q.where(EmbeddingRow.pipeline_id == pipeline_id)
        with Session(self.engine) as s:
            return int(s.scalar(q) or 0)

    # --- search ---------------------------------------------------------------------------
    def search(self, gallery: str, probe: Vector, pipeline_id: str, k: int) -> list[SearchHit]:
        if k < 1:
            raise InvalidArgument(f"top: expected a whole number >= 1, got {k}", field="top")
        return self.index(gallery, pipeline_id).search(_check_vector(probe), k)

    def index(self, gallery: str, pipeline_id: str) -> FlatIndex:
        """The search index, loaded from its file or rebuilt when missing or out of step."""
        version = self.version(gallery)
        key = (gallery, pipeline_id)
        cached = self._indexes.get(key)
        if cached is not None and cached.version == version:
            return cached
        stem = index_stem(self.index_dir, gallery, pipeline_id)
        loaded = FlatIndex.load(stem)
        if loaded is None or loaded.version != version:
            loaded = self._rebuild(gallery, pipeline_id, version)
            loaded.save(stem)
        self._indexes[key] = loaded
        return loaded

    def version(self, gallery: str) -> int:
        with Session(self.engine) as s:
            return int(
                s.scalar(select(GalleryVersion.version).where(GalleryVersion.gallery == gallery))
                or 0
            )

    def _rebuild(self, gallery: str, pipeline_id: str, version: int) -> FlatIndex:
        flat = FlatIndex(version=version)
        total = self._count_rows(gallery, pipeline_id)
        q = (
            select(EmbeddingRow.subject_id, EmbeddingRow.vector)
            .where(EmbeddingRow.gallery == gallery, EmbeddingRow.pipeline_id == pipeline_id)
            .order_by(EmbeddingRow.id)
            .execution_options(yield_per=_BATCH)
        )
        with Session(self.engine) as s:
            for part in s.execute(q).partitions(_BATCH):
                vectors = np.frombuffer(b"".join(r[1] for r in part), dtype="<f4").reshape(-1, DIM)
                flat.add(vectors, [r[0] for r in part])
                if self.progress:
                    self.progress(flat.size, total)
        return flat

    @staticmethod
    def _bump(s: Session, gallery: str) -> None:
        row = s.get(GalleryVersion, gallery)
        if row is None:
            s.add(GalleryVersion(gallery=gallery, version=1))
        else:
            row.version += 1
