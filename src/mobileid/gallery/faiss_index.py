"""An exact inner-product FAISS index derived from the embeddings in the database.

The index file is a cache: it records the gallery version it was built from and is rebuilt
when that version is not the database's. Deleting it loses nothing. It holds every vector of
the gallery, so it is sealed whole under the deployment key (``STEM.sealed``: AES-GCM over a
JSON header line and the serialized FAISS index); a file that does not open with the key in
use is treated as missing.
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

from mobileid.gallery.sealing import DeploymentKeyError, FileSeal, index_context
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

    def save(self, stem: Path, seal: FileSeal) -> None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"version": self.version, "subject_of_row": self.subject_of_row})
        pieces = seal.seal(header.encode(), faiss.serialize_index(self.index), _context(stem))
        tmp = stem.with_suffix(".sealed.tmp")
        with tmp.open("wb") as f:
            f.writelines(pieces)
        tmp.replace(stem.with_suffix(".sealed"))
        for old in (".faiss", ".json"):  # plaintext files written before encryption
            stem.with_suffix(old).unlink(missing_ok=True)

    @classmethod
    def load(cls, stem: Path, seal: FileSeal) -> FlatIndex | None:
        """The saved index, or None when it is missing, unreadable or sealed under another
        key (it is only a cache)."""
        try:
            data = stem.with_suffix(".sealed").read_bytes()
            header, body = seal.open(data, _context(stem))
            meta = json.loads(header)
            index = faiss.deserialize_index(np.frombuffer(body, dtype=np.uint8))
        except (OSError, ValueError, RuntimeError, DeploymentKeyError):
            return None
        if index.ntotal != len(meta["subject_of_row"]):
            return None
        return cls(version=int(meta["version"]), index=index, subject_of_row=meta["subject_of_row"])


def _context(stem: Path) -> str:
    return index_context(stem.name)


def remove_index_files(index_dir: Path) -> int:
    """Delete every index file (sealed or from before encryption); they are rebuilt on use."""
    removed = 0
    for pattern in ("*.sealed", "*.sealed.tmp", "*.faiss", "*.json", "*.tmp"):
        for path in index_dir.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
