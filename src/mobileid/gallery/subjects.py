"""The face gallery's subjects and embedding rows in SQL: the queries that read them, the rows
one enrolment adds, and the checks on what may enter (gallery names, vectors).

Each function takes the gallery's engine or the session of the caller's unit of work;
``EmbeddedGallery`` (``gallery.embedded``) is the public face over them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.sealing import SecretBox, row_context, seal_vector
from mobileid.gallery.store import EmbeddingRow, GalleryVersion, SubjectRow
from mobileid.gallery.vectors import DIM
from mobileid.types import Subject, Vector

GALLERY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def subject_value(row: SubjectRow, count: int) -> Subject:
    """The typed subject of ``row``, holding ``count`` embeddings."""
    return Subject(
        subject_id=row.subject_id,
        name=row.name,
        gallery=row.gallery,
        source=row.source,
        embeddings=count,
        created_at=row.created_at,
    )


def check_vector(vector: Vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape != (DIM,) or not np.all(np.isfinite(v)):
        raise InvalidArgument(
            f"embedding: expected {DIM} finite numbers, got shape {np.shape(vector)}",
            field="embedding",
        )
    return v


def new_embeddings(
    s: Session,
    box: SecretBox,
    row: SubjectRow,
    pipeline_id: str,
    checked: Sequence[tuple[str, np.ndarray]],
    now: str,
) -> list[EmbeddingRow]:
    """The sealed rows for those of ``checked`` (image sha256, vector) whose image the
    subject's gallery does not hold yet under ``pipeline_id`` (each image once)."""
    gallery = row.gallery
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
        context = row_context(gallery, row.subject_id, sha, pipeline_id)
        added.append(
            EmbeddingRow(
                subject_id=row.subject_id,
                gallery=gallery,
                pipeline_id=pipeline_id,
                image_sha256=sha,
                vector=seal_vector(box, v, context),
                key_id=box.key_id,
                created_at=now,
            )
        )
    return added


def has_image(engine: Engine, gallery: str, image_sha256: str, pipeline_id: str) -> bool:
    with Session(engine) as s:
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


def get_subject(engine: Engine, subject_id: str) -> Subject:
    with Session(engine) as s:
        row = s.get(SubjectRow, subject_id)
        if row is None:
            raise NotFound(f"subject_id: no subject {subject_id!r}", field="subject_id")
        return subject_value(row, len(row.embeddings))


def list_subjects(engine: Engine, gallery: str | None) -> list[Subject]:
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
    with Session(engine) as s:
        return [subject_value(row, int(n)) for row, n in s.execute(q)]


def subjects_by_id(engine: Engine, subject_ids: Sequence[str]) -> dict[str, Subject]:
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
    with Session(engine) as s:
        return {row.subject_id: subject_value(row, int(n)) for row, n in s.execute(q)}


def count_rows(engine: Engine, gallery: str, pipeline_id: str | None) -> int:
    q = select(func.count()).select_from(EmbeddingRow).where(EmbeddingRow.gallery == gallery)
    if pipeline_id is not None:
        q = q.where(EmbeddingRow.pipeline_id == pipeline_id)
    with Session(engine) as s:
        return int(s.scalar(q) or 0)


def ensure_kind(s: Session, gallery: str, training: bool) -> None:
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
