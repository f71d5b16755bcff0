"""Pieces of bench_gallery.py that write a gallery: lfw-dev split by the open-set protocol,
and the bulk enrolment of N synthetic identities plus the real ones.

The synthetic chunks are made in a thread of their own, one chunk ahead of the enrolment:
numpy releases the interpreter lock while it draws and multiplies, so on two cores the next
chunk is ready when SQLite has taken the last one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench_common import log
from gallery_at_size import load_average
from mobileid.config import Settings
from mobileid.eval.faces import embed_root
from mobileid.gallery.bulk import EnrolBatch
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.vectors import Partition
from synthetic_faces import CHUNK, FaceModel, Fit, fit

GALLERY = "bench"


def ahead(chunks: Iterator[np.ndarray], depth: int = 1) -> Iterator[np.ndarray]:
    """``chunks`` drawn in a thread, ``depth`` chunks ahead of the consumer."""
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    end, failed = object(), []

    def draw() -> None:
        try:
            for chunk in chunks:
                out.put(chunk)
        except BaseException as e:  # handed to the consumer, which raises it
            failed.append(e)
        out.put(end)

    threading.Thread(target=draw, name="synthetic-chunks", daemon=True).start()
    while (item := out.get()) is not end:
        yield item
    if failed:
        raise failed[0]


@dataclass(frozen=True)
class Real:
    """lfw-dev split by the open-set protocol: gallery, mated and non-mated probes."""

    gallery: np.ndarray
    gallery_ids: list[str]
    mated: np.ndarray
    mated_ids: list[str]
    nonmated: np.ndarray
    vectors: np.ndarray
    identity: np.ndarray


def load_real(data: Path, settings: Settings, pid: str, saved: str | None = None) -> Real:
    """lfw-dev embedded now (or read from the cache), or read from ``saved``_v.npy and
    ``saved``_id.npy: vectors and identities of an earlier embedding (its failures left out)."""
    if saved:
        vectors, identity = np.load(f"{saved}_v.npy"), np.load(f"{saved}_id.npy")
        ok = np.ones(len(identity), dtype=bool)
        return split_real(vectors, identity, ok)
    emb = embed_root(data / "faces" / "lfw-dev", settings)
    return split_real(emb.vectors, emb.identity, emb.ok)


def split_real(v: np.ndarray, identity: np.ndarray, ok: np.ndarray) -> Real:
    gallery, gids, mated, mids, nonmated = [], [], [], [], []
    for ident in np.unique(identity):
        rows = [int(i) for i in np.flatnonzero((identity == ident) & ok)]
        total = int((identity == ident).sum())
        if total == 1:
            nonmated.extend(rows)
        elif rows:
            gallery.append(rows[0])
            gids.append(f"lfw{ident}")
            mated.extend(rows[1:])
            mids.extend([f"lfw{ident}"] * (len(rows) - 1))
    return Real(v[gallery], gids, v[mated], mids, v[nonmated], v[ok], identity[ok])


def write_gallery(g: EmbeddedGallery, n: int, model: Any, real: Real, pid: str) -> float:
    """N - len(real.gallery) synthetic identities, then the real ones; seconds taken. A kept
    gallery's rerun continues after the chunks an earlier run wrote (each batch is one
    transaction, so what is there is whole chunks)."""
    synthetic = n - len(real.gallery)
    skip = min(g.sync.count_rows(Partition(GALLERY, pid)), synthetic) // CHUNK * CHUNK
    t0 = time.perf_counter()

    def batches():  # type: ignore[no-untyped-def]
        done = skip
        for chunk in ahead(model.gallery(synthetic, seed=n, skip=skip)):
            refs = [f"syn{done + i}" for i in range(len(chunk))]
            yield EnrolBatch(refs, refs, [f"{r}-img" for r in refs], chunk, "bench:synthetic")
            done += len(chunk)
            rate = (done - skip) / (time.perf_counter() - t0)
            log(f"  wrote {done:,}/{n:,} ({rate:,.0f} rows/s, load {load_average()})")
        ids = real.gallery_ids
        yield EnrolBatch(ids, ids, [f"{r}-img" for r in ids], real.gallery, "bench:lfw-dev")

    if skip:
        log(f"  {skip:,} rows already written by an earlier run: continuing")
    g.enrol_many(GALLERY, batches(), pid, training=True)
    return time.perf_counter() - t0


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cached_fit(keep: Path | None, real: Real) -> Fit:
    """The synthetic model fitted to ``real`` (minutes on a loaded machine), kept beside a
    kept gallery so that a rerun draws the same rows without fitting again."""
    path = keep / "fit.npz" if keep else None
    if path is not None and path.exists():
        f = np.load(path)
        model = FaceModel(f["mean"], f["between"], f["within"], *map(float, f["scales"]))
        return Fit(model, float(f["ks"][0]), float(f["ks"][1]))
    fitted = fit(real.vectors, real.identity)
    if path is not None:
        m = fitted.model
        path.parent.mkdir(parents=True, exist_ok=True)
        scales, ks = [m.a_b, m.a_w, m.s_w], [fitted.ks_genuine, fitted.ks_impostor]
        np.savez(path, mean=m.mean, between=m.between, within=m.within, scales=scales, ks=ks)
    return fitted
