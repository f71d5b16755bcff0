"""Pieces of bench_gallery.py that compare with exact search: the mates' exact ranks from one
batched pass over the stored vectors (kept beside a kept gallery), and the shortlist
comparison of index kinds on the stored vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench_ann import compare
from bench_common import log
from gallery_at_size import exact_ranks, load_average
from gallery_load import GALLERY, Real
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.vectors import Partition

TOP = 10


def cached_exact(keep: Path | None, g: EmbeddedGallery, real: Real, pid: str) -> np.ndarray:
    """The batched exact ranks, kept beside a kept gallery (a 10M pass takes minutes)."""
    path = keep / "exact-ranks.npy" if keep else None
    if path is not None and path.exists():
        return np.asarray(np.load(path))
    log(f"exact ranks, batched over the stored vectors (load {load_average()})")
    ranks = batched_exact(g, real, pid)
    if path is not None:
        np.save(path, ranks)
    return ranks


def batched_exact(g: EmbeddedGallery, real: Real, pid: str) -> np.ndarray:
    mates = real.gallery[[real.gallery_ids.index(m) for m in real.mated_ids]]
    return exact_ranks(g, Partition(GALLERY, pid), real.mated, mates, TOP)


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
