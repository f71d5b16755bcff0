"""Approximate index types compared on the same gallery: how the kind and nprobe were chosen.

Each candidate FAISS index is built from the gallery's vectors (read back from SQL) and asked
for a shortlist of 64 (what the store re-ranks) for every mated lfw-dev probe; "recall" is the
fraction of probes whose mate's row is in the shortlist, relative to exact search's shortlist.
Latency is the index alone (no SQL), one thread. IVF-PQ32 was tried too and left out: its
training alone ran past 8 minutes at 100k on the shared 2-core machine, against 43 s for SQ8.
"""

from __future__ import annotations

import time
from typing import Any

import faiss
import numpy as np

from bench_common import Figure, latency, log, single
from mobileid.gallery.faiss_kinds import KMEANS_ITERATIONS, nlist_for

SHORTLIST = 64


def candidates(n: int) -> dict[str, str]:
    nlist = nlist_for(n)
    return {
        f"IVF{nlist},SQ8": f"IVF{nlist},SQ8",
        f"IVF{nlist},Flat": f"IVF{nlist},Flat",
        "HNSW32,SQ8": "HNSW32,SQ8",
    }


def build(spec: str, vectors: np.ndarray, ids: np.ndarray) -> tuple[Any, float]:
    t0 = time.perf_counter()
    index = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    if spec.startswith("IVF"):
        faiss.extract_index_ivf(index).cp.niter = KMEANS_ITERATIONS
        nlist = faiss.extract_index_ivf(index).nlist
        index.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: 40 * nlist]])
        index.add_with_ids(vectors, ids)
    else:
        index.train(vectors)
        index = faiss.IndexIDMap2(index)
        index.add_with_ids(vectors, ids)
    return index, time.perf_counter() - t0


def found(index: Any, probes: np.ndarray, mates: np.ndarray) -> tuple[np.ndarray, list[float]]:
    hit, times = [], []
    for probe, mate in zip(probes, mates, strict=True):
        t = time.perf_counter()
        _, ids = index.search(probe.reshape(1, -1), SHORTLIST)
        times.append(time.perf_counter() - t)
        hit.append(mate in ids[0])
    return np.array(hit), times


def compare(
    vectors: np.ndarray,
    ids: np.ndarray,
    probes: np.ndarray,
    mates: np.ndarray,
    with_alternatives: bool,
) -> tuple[list[Figure], dict[str, Any]]:
    """Figures and notes for the exact baseline, the IVF-SQ8 nprobe sweep and alternatives."""
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    exact.add_with_ids(vectors, ids)
    base, _ = found(exact, probes, mates)
    del exact
    figures, notes = [], {"exact shortlist holds the mate": float(base.mean())}
    specs = candidates(len(vectors))
    if not with_alternatives:
        specs = dict(list(specs.items())[:1])
    for name, spec in specs.items():
        log(f"  ann: {name}")
        index, build_s = build(spec, vectors, ids)
        figures.append(single(f"{name}: build", "s", build_s))
        sweep = (16, 32, 64, 128, 256) if "IVF" in spec else (64, 128, 256)
        for knob in sweep:
            if "IVF" in spec:
                faiss.extract_index_ivf(index).nprobe = knob
            else:
                faiss.downcast_index(index.index).hnsw.efSearch = knob
            hit, times = found(index, probes, mates)
            label = f"{name} {'nprobe' if 'IVF' in spec else 'efSearch'}={knob}"
            figures.append(latency(f"{label}: shortlist", times))
            notes[label] = round(float(hit.sum() / max(1, base.sum())), 4)
        notes[f"{name}: bytes in memory"] = len(faiss.serialize_index(index))
        del index
    return figures, notes
