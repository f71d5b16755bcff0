"""Pieces of bench_gallery.py for galleries of millions: a kept (resumable) gallery folder,
the index kinds, and the machine's load.

At 10M, exact search one probe at a time (a flat index in the store) costs about half a second
a probe on these cores; one pass over the stored vectors, scoring every probe against each
batch with one matrix product (``gallery_exact.py``), gives the same ranks in minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from sqlalchemy import select

from bench_common import Section, log
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.faiss_kinds import choose_kind
from mobileid.gallery.store import SubjectRow
from mobileid.gallery.vectors import Partition, Progress, VectorIndex
from mobileid.scoring import Calibration
from mobileid.service.calibration_files import shipped_face_calibrations


def bench_key(folder: Path) -> bytes:
    """The deployment key of a kept benchmark gallery (a rerun must open its rows)."""
    path = folder / "bench.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def real_subjects(g: EmbeddedGallery, gallery: str, references: list[str]) -> dict[str, str]:
    """{subject id: name} of the real faces, looked up by reference: listing every subject of
    a 10M gallery took over 15 GB."""
    q = select(SubjectRow.subject_id, SubjectRow.name).where(
        SubjectRow.gallery == gallery, SubjectRow.reference.in_(references)
    )
    with g.engine.connect() as conn:
        return {str(sid): str(name) for sid, name in conn.execute(q)}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def index_mib(vectors: VectorIndex, part: Partition) -> float | None:
    if isinstance(vectors, FaissVectorIndex):
        index = vectors._part(part).index
        return len(faiss.serialize_index(index)) / 2**20
    return None


def open_kind(kind: str, path: Path, key: bytes, n: int, ctx: dict[str, Any]) -> VectorIndex:
    if kind != "milvus":
        return FaissVectorIndex(path, key=key, kind=kind, nprobe=ctx["nprobe"])
    from mobileid.gallery.milvus_index import MilvusVectorIndex

    ivf = choose_kind("ivf", n, 0)
    return MilvusVectorIndex(
        ctx["milvus_uri"],
        timeout=600,
        index_type="IVF_SQ8",
        index_params={"nlist": ivf.nlist},
        search_params={"nprobe": ivf.nprobe},
    )


def exact_notes(ranks: np.ndarray, top: int) -> dict[str, Any]:
    return {"rank1": float(np.mean(ranks == 1)), f"mate_in_top{top}": float(np.mean(ranks > 0))}


def insert_progress(every: int = 50_000) -> Progress:
    """Logs the rows sent to an index and their rate, every ``every`` rows."""
    t0, last = time.perf_counter(), [0]

    def report(done: int, total: int) -> None:
        if done - last[0] >= every or done == total:
            last[0] = done
            rate = done / (time.perf_counter() - t0)
            log(f"  inserted {done:,}/{total:,} ({rate:,.0f} rows/s, load {load_average()})")

    return report


def milvus_index_built(vectors: VectorIndex, part: Partition, limit_s: float = 3600) -> None:
    """Waits until the Milvus server has indexed every flushed row of the partition (it builds
    segment indexes in the background after a flush; until then searches scan raw segments).
    Its pending rows are not waited for: a compaction merging indexed segments counts the
    merged one as pending while it is indexed again, and searches use the indexed originals."""
    from mobileid.gallery.milvus_index import MilvusVectorIndex, _collection

    assert isinstance(vectors, MilvusVectorIndex)
    name, client = _collection(part), vectors.client
    index = client.list_indexes(name)[0]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        info = client.describe_index(name, index)
        done, total = info.get("indexed_rows"), info.get("total_rows")
        pending = info.get("pending_index_rows")
        log(f"  index: {done}/{total} rows, {pending} pending, {info.get('state')}")
        if done == total:
            return
        time.sleep(5)
    raise SystemExit(f"Milvus did not index {name} within {limit_s:.0f} s")


def record(
    section: Section, label: str, figures: list[Any], notes: dict[str, Any], exact: Any
) -> np.ndarray:
    """Adds one kind's (or nprobe's) figures and notes, with the recall of the mate relative
    to ``exact``'s ranks (these ranks when there are none yet); returns the baseline."""
    section.figures.extend(figures)
    ranks = np.array(notes.pop("ranks"))
    baseline = ranks if exact is None else exact
    found, exact_found = (ranks > 0).sum(), (baseline > 0).sum()
    notes["recall_of_mate_vs_exact"] = float(found / max(1, exact_found))
    section.notes[label] = notes
    for f in figures:  # as it goes: a long run's later kinds may not finish
        log(f"  {f.name}: {f.value if f.p50 is None else f'{f.p50:.1f} / {f.p95:.1f}'} {f.unit}")
    log(f"  {label}: {json.dumps(notes)}")
    return np.asarray(baseline)


def shipped_calibration(pid: str) -> Calibration:
    for path in shipped_face_calibrations():
        cal = Calibration.load(path)
        if cal.matcher == pid:
            return cal
    raise SystemExit(f"no shipped face calibration for pipeline {pid}")
