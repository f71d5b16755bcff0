"""The FAISS index types the embedded vector index builds, and how each is sized and tuned.

The approximate kind was chosen by measurement (bench/bench_gallery.py, docs/sizing.md) on a
100k gallery of synthetic faces fitted to lfw-dev plus the real lfw-dev mates: IVF1024 with
8-bit scalar quantisation kept the mate in the 64-row shortlist for 0.9935 of the probes whose
mate exact search finds (IVF-Flat 0.9943, HNSW32-SQ8 at efSearch 128: 1.0) in 13.5 MiB (Flat
50 MiB, HNSW 39 MiB), built in 25 s (HNSW: 185 s, so ~1 h at 1M and ~10 h at 10M on 2 cores).

From ``TWO_LEVEL_FROM`` cells (16,384 at 10M) the cells are trained by two-level k-means:
20 s of CPU for 16,384 cells from 655k vectors, where flat k-means compares every training
vector with every centroid ten times (~450 s of CPU). The centroids stay a flat list searched
with BLAS: measured at 16,384 cells, assigning a vector took 69 µs of CPU that way against 62
(efSearch 16, the same cell as the flat list for 0.88 of vectors) to 112 µs (efSearch 32,
0.96) through an HNSW graph of the centroids, so HNSW was left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument

IVF_CODEC = "SQ8"
KMEANS_ITERATIONS = 10  # faiss's default 25 costs 2.5x the training time for no measured recall
TRAIN_PER_CELL = 40  # k-means wants >= 39 points per centroid
TWO_LEVEL_FROM = 8_192  # cells; below, flat k-means is cheap enough
SCAN_BUDGET = 400_000  # codes a search scans (about), whatever the partition's size
MIN_NPROBE = 16


@dataclass(frozen=True)
class IndexKind:
    """``name`` "exact" or "ivf"; for IVF, ``nlist`` cells sized for ``built_for`` vectors,
    trained by two-level k-means when ``two_level``."""

    name: str
    nlist: int = 0
    built_for: int = 0
    two_level: bool = False

    @property
    def train_size(self) -> int:
        return self.nlist * TRAIN_PER_CELL

    @property
    def nprobe(self) -> int:
        """Cells visited per search: as many as hold about ``SCAN_BUDGET`` codes, at least
        ``MIN_NPROBE``, so a search costs about the same at any size (a fixed share of the
        cells, nlist/8 before, scanned 1.25M codes a search at 10M). Measured on the fitted
        synthetic galleries with lfw-dev mates (docs/sizing.md), the share of the mates exact
        search finds that are found: 10M (16,384 cells) 656 cells (the budget) 0.992, 512
        0.991, 263 0.962, 1,024 0.997; 1M (4,096 cells) 1,639 (the budget) 1.0 at 17.7 ms of
        CPU a store search on loaded cores, 656 0.9992 at 8.4 ms, 256 0.989, 128 0.959; 100k
        all 1,024 cells 1.0. The codes needed for 0.99 grew ~5x from 1M to 10M, so the budget
        was set from the 10M curve."""
        per_cell = max(1.0, self.built_for / max(1, self.nlist))
        return min(self.nlist, max(MIN_NPROBE, math.ceil(SCAN_BUDGET / per_cell)))


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
        nlist = nlist_for(n)
        return IndexKind("ivf", nlist, n, two_level=nlist >= TWO_LEVEL_FROM)
    raise InvalidArgument(f"index kind: expected auto, exact or ivf, got {kind!r}", field="kind")


def kind_of(index: faiss.Index, built_for: int) -> IndexKind:
    """The kind of a saved index, read from the index itself (its cells as built)."""
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:  # not an IVF index
        return IndexKind("exact")
    return IndexKind("ivf", ivf.nlist, built_for, two_level=ivf.nlist >= TWO_LEVEL_FROM)


def build_index(kind: IndexKind, dim: int) -> faiss.Index:
    """An empty index with ids of the caller's choosing (embedding row ids)."""
    if kind.name == "exact":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index = faiss.index_factory(dim, f"IVF{kind.nlist},{IVF_CODEC}", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).cp.niter = KMEANS_ITERATIONS
    return index


def train(index: faiss.Index, kind: IndexKind, vectors: npt.NDArray[np.float32]) -> None:
    """Train ``index`` on ``vectors``; for ``two_level`` kinds the centroids come from
    two-level k-means first (``index.train`` then trains only the codec)."""
    if kind.name == "ivf" and kind.two_level and len(vectors) >= kind.nlist:
        quantizer = faiss.extract_index_ivf(index).quantizer
        quantizer.add(two_level_centroids(vectors, kind.nlist))
    index.train(vectors)


def two_level_centroids(x: npt.NDArray[np.float32], nlist: int) -> npt.NDArray[np.float32]:
    """``nlist`` unit centroids: √nlist coarse clusters, each split by its own k-means into
    cells in proportion to its share of ``x``. Each step compares a vector with ~√nlist
    centroids instead of all ``nlist``: 64 times less work at 16,384 cells."""
    coarse_n = max(1, int(math.sqrt(nlist)))
    coarse = _kmeans(x, coarse_n)
    _, assign = coarse.index.search(x, 1)
    order = np.argsort(assign[:, 0], kind="stable")
    sizes = np.bincount(assign[:, 0], minlength=coarse_n)
    shares = np.diff(np.concatenate([[0], np.cumsum(sizes) * nlist // len(x)]))
    parts, start = [], 0
    for size, share in zip(sizes.tolist(), shares.tolist(), strict=True):
        members = x[order[start : start + size]]
        start += size
        if share >= size:  # too few vectors to split: each is a centroid
            parts.append(members[:share])
        elif share > 0:
            parts.append(np.asarray(_kmeans(members, share).centroids))
    centroids = np.concatenate(parts)
    if len(centroids) < nlist:  # coarse clusters with fewer vectors than their share
        centroids = np.concatenate([centroids, x[: nlist - len(centroids)]])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return np.ascontiguousarray(centroids[:nlist], dtype=np.float32)


def _kmeans(x: npt.NDArray[np.float32], k: int) -> faiss.Kmeans:
    km = faiss.Kmeans(
        x.shape[1], k, niter=KMEANS_ITERATIONS, spherical=True, seed=1234, verbose=False
    )
    km.cp.min_points_per_centroid = 1  # a small split is still worth its centroids
    km.train(np.ascontiguousarray(x))
    return km


def tune(index: faiss.Index, kind: IndexKind, nprobe: int | None) -> None:
    """Cells per search, and the cells of one query shared among FAISS's threads
    (``parallel_mode`` 1): FAISS's default splits a batch by query, so a service searching one
    probe at a time kept one thread busy whatever ``MOBILEID_SEARCH_THREADS`` said. Measured at
    1M (4,096 cells, 1,639 visited, near-idle 2 cores): 16.3 ms a query on one thread, 7.7 ms
    on two, the same shortlists."""
    if kind.name == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = nprobe or kind.nprobe
        ivf.parallel_mode = 1
