"""An exact inner-product FAISS index derived from the embeddings in the database.

The index file is a cache: it records the gallery version it was built from and is rebuilt
when that version is not the database's. Deleting it loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from mobileid.types import SearchHit, Vector

DIM = 128


def set_search_threads(n: int) -> None:
    """FAISS's OpenMP thread count (process-wide)."""
    faiss.omp_set_num_threads(max(1, n))


def index_stem(index_dir: Path, gallery: str, pipeline_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gallery)[:40]
    digest = hashlib.sha256(pipeline_id.encode()).hexdigest()[:12]
    return index_dir / f"{safe}-{digest}"


@dataclass
class FlatIndex:
    """Vectors in a faiss.IndexFlatIP, with the subject of each row beside it."""

    version: int
    index: faiss.Index = field(default_factory=lambda: faiss.IndexFlatIP(DIM))
    subject_of_row: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: npt.NDArray[np.float32], subject_ids: list[str]) -> None:
        if len(subject_ids):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self.subject_of_row.extend(subject_ids)

    def search(self, probe: Vector, k: int) -> list[SearchHit]:
        """Best ``k`` subjects by their best-scoring embedding."""
        total = self.size
        if total == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(probe.reshape(1, -1), dtype=np.float32)
        want = min(total, max(k * 4, 16))
        while True:
            scores, rows = self.index.search(query, want)
            best: dict[str, float] = {}
            for score, row in zip(scores[0], rows[0], strict=True):
                if row < 0:  # faiss pads with -1 when fewer rows exist
                    continue
                sid = self.subject_of_row[row]
                if sid not in best:
                    best[sid] = float(score)
            if len(best) >= k or want >= total:
                break
            want = min(total, want * 4)
        hits = [SearchHit(subject_id=s, score=v) for s, v in best.items()]
        return hits[:k]

    def save(self, stem: Path) -> None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        tmp = stem.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(stem.with_suffix(".faiss"))
        meta = {"version": self.version, "subject_of_row": self.subject_of_row}
        stem.with_suffix(".json.tmp").write_text(json.dumps(meta))
        stem.with_suffix(".json.tmp").replace(stem.with_suffix(".json"))

    @classmethod
    def load(cls, stem: Path) -> FlatIndex | None:
        """The saved index, or None when it is missing or unreadable (it is only a cache)."""
        try:
            meta = json.loads(stem.with_suffix(".json").read_text())
            index = faiss.read_index(str(stem.with_suffix(".faiss")))
        except (OSError, ValueError, RuntimeError):
            return None
        if index.ntotal != len(meta["subject_of_row"]):
            return None
        return cls(version=int(meta["version"]), index=index, subject_of_row=meta["subject_of_row"])
