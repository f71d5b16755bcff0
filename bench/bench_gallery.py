"""Face galleries at size: each vector index kind on synthetic galleries fitted to lfw-dev.

``make bench`` runs ``bench/bench_gallery.py`` (``--sizes`` to choose, ``--quick`` for a smoke
run). What it does:

1. Embeds lfw-dev (cached in ``--data-dir``'s cache) and fits the synthetic model of
   ``synthetic_faces.py`` to its genuine and impostor scores; prints the two-sample KS
   statistics of the fit.
2. For each size N: writes N - 322 synthetic one-image identities plus the 322 real lfw-dev
   gallery faces (first image of each identity with several) through the store's bulk
   enrolment, in bounded memory; then for each index kind builds the index from SQL (as a
   server does on first use) and runs every lfw-dev probe through the store's search (index
   shortlist, re-check and exact re-rank from SQL): 1,415 mated probes (recall and rank-1 of
   the true mate) and 778 non-mated ones (the band of the best candidate, from the shipped
   calibration: false candidates per band). Without an ``exact`` kind, the mates' exact
   ranks (the baseline of recall) are scored as the first FAISS build reads the rows, so the
   store is read once for both; that build's time includes the scoring, shown beside it.
3. Optionally the same against a Milvus standalone server (``--milvus-sizes``).

Latency is per search, one FAISS thread, on whatever else the 2-core machine is doing (the
load average is printed), with the CPU time of the searching thread beside it: on a machine
shared with other work, the wall time says more about the neighbours than about the search.
RSS is the process's resident memory (VmRSS) after the build and after the searches, beside
the index's own size in memory. Output: the table on stdout, progress on stderr, ``--json FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench_common import Section, latency, log, single
from bench_milvus import milvus_server
from gallery_at_size import (
    bench_key,
    index_mib,
    insert_progress,
    load_average,
    milvus_index_built,
    real_subjects,
    record,
    shipped_calibration,
)
from gallery_exact import (
    TOP,
    ExactPass,
    ann_sweep,
    exact_baseline,
    exact_pass,
    kept_exact,
    open_sharing,
)
from gallery_load import GALLERY, Real, cached_fit, load_real, rss_mib, write_gallery
from mobileid.config import Settings
from mobileid.face.pipeline import load_face_pipeline
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.vectors import Partition
from mobileid.scoring import Calibration, band_for

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def measure(
    g: EmbeddedGallery,
    real: Real,
    cal: Calibration,
    settings: Settings,
    label: str,
    build_threads: int,
) -> tuple[list[Any], dict[str, Any]]:
    """Build (catch up from nothing), then every probe through the store's search."""
    pid = cal.matcher
    t0, c0 = time.perf_counter(), time.process_time()
    faiss.omp_set_num_threads(build_threads)  # searches below use settings.search_threads
    try:
        g.catch_up(GALLERY, pid)
    finally:
        faiss.omp_set_num_threads(settings.search_threads)
    build = time.perf_counter() - t0
    figures = [single(f"{label}: build from SQL", "s", build)]
    figures.append(single(f"{label}: build, CPU of the process", "s", time.process_time() - c0))
    notes = {"load average after build": load_average(), "build threads": build_threads}
    if label == "milvus":  # the server builds its index after the insert and flush
        figures[0] = single("milvus: insert and flush", "s", build)
        t0 = time.perf_counter()
        milvus_index_built(g.vectors, Partition(GALLERY, pid))
        figures.append(single("milvus: index build after the flush", "s", time.perf_counter() - t0))
    figures.append(single(f"{label}: RSS after build", "MiB", rss_mib()))
    searched, found = search_all(g, real, cal, settings, label)
    return figures + searched, notes | found


def search_all(
    g: EmbeddedGallery, real: Real, cal: Calibration, settings: Settings, label: str
) -> tuple[list[Any], dict[str, Any]]:
    """Every lfw-dev probe through the store's search: ranks of the mates, non-mated bands."""
    pid = cal.matcher
    names = real_subjects(g, GALLERY, real.gallery_ids)
    ranks, times, cpu, load_before = [], [], [], load_average()
    for probe, mate in zip(real.mated, real.mated_ids, strict=True):
        t, c = time.perf_counter(), time.thread_time()
        hits = g.search(GALLERY, probe, pid, TOP)
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        found = [names.get(h.subject_id) for h in hits]
        ranks.append(found.index(mate) + 1 if mate in found else 0)
    bands = {"strong": 0, "possible": 0, "none": 0}
    for probe in real.nonmated:
        t, c = time.perf_counter(), time.thread_time()
        best = g.search(GALLERY, probe, pid, 1)[0]
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        b = settings.bands
        bands[band_for(cal.fmr(best.score), b.strong_fmr, b.possible_fmr).value] += 1
    r = np.array(ranks)
    notes = {
        "rank1": float(np.mean(r == 1)),
        f"mate_in_top{TOP}": float(np.mean(r > 0)),
        "nonmated_best_band": bands,
        "load average while searching": f"{load_before} .. {load_average()}",
        "ranks": ranks,
    }
    return [
        latency(f"{label}: search (store, top {TOP})", times),
        latency(f"{label}: search, CPU time of the searching thread", cpu),
        single(f"{label}: RSS after searching", "MiB", rss_mib()),
    ], notes


def bench_size(n: int, kinds: list[str], milvus: bool, ctx: dict[str, Any]) -> Section:
    real, model, pid = ctx["real"], ctx["model"], ctx["cal"].matcher
    section = Section(f"gallery of {n:,} (fitted synthetic + {len(real.gallery)} lfw-dev)")
    keep = ctx["keep"]
    tmp = keep / str(n) if keep else Path(tempfile.mkdtemp(prefix="mobileid-bench-gallery-"))
    key = bench_key(tmp) if keep else secrets.token_bytes(32)
    try:
        db = tmp / "g.sqlite3"
        writer = EmbeddedGallery(db, tmp / "unused", key=key)
        section.notes["load average before"] = load_average()
        load_s = write_gallery(writer, n, model, real, pid)
        section.figures.append(single("bulk enrolment into SQLite", "s", load_s))
        section.notes["load average after bulk enrolment"] = load_average()
        if ctx["sweep"]:
            ann_figures, ann_notes = ann_sweep(writer, real, pid, ctx["alternatives"])
            ctx["alternatives"] = False  # the other index types once, at the first size
            section.figures.extend(ann_figures)
            section.notes["shortlist recall vs exact"] = ann_notes
        # Without an exact kind, the baseline is a batched exact pass, scored as the first
        # index build reads the rows (gallery_exact.py), or kept from an earlier run.
        baseline = kept_exact(tmp if keep else None) if "exact" not in kinds else None
        exact = exact_pass(real) if "exact" not in kinds and baseline is None else None
        all_kinds = [*kinds, *(["milvus"] if milvus else [])]
        if exact is not None and not all_kinds:
            baseline = exact_baseline(section, exact, writer, real, pid, tmp if keep else None)
        writer.close()
        section.notes["SQLite size"] = f"{db.stat().st_size / 2**20:,.0f} MiB"
        for kind in all_kinds:
            run = (kind, db, tmp, key, n)
            baseline = bench_kind(section, run, ctx, exact, baseline)
            exact = None  # read with the first kind's build, or by a pass of its own
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return section


def bench_kind(
    section: Section,
    run: tuple[str, Path, Path, bytes, int],
    ctx: dict[str, Any],
    exact: ExactPass | None,
    baseline: np.ndarray | None,
) -> np.ndarray:
    """One index kind (``run``: kind, database, folder, key, size): build, search, and again
    at each of ``ctx["nprobes"]``; returns the baseline ranks (this kind's when none yet)."""
    kind, db, tmp, key, n = run
    real, cal, settings = ctx["real"], ctx["cal"], ctx["settings"]
    log(f"{n:,}: {kind} (load {load_average()})")
    vectors = open_sharing(kind, tmp / f"index-{kind}", key, n, ctx, exact)
    progress = insert_progress(50_000 if kind == "milvus" else 500_000)
    g = EmbeddedGallery(db, tmp / f"index-{kind}", key=key, vectors=vectors, progress=progress)
    try:
        figures, notes = measure(g, real, cal, settings, kind, ctx["build_threads"])
        if exact is not None:
            keep = tmp if ctx["keep"] else None
            baseline = exact_baseline(section, exact, g, real, cal.matcher, keep)
        size = index_mib(vectors, Partition(GALLERY, cal.matcher))
        if size is not None:
            notes["index_in_memory_mib"] = round(size, 1)
        baseline = record(section, kind, figures, notes, baseline)
        for nprobe in ctx["nprobes"]:
            if not isinstance(vectors, FaissVectorIndex) or kind == "exact":
                break
            vectors.set_nprobe(nprobe)
            label = f"{kind} nprobe {nprobe}"
            log(f"{n:,}: {label} (load {load_average()})")
            figures, notes = search_all(g, real, cal, settings, label)
            record(section, label, figures, notes, baseline)
    finally:
        if kind == "milvus":
            vectors.drop(Partition(GALLERY, cal.matcher))
        g.close()
    return baseline


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="gallery sizes (comma-separated)")
    p.add_argument("--kinds", default="exact,ivf", help="FAISS index kinds ('' none)")
    p.add_argument("--milvus-sizes", default="100000", help="sizes also run on Milvus ('' none)")
    p.add_argument("--milvus-uri", help="a running Milvus server (else one is started)")
    p.add_argument("--quick", action="store_true", help="sizes 20000 only")
    p.add_argument("--no-alternatives", action="store_true", help="skip IVF-Flat and HNSW")
    p.add_argument("--no-sweep", action="store_true", help="skip the shortlist comparison")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument("--data-dir", type=Path, default=Path("mobileid-data"), help="embedding cache")
    p.add_argument(
        "--nprobe", type=int, help="IVF cells a search visits (default: a budget of codes)"
    )
    p.add_argument(
        "--nprobes", default="", help="after each FAISS kind, search again at these nprobes"
    )
    p.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep each gallery, its index and the fit in DIR/<size>; a rerun continues the "
        "bulk load and opens the saved index",
    )
    p.add_argument(
        "--lfw-saved",
        metavar="PREFIX",
        help="read lfw-dev's embeddings from PREFIX_v.npy and PREFIX_id.npy (an earlier "
        "embedding) instead of embedding it (about an hour on a loaded 2-core machine)",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=os.cpu_count() or 1,
        help="FAISS threads while an index is built (searches use MOBILEID_SEARCH_THREADS)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from bench_common import render

    a = parse(argv)
    sizes = [20_000] if a.quick else [int(s) for s in a.sizes.split(",") if s]
    on_milvus = {int(s) for s in a.milvus_sizes.split(",") if s} & set(sizes)
    settings = Settings.from_env(data_dir=a.data_dir)
    faiss.omp_set_num_threads(settings.search_threads)
    pid = load_face_pipeline(settings.face).pipeline_id
    where = f"read from {a.lfw_saved}_*.npy" if a.lfw_saved else f"cached in {a.data_dir}"
    log(f"embedding lfw-dev ({where}); load {os.getloadavg()[0]:.2f}")
    real = load_real(a.data, settings, pid, a.lfw_saved)
    t0 = time.perf_counter()
    fitted = cached_fit(a.keep / str(sizes[0]) if a.keep else None, real)
    fit_section = Section(
        "synthetic model fitted to lfw-dev scores",
        [
            single("fit", "s", time.perf_counter() - t0),
            single("KS statistic, genuine scores", "", fitted.ks_genuine),
            single("KS statistic, impostor scores", "", fitted.ks_impostor),
        ],
    )
    fit_section.notes["scales"] = f"a_b={fitted.model.a_b}, a_w={fitted.model.a_w}"
    ctx = {"real": real, "model": fitted.model, "cal": shipped_calibration(pid)}
    ctx["alternatives"] = not a.no_alternatives
    ctx["sweep"] = not a.no_sweep
    ctx["settings"] = settings
    ctx["keep"], ctx["nprobe"], ctx["build_threads"] = a.keep, a.nprobe, a.build_threads
    ctx["nprobes"] = [int(x) for x in a.nprobes.split(",") if x]
    sections = [fit_section]
    with milvus_server(a.milvus_uri if on_milvus else "none") as uri:
        ctx["milvus_uri"] = uri
        for n in sizes:
            sections.append(
                bench_size(n, [k for k in a.kinds.split(",") if k], n in on_milvus, ctx)
            )
            log("\n" + render(sections))  # partial results, should a later size fail
    machine = {"cores": os.cpu_count(), "load average (1 min)": f"{os.getloadavg()[0]:.2f}"}
    sections.append(Section("machine", notes=machine))
    print(render(sections))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps([s.to_json() for s in sections], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
