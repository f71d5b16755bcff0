"""The FAISS index types the embedded vector index builds, and how each is sized and tuned.

The approximate kind was chosen by measurement (bench/bench_gallery.py, docs/sizing.md) on a
100k gallery of synthetic faces fitted to lfw-dev plus the real lfw-dev mates: IVF1024 with
8-bit scalar quantisation kept the mate in the 64-row shortlist for 0.9935 of the probes whose
mate exact search finds (IVF-Flat 0.9943, HNSW32-SQ8 at efSearch 128: 1.0) in 13.5 MiB (Flat
50 MiB, HNSW 39 MiB), built in 25 s (HNSW: 185 s, so ~1 h at 1M and ~10 h at 10M on 2 cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss

from mobileid.errors import InvalidArgument

IVF_CODEC = "SQ8"
KMEANS_ITERATIONS = 10  # faiss's default 25 costs 2.5x the training time for no measured recall
TRAIN_PER_CELL = 40  # k-means wants >= 39 points per centroid


@dataclass(frozen=True)
class IndexKind:
    """``name`` "exact" or "ivf"; for IVF, ``nlist`` cells sized for ``built_for`` vectors."""

    name: str
    nlist: int = 0
    built_for: int = 0

    @property
    def train_size(self) -> int:
        return self.nlist * TRAIN_PER_CELL

    @property
    def nprobe(self) -> int:
        """Cells visited per search: 1/8 of them, at least 16. Measured on the fitted synthetic
        gallery of 100k with lfw-dev mates (docs/sizing.md): the mate is in the 64-row
        shortlist for 0.9935 of the probes whose mate exact search finds at nlist/8, 0.92 at
        nlist/32, 0.85 at nlist/64; at 1M (4,096 cells, 512 visited) the store's search found
        0.998 of the mates exact search finds, 12.8 ms p50 on the loaded 2 cores. A search
        scans about an eighth of the partition whatever its size, so its time grows with it."""
        return min(self.nlist, max(16, self.nlist // 8))


def nlist_for(n: int) -> int:
    """About 4·√n cells, a power of two (1,024 at 100k, 4,096 at 1M, 16,384 at 10M), and
    never more than k-means can train from ``n`` vectors."""
    cells = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    return max(1, min(cells, n // TRAIN_PER_CELL))


def choose_kind(kind: str, n: int, ivf_from: int) -> IndexKind:
    """The index to build for ``n`` vectors under setting ``kind`` (auto, exact or ivf)."""
    if kind == "exact" or (kind == "auto" and n < ivf_from):
        return IndexKind("exact")
    if kind in ("ivf", "auto"):
        return IndexKind("ivf", nlist_for(n), n)
    raise InvalidArgument(f"index kind: expected auto, exact or ivf, got {kind!r}", field="kind")


def build_index(kind: IndexKind, dim: int) -> faiss.Index:
    """An empty index with ids of the caller's choosing (embedding row ids)."""
    if kind.name == "exact":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index = faiss.index_factory(dim, f"IVF{kind.nlist},{IVF_CODEC}", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).cp.niter = KMEANS_ITERATIONS
    return index


def tune(index: faiss.Index, kind: IndexKind, nprobe: int | None) -> None:
    if kind.name == "ivf":
        faiss.extract_index_ivf(index).nprobe = nprobe or kind.nprobe
