"""The contract every face gallery backend fulfils (embedded SQLite+FAISS, Milvus, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from mobileid.database.unit_of_work import UnitOfWork
from mobileid.types import SearchHit, Subject, Vector


@dataclass(frozen=True)
class Purged:
    """What one purge of one gallery deleted: the deletion receipt's figures."""

    gallery: str
    retention_hours: int
    cutoff: datetime  # captures stored before this time were deleted
    subjects_deleted: int  # subjects left with no capture
    embeddings_deleted: int
    templates_deleted: int = 0  # finger templates
    photos_deleted: int = 0  # reference photos (one per face capture that had one)


class GalleryIndex(Protocol):
    """Named galleries of subjects, each with one or more face embeddings.

    Scores are similarities (higher = more alike). Embeddings from different pipelines are
    kept apart: a search only reaches embeddings made by the probe's ``pipeline_id``.
    """

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
        """Create or extend the subject known by ``reference`` with (image sha256, vector)
        pairs, atomically. Images already enrolled are skipped. Returns the subject and the
        number of embeddings added. With ``uow`` the rows are written in the caller's unit of
        work (which appends the audit entry and commits both, or neither); without, in a unit
        of the gallery's own."""
        ...

    def has_image(self, gallery: str, image_sha256: str, pipeline_id: str) -> bool: ...

    def remove(self, subject_id: str, *, uow: UnitOfWork | None = None) -> Subject:
        """Delete a subject and all its embeddings (in ``uow`` when given); NotFound when
        absent."""
        ...

    def get(self, subject_id: str) -> Subject: ...

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, Subject]:
        """Several subjects at once; ids that do not exist are absent from the answer."""
        ...

    def subjects(self, gallery: str | None = None) -> list[Subject]: ...

    def create_gallery(self, gallery: str, *, training: bool) -> None:
        """Create a gallery (enrolment creates live ones); its kind can never change."""
        ...

    def galleries(self, training: bool | None = None) -> list[str]: ...

    def count(self, gallery: str, pipeline_id: str | None = None) -> int:
        """Number of embeddings in the gallery (of one pipeline, when given)."""
        ...

    def search(self, gallery: str, probe: Vector, pipeline_id: str, k: int) -> list[SearchHit]:
        """The ``k`` best subjects, best first, each with its best score over its embeddings."""
        ...

    def search_many(
        self, gallery: str, probes: npt.ArrayLike, pipeline_id: str, k: int
    ) -> list[list[SearchHit]]:
        """``search`` for each row of ``probes`` (one request to the vector index)."""
        ...

    def subject_vectors(
        self, gallery: str, subject_id: str, pipeline_id: str
    ) -> npt.NDArray[np.float32]:
        """The subject's embeddings made by ``pipeline_id`` (rows of unit vectors), from the
        database; an empty array when it has none."""
        ...

    def retention(self, gallery: str) -> int | None:
        """The gallery's retention rule: maximum age of captures in hours, or None (kept until
        deleted by hand). NotFound for an unknown gallery."""
        ...

    def set_retention(
        self, gallery: str, hours: int | None, *, uow: UnitOfWork | None = None
    ) -> int | None:
        """Set the rule (hours >= 1, or None), in ``uow`` when given; returns the previous
        one."""
        ...

    def purge_before(
        self, gallery: str, cutoff: datetime, *, uow: UnitOfWork | None = None
    ) -> Purged:
        """Delete the gallery's captures stored before ``cutoff``, and its subjects created
        before it that are left with none, in ``uow`` (with the caller's receipt) when given,
        else in a unit of work of the gallery's own."""
        ...


@runtime_checkable
class SealedAtRest(Protocol):
    """A backend that seals biometric data under the deployment key and can change key."""

    @property
    def key_id(self) -> str: ...

    def key_ids(self) -> dict[str | None, int]:
        """Rows per sealing key id (None: rows not sealed)."""
        ...

    def rotate_key(
        self, old: bytes, new: bytes, *, batch: int, uow: UnitOfWork | None = None
    ) -> int:
        """Re-seal every row sealed with ``old`` under ``new``, ``batch`` rows per
        transaction (the last in ``uow``, with the caller's audit entry, when given),
        resuming where an interrupted run stopped; returns rows re-sealed."""
        ...
