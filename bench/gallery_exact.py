"""Pieces of bench_gallery.py that compare with exact search: the mates' exact ranks from one
batched pass over the stored vectors (kept beside a kept gallery), and the shortlist
comparison of index kinds on the stored vectors.

The stored rows are read once for both the exact ranks and the first FAISS index built: that
build reads every row anyway, so ``SharedRead`` scores each batch it reads against the probes
too (a 10M gallery took 742 s to read back and score on its own, and as long again for the
build). When the build did not read every row (a kept index opened as saved, a build resumed
from its checkpoint, a Milvus kind), the ranks come from a pass of their own, as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench_ann import compare
from bench_common import Section, log, single
from gallery_at_size import exact_notes, load_average, open_kind
from gallery_load import GALLERY, Real
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.vectors import Batch, Partition, Progress, Rows, VectorIndex

TOP = 10
_ROWS = 10_000  # gallery rows scored per matrix product: probes x rows floats in memory


class ExactPass:
    """Exact ranks of each probe's mate, counted batch by batch over the stored rows: rank =
    1 + the rows that score above the mate; the gallery holds one image per subject, so a
    row's rank is its subject's rank. ``rows``: rows scored so far; ``seconds``, ``cpu``:
    time spent scoring (wall, and CPU of the process)."""

    def __init__(self, probes: np.ndarray, mates: np.ndarray, top: int = TOP) -> None:
        self.probes, self.top = probes, top
        # The mate's own row scores as much as the mate: a small margin keeps rounding between
        # two matrix products from counting it above itself.
        self.mate_scores = np.einsum("ij,ij->i", probes, mates) + 1e-6
        self.above = np.zeros(len(probes), dtype=np.int64)
        self.rows, self.seconds, self.cpu = 0, 0.0, 0.0

    def add(self, batch: Batch) -> None:
        t, c = time.perf_counter(), time.process_time()
        for start in range(0, len(batch.ids), _ROWS):
            scores = self.probes @ batch.vectors[start : start + _ROWS].T
            self.above += (scores > self.mate_scores[:, None]).sum(axis=1)
        self.seconds += time.perf_counter() - t
        self.cpu += time.process_time() - c
        before, self.rows = self.rows, self.rows + len(batch.ids)
        if self.rows // 1_000_000 > before // 1_000_000:  # a 10M pass takes many minutes
            log(f"  exact pass: {self.rows:,} rows (load {load_average()})")

    def ranks(self) -> np.ndarray:
        """Each mate's rank, 0 when below ``top``."""
        ranks = self.above + 1
        return np.where(ranks <= self.top, ranks, 0)


def exact_pass(real: Real) -> ExactPass:
    mates = real.gallery[[real.gallery_ids.index(m) for m in real.mated_ids]]
    return ExactPass(real.mated, mates)


class SharedRead(FaissVectorIndex):
    """A FAISS index whose build hands every row it reads to ``exact`` as well."""

    def __init__(self, *args: Any, exact: ExactPass, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exact = exact

    def rebuild(
        self,
        partition: Partition,
        batches: Iterable[Batch],
        upto: int,
        progress: Progress | None = None,
        total: int = 0,
    ) -> None:
        if isinstance(batches, Rows):  # stays a Rows: a resumed build still skips its rows
            rows = batches
            batches = Rows(lambda after: self._scored(rows.after(after)))
        super().rebuild(partition, batches, upto, progress, total)

    def _scored(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for batch in batches:
            self.exact.add(batch)
            yield batch


def open_sharing(
    kind: str, path: Path, key: bytes, n: int, ctx: dict[str, Any], exact: ExactPass | None
) -> VectorIndex:
    """``gallery_at_size.open_kind``; a FAISS kind's build also feeds ``exact`` when given."""
    if exact is None or kind == "milvus":
        return open_kind(kind, path, key, n, ctx)
    return SharedRead(path, key=key, kind=kind, nprobe=ctx["nprobe"], exact=exact)


def kept_exact(keep: Path | None) -> np.ndarray | None:
    """The exact ranks kept beside a kept gallery by an earlier run, if any."""
    path = keep / "exact-ranks.npy" if keep else None
    return np.asarray(np.load(path)) if path is not None and path.exists() else None


def exact_baseline(
    section: Section, exact: ExactPass, g: EmbeddedGallery, real: Real, pid: str, keep: Path | None
) -> np.ndarray:
    """The exact ranks: ``exact``'s when it has scored every stored row (read by an index
    build), else from a read of their own; kept beside a kept gallery, noted in ``section``."""
    total = g.sync.count_rows(Partition(GALLERY, pid))
    shared = exact.rows == total
    t0, c0 = time.perf_counter(), time.process_time()
    if not shared:
        log(f"exact ranks, batched over the stored vectors (load {load_average()})")
        exact = exact_pass(real)
        for batch in g.sync.snapshot(Partition(GALLERY, pid)):
            exact.add(batch)
        section.figures.append(single("exact ranks: own read", "s", time.perf_counter() - t0))
        section.figures.append(single("exact ranks: own read, CPU", "s", time.process_time() - c0))
    else:
        section.figures.append(single("exact ranks: scoring in the build", "s", exact.seconds))
        section.figures.append(single("exact ranks: scoring in the build, CPU", "s", exact.cpu))
    ranks = exact.ranks()
    if keep is not None:
        np.save(keep / "exact-ranks.npy", ranks)
    how = "scored as the index build read them" if shared else "a read of their own"
    notes = {"rows": exact.rows, "read": how, "load average": load_average()}
    section.notes["exact (batched pass)"] = exact_notes(ranks, TOP) | notes
    return ranks


def ann_sweep(
    g: EmbeddedGallery, real: Real, pid: str, alternatives: bool
) -> tuple[list[Any], dict[str, Any]]:
    """bench_ann.compare on the gallery's vectors as stored (the real faces are its last
    rows, in ``real.gallery_ids`` order)."""
    log("  reading the gallery back for the index comparison")
    parts = list(g.sync.snapshot(Partition(GALLERY, pid)))
    ids = np.concatenate([b.ids for b in parts])
    vectors = np.concatenate([b.vectors for b in parts])
    del parts
    row_of = dict(zip(real.gallery_ids, ids[-len(real.gallery_ids) :].tolist(), strict=True))
    mates = np.array([row_of[m] for m in real.mated_ids])
    return compare(vectors, ids, real.mated, mates, alternatives)
