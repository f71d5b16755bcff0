"""Bulk enrolment: many subjects and embeddings per transaction, for migrations and benchmarks.

One ``enrol`` per subject costs a transaction and several queries: fine from a camera, far too
slow for a million records moved from another system. Here each batch is one transaction of a
few set-based statements; it logs its changes like any enrolment, so every vector index
catches up incrementally.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.database.unit_of_work import UnitOfWork, within
from mobileid.errors import InvalidArgument
from mobileid.gallery import changes
from mobileid.gallery.sealing import SecretBox, row_context, seal_vector
from mobileid.gallery.store import EmbeddingRow, SubjectRow, bump_version
from mobileid.gallery.vectors import DIM, Matrix, check_matrix

_SUBJECTS = cast(Table, SubjectRow.__table__)
_EMBEDDINGS = cast(Table, EmbeddingRow.__table__)
_IN_CHUNK = 900


@dataclass(frozen=True)
class EnrolBatch:
    """Embeddings to enrol: row i is image ``image_sha256s[i]`` of the subject known by
    ``references[i]`` (created, named ``names[i]``, when new)."""

    references: Sequence[str]
    names: Sequence[str]
    image_sha256s: Sequence[str]
    vectors: Matrix
    source: str


@dataclass(frozen=True)
class BulkEnrolled:
    subjects_created: int
    embeddings_added: int
    embeddings_skipped: int  # images already enrolled in the gallery under the pipeline


def check(batch: EnrolBatch) -> Matrix:
    vectors = check_matrix(batch.vectors, DIM)
    n = len(vectors)
    for field in ("references", "names", "image_sha256s"):
        got = len(getattr(batch, field))
        if got != n:
            raise InvalidArgument(f"{field}: expected one per vector ({n}), got {got}", field=field)
    return vectors


def _existing(s: Session, column: Any, where: Any, values: Sequence[str]) -> dict[str, Any]:
    """{value: row} for values of ``column`` that exist under ``where``."""
    out: dict[str, Any] = {}
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), _IN_CHUNK):
        q = select(column, *where[1]).where(
            *where[0], column.in_(unique[start : start + _IN_CHUNK])
        )
        out.update({r[0]: r for r in s.execute(q)})
    return out


def enrol_batch(
    s: Session, box: SecretBox, gallery: str, pipeline_id: str, batch: EnrolBatch, now: str
) -> tuple[int, int, int]:
    """(subjects created, embeddings added, skipped) for one batch, in the caller's session."""
    vectors = check(batch)
    known = _existing(
        s,
        SubjectRow.reference,
        ([SubjectRow.gallery == gallery], [SubjectRow.subject_id]),
        batch.references,
    )
    subject_of = {ref: row[1] for ref, row in known.items()}
    new = []
    for ref, name in zip(batch.references, batch.names, strict=True):
        if ref not in subject_of:
            subject_of[ref] = "S" + uuid.uuid4().hex[:15]
            new.append(
                {"subject_id": subject_of[ref], "gallery": gallery, "reference": ref}
                | {"name": name, "source": batch.source, "created_at": now}
            )
    seen = set(
        _existing(
            s,
            EmbeddingRow.image_sha256,
            ([EmbeddingRow.gallery == gallery, EmbeddingRow.pipeline_id == pipeline_id], []),
            batch.image_sha256s,
        )
    )
    rows = []
    for ref, sha, v in zip(batch.references, batch.image_sha256s, vectors, strict=True):
        if sha in seen:
            continue
        seen.add(sha)
        sid = subject_of[ref]
        rows.append(
            {"subject_id": sid, "gallery": gallery, "pipeline_id": pipeline_id}
            | {"image_sha256": sha, "key_id": box.key_id, "created_at": now}
            | {"vector": seal_vector(box, v, row_context(gallery, sid, sha, pipeline_id))}
        )
    if new:
        s.execute(insert(_SUBJECTS), new)
    if rows:
        ids = s.scalars(insert(_EMBEDDINGS).returning(_EMBEDDINGS.c.id), rows).all()
        changes.log_added(s, gallery, pipeline_id, ids)
        bump_version(s, gallery)
    return len(new), len(rows), len(vectors) - len(rows)


def enrol_many(
    engine: Engine,
    box: SecretBox,
    gallery: str,
    pipeline_id: str,
    batches: Iterable[EnrolBatch],
    now: str,
    uow: UnitOfWork | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkEnrolled:
    """Every batch in ``uow`` (the caller commits all or none, with its audit entry), or
    without one, each batch in a unit of its own: a failed batch writes nothing, and the
    batches before it stay enrolled."""
    created = added = skipped = 0
    for batch in batches:
        with within(engine, uow) as unit:
            c, a, k = enrol_batch(unit.session, box, gallery, pipeline_id, batch, now)
        created, added, skipped = created + c, added + a, skipped + k
        if progress:
            progress(added)
    return BulkEnrolled(created, added, skipped)
