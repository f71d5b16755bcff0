"""Bulk enrolment: many subjects and embeddings per transaction, for migrations and benchmarks.

One ``enrol`` per subject costs a transaction and several queries: fine from a camera, far too
slow for a million records moved from another system. Here each batch is one transaction of a
few set-based statements; it logs its changes like any enrolment, so every vector index
catches up incrementally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mobileid.database.unit_of_work import UnitOfWork, within
from mobileid.errors import InvalidArgument
from mobileid.gallery import changes
from mobileid.gallery.sealing import SecretBox, row_context
from mobileid.gallery.store import (
    EmbeddingRow,
    SubjectRow,
    bump_version,
    insert_rows,
    param_mark,
)
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


def _existing(
    s: Session, table: Table, pick: tuple[str, str], where: dict[str, str], values: Sequence[str]
) -> dict[str, Any]:
    """{value: other} for values of ``pick[0]`` that exist in ``table`` under the equalities
    ``where``, with that row's ``pick[1]``. Driver SQL: expanding the IN lists through
    SQLAlchemy cost more CPU than SQLite's lookups (about a third of a bulk batch)."""
    conn = s.connection()
    mark = param_mark(conn)
    conds = "".join(f"{name} = {mark} AND " for name in where)
    unique = list(dict.fromkeys(values))
    found: dict[str, Any] = {}
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        sql = (
            f"SELECT {pick[0]}, {pick[1]} FROM {table.name} WHERE {conds}"
            f"{pick[0]} IN ({', '.join([mark] * len(chunk))})"
        )
        found.update((r[0], r[1]) for r in conn.exec_driver_sql(sql, (*where.values(), *chunk)))
    return found


_SUBJECT_COLUMNS = ("subject_id", "gallery", "reference", "name", "source", "created_at")
_EMBEDDING_COLUMNS = (
    *("id", "subject_id", "gallery", "pipeline_id", "image_sha256", "key_id", "created_at"),
    "vector",
)


def _new_subject_ids(n: int) -> list[str]:
    """``n`` ids of the form ``enrol`` gives ("S" + 15 hex digits), from one random read:
    a ``uuid4`` per subject took a quarter of the time of a bulk batch."""
    raw = os.urandom(8 * n).hex()
    return ["S" + raw[16 * i : 16 * i + 15] for i in range(n)]


def enrol_batch(
    s: Session, box: SecretBox, gallery: str, pipeline_id: str, batch: EnrolBatch, now: str
) -> tuple[int, int, int]:
    """(subjects created, embeddings added, skipped) for one batch, in the caller's session."""
    vectors = check(batch)
    subject_of = _existing(
        s, _SUBJECTS, ("reference", "subject_id"), {"gallery": gallery}, batch.references
    )
    new = []
    fresh = iter(_new_subject_ids(len(batch.references)))
    for ref, name in zip(batch.references, batch.names, strict=True):
        if ref not in subject_of:
            subject_of[ref] = next(fresh)
            new.append((subject_of[ref], gallery, ref, name, batch.source, now))
    partition = {"gallery": gallery, "pipeline_id": pipeline_id}
    seen = set(_existing(s, _EMBEDDINGS, ("image_sha256", "id"), partition, batch.image_sha256s))
    keep: list[int] = []
    for i, sha in enumerate(batch.image_sha256s):
        if sha not in seen:
            seen.add(sha)
            keep.append(i)
    sids = [subject_of[batch.references[i]] for i in keep]
    shas = [batch.image_sha256s[i] for i in keep]
    plain = np.ascontiguousarray(vectors[keep], dtype="<f4").tobytes()
    size = 4 * DIM  # one slice of the batch's bytes a row: a numpy row each cost twice as much
    sealed = box.seal_many(
        [plain[i * size : (i + 1) * size] for i in range(len(keep))],
        [row_context(gallery, sid, sha, pipeline_id) for sid, sha in zip(sids, shas, strict=True)],
    )
    insert_rows(s, _SUBJECTS, _SUBJECT_COLUMNS, new)
    if keep:
        ids = _insert_embeddings(s, sids, shas, sealed, (gallery, pipeline_id, box.key_id, now))
        changes.log_added(s, gallery, pipeline_id, ids)
        bump_version(s, gallery)
    return len(new), len(keep), len(vectors) - len(keep)


def _insert_embeddings(
    s: Session, sids: list[str], shas: list[str], sealed: list[bytes], same: tuple[str, ...]
) -> Sequence[int]:
    """The new rows' ids. On SQLite the ids are given, following the largest: the one writer
    holds the database from its first write, and a transaction whose snapshot went stale is
    refused the write (SQLITE_BUSY), so no other row can take them. RETURNING cost a third of
    a bulk batch there. Other databases hand out ids from their sequence."""
    gallery, pipeline_id, key_id, now = same
    if s.get_bind().dialect.name != "sqlite":
        rows = [
            {"subject_id": sid, "gallery": gallery, "pipeline_id": pipeline_id}
            | {"image_sha256": sha, "key_id": key_id, "created_at": now, "vector": blob}
            for sid, sha, blob in zip(sids, shas, sealed, strict=True)
        ]
        return s.scalars(insert(_EMBEDDINGS).returning(_EMBEDDINGS.c.id), rows).all()
    first = int(s.scalar(select(func.max(_EMBEDDINGS.c.id))) or 0) + 1
    ids = range(first, first + len(sids))
    insert_rows(
        s,
        _EMBEDDINGS,
        _EMBEDDING_COLUMNS,
        [
            (i, sid, gallery, pipeline_id, sha, key_id, now, blob)
            for i, sid, sha, blob in zip(ids, sids, shas, sealed, strict=True)
        ],
    )
    return ids


BULK_CACHE_MIB = 1024


def _large_cache(s: Session) -> None:
    """A page cache large enough for the indexes on random keys (subject ids) that every
    batch touches all over; with SQLite's default 2 MiB, their pages were read again and
    again. Only the connection doing bulk work gets it."""
    if s.get_bind().dialect.name == "sqlite":
        s.connection().exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_MIB * 1024}")


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
            _large_cache(unit.session)
            c, a, k = enrol_batch(unit.session, box, gallery, pipeline_id, batch, now)
        created, added, skipped = created + c, added + a, skipped + k
        if progress:
            progress(added)
    return BulkEnrolled(created, added, skipped)
