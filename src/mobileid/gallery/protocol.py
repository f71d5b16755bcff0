"""The contract every face gallery backend fulfils (embedded SQLite+FAISS, Milvus, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mobileid.types import SearchHit, Subject, Vector


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
    ) -> tuple[Subject, int]:
        """Create or extend the subject known by ``reference`` with (image sha256, vector)
        pairs, atomically. Images already enrolled are skipped. Returns the subject and the
        number of embeddings added."""
        ...

    def has_image(self, gallery: str, image_sha256: str, pipeline_id: str) -> bool: ...

    def remove(self, subject_id: str) -> Subject:
        """Delete a subject and all its embeddings; NotFound when absent."""
        ...

    def get(self, subject_id: str) -> Subject: ...

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, Subject]:
        """Several subjects at once; ids that do not exist are absent from the answer."""
        ...

    def subjects(self, gallery: str | None = None) -> list[Subject]: ...

    def galleries(self) -> list[str]: ...

    def count(self, gallery: str, pipeline_id: str | None = None) -> int:
        """Number of embeddings in the gallery (of one pipeline, when given)."""
        ...

    def search(self, gallery: str, probe: Vector, pipeline_id: str, k: int) -> list[SearchHit]:
        """The ``k`` best subjects, best first, each with its best score over its embeddings."""
        ...
