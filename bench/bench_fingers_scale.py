"""The finger gallery at a million templates: ``make bench`` (``--quick``: 20,000, a smoke run).

What is measured (wall clock, ``time.perf_counter``; progress on stderr, a table on stdout):

1. Build, once, kept in ``--work-dir`` between runs (the database, its random key, the DB1_B
   templates): impression 1 of each of the 10 FVC2002 DB1_B fingers as real mates, then
   ``--size`` synthetic templates from ``bench_fingers``' generator (one worker process,
   ``_CHUNK`` templates at a time, at most ``_AHEAD`` chunks waiting, so memory stays bounded),
   bulk-enrolled through ``FingerGallery.enrol_many`` (each row's screen code is computed and
   sealed at enrolment). A database holding other than the expected rows is built again.
2. In a fresh process, the gallery opened from the table (its snapshot removed first:
   every row's sealed code read and opened, then the files written again). In another fresh
   process: the open from those files (a decryption per segment, a catch-up from the log, the
   check against the table), RSS before and after it and its peak; each of the 70 DB1_B
   probes (``--probes``: fewer, a smoke run) searched end to end (``prepare``, the screen
   over every row on numba's threads, the shortlist's templates read from SQL and checked by
   the geometric matcher): p50/p95 against the target p50 <= 2 s
   on 2 cores, and the CPU time of each search (all threads: what an idle machine would
   spend, whatever the load); rank-1 (the mate's subject first) beside the geometric matcher
   over the 10 mates alone; how many mates the first stage left off the ``SHORTLIST`` (every
   listed row comes back as a hit); the first stage alone, over the gallery and over its codes
   repeated to 1M rows where the build is smaller (``--as-is``); 10 searches timed part by
   part (``PARTS``); one probe searched again (its shortlist's features cached). The 1-minute
   load average is printed beside each timing: the host is shared.
3. Synthetic against real impostors, on the same 70 probes: first-stage and geometric scores
   against the 72 prints of the other 9 fingers (real impostors) and against 72 synthetic
   templates each (the generator under another seed, so none is in the gallery): quantiles and
   the two-sample Kolmogorov-Smirnov statistic; and the best distractor score each probe met in
   its shortlist of the whole gallery.

The first run builds the gallery: 120-200 templates/s on the shared 2-core host while other
suites ran (load 8-15; a million: ~1.5 h; the worker's generation takes ~0.75 ms of CPU a
template, the enrolment with each row's code ~0.9 ms); an interrupted build resumes. Measuring
takes ~15 min at 1,000,000 templates (load ~9).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
from scipy.stats import ks_2samp

from bench_common import Section, latency, log, render, single
from bench_fingers import (
    DEFAULT_DATA,
    FVC,
    GALLERY,
    PrintModel,
    enrol_prints,
    params_key,
    rss_mb,
    synth_template,
    templates_chunk,
)
from mobileid.finger.index import screen, screen_codes
from mobileid.finger.match import match_features, prepare
from mobileid.finger.pipeline import load_finger_pipeline
from mobileid.finger.types import FingerTemplate
from mobileid.gallery.finger_rows import pack_template, unpack_template
from mobileid.gallery.fingers import FingerCapture, FingerEnrolment, FingerGallery
from mobileid.service.finger_search import SHORTLIST

MILLION = 1_000_000
_SCREEN_PROBES = 5  # probes timed through the first stage alone
_PART_PROBES = 10  # probes timed part by part
PARTS = (
    "check that the loaded set is current (change log)",
    "screen: kernel over every code + shortlist",
    "shortlist rows read from SQL and opened",
    "shortlist templates prepared",
    "shortlist matched (geometric)",
)
SEARCH_S = 2.0  # target: one search over 1M templates, p50, on 2 cores
_CHUNK = 5_000  # synthetic templates per worker task
_AHEAD = 3  # worker tasks generated ahead of the enrolment
_ENROL_BATCH = 2_500  # subjects per transaction
_IMPOSTORS = 72  # synthetic impostors per probe: as many as its real ones
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Plan:
    size: int
    seed: int
    data: Path
    work: Path
    build_only: bool = False
    as_is: bool = False
    probes: int = 70


def parse_args(argv: list[str] | None = None) -> Plan:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20,000 synthetic templates")
    p.add_argument("--size", type=int, help="synthetic templates (default 1,000,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mobileid-bench-fingers-scale",
        help="where the gallery is built and kept between runs (~2.2 GB per million)",
    )
    p.add_argument("--build-only", action="store_true", help="build the gallery, measure nothing")
    p.add_argument(
        "--as-is",
        action="store_true",
        help="measure the gallery of --size as far as it was built (an interrupted build)",
    )
    p.add_argument("--probes", type=int, default=70, help="DB1_B probes searched (a smoke run)")
    a = p.parse_args(argv)
    size = a.size or (20_000 if a.quick else 1_000_000)
    return Plan(size, a.seed, a.data, a.work_dir, a.build_only, a.as_is, a.probes)


# --- 1. build ---------------------------------------------------------------------------------
def db1_templates(plan: Plan) -> dict[str, FingerTemplate]:
    """Every DB1_B print's template, extracted once and kept in the work folder."""
    pipeline = load_finger_pipeline()
    tag = hashlib.sha256(pipeline.pipeline_id.encode()).hexdigest()[:12]
    path = plan.work / f"db1_b-{tag}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: unpack_template(z[k].tobytes(), pipeline.pipeline_id) for k in z.files}
    log("extracting DB1_B")
    templates, _, refused = enrol_prints(pipeline, plan.data / FVC / "DB1_B", 8)
    if refused:
        log(f"refused: {refused}")
    plan.work.mkdir(parents=True, exist_ok=True)
    packed = {k: np.frombuffer(pack_template(t), np.uint8) for k, t in templates.items()}
    np.savez(path, **packed)  # type: ignore[arg-type]
    return templates


def synthetic(model: PrintModel, seed: int, start: int, n: int) -> Iterator[list[FingerTemplate]]:
    """Synthetic templates ``start..n`` in order, a chunk at a time, from one worker process."""
    spawn = multiprocessing.get_context("spawn")  # no fork under numba's threads
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        waiting: deque[Future[tuple[int, list[FingerTemplate]]]] = deque()
        while waiting or start < n:
            while len(waiting) < _AHEAD and start < n:
                stop = min(start + _CHUNK, n)
                waiting.append(pool.submit(templates_chunk, model, seed, start, stop))
                start = stop
            yield waiting.popleft().result()[1]


def build(plan: Plan, model: PrintModel, mates: list[FingerTemplate]) -> tuple[Path, bytes, str]:
    """The gallery database and its key, built or completed (an interrupted build resumes
    where it stopped: rows are enrolled in order); a note of how it was made."""
    name = f"gallery-n{plan.size}-seed{plan.seed}-{model.key()}-{params_key(model.pipeline_id)}"
    database, keyfile = plan.work / f"{name}.sqlite3", plan.work / f"{name}.key"
    found = _count(database, keyfile)
    if found == plan.size + len(mates) or (plan.as_is and found > len(mates)):
        log(f"gallery: using {database} ({found:,} templates)")
        return database, keyfile.read_bytes(), f"{found:,} templates, built earlier"
    if found < len(mates):
        for path in plan.work.glob(f"{name}.sqlite3*"):
            path.unlink()
        plan.work.mkdir(parents=True, exist_ok=True)
        keyfile.write_bytes(secrets.token_bytes(32))
    key = keyfile.read_bytes()
    fingers = FingerGallery(database, key=key)
    t0 = time.perf_counter()
    start = max(found - len(mates), 0)
    if found < len(mates):
        real = [_enrolment(f"mate-{k}", t) for k, t in enumerate(mates)]
        fingers.enrol_many(GALLERY, real, training=True)
    else:
        log(f"gallery: resuming at synthetic template {start:,}")
    done = start
    for chunk in synthetic(model, plan.seed, start, plan.size):
        batch = [_enrolment(f"{done + i:064x}", t) for i, t in enumerate(chunk)]
        fingers.enrol_many(GALLERY, batch, training=True, batch=_ENROL_BATCH)
        done += len(chunk)
        if done % (10 * _CHUNK) == 0 or done == plan.size:
            rate = (done - start) / (time.perf_counter() - t0)
            left = (plan.size - done) / rate
            log(f"gallery: {done:,}/{plan.size:,} ({rate:,.0f}/s, ~{left:.0f} s left)")
    fingers.close()
    seconds = time.perf_counter() - t0
    size_gb = sum(p.stat().st_size for p in plan.work.glob(f"{name}.sqlite3*")) / 1e9
    rate = (plan.size - start) / seconds
    return database, key, f"built in {seconds:.0f} s ({rate:,.0f}/s), {size_gb:.2f} GB"


def _count(database: Path, keyfile: Path) -> int:
    """Templates in the bench gallery at ``database``; -1 when there is none."""
    if not (database.exists() and keyfile.exists()):
        return -1
    fingers = FingerGallery(database, key=keyfile.read_bytes())
    try:
        return fingers.count(GALLERY)
    finally:
        fingers.close()


def _enrolment(sha: str, t: FingerTemplate) -> FingerEnrolment:
    """One subject, one print: the mates' references are 'mate-K', the synthetic ones' hex."""
    return FingerEnrolment(sha, sha[:16], "bench", [FingerCapture(t, "unknown", sha)])


# --- 2. open and search -----------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    name: str
    template: FingerTemplate
    mate: str  # the mate's reference


@dataclass(frozen=True)
class Measured:
    """What the fresh process that opened and searched the gallery measured."""

    rss_start_mb: float
    open_s: float  # from the snapshot written by ``open_from_table``
    open_cpu_s: float
    open_load: float  # 1-minute load average just after the open
    loaded: int
    rss_open_mb: float
    search_s: list[float]
    search_cpu_s: list[float]  # CPU seconds of the process (every thread) per search
    search_load: list[float]  # 1-minute load average after each search
    again_s: list[float]
    first: int  # probes whose mate came first
    listed: int  # probes whose mate was on the first stage's shortlist
    best_other: list[float]  # per probe: the best geometric score of a non-mate hit
    screen_s: list[float]  # the first stage alone over the gallery, per probe
    screen_1m_s: list[float]  # the same over its codes repeated to MILLION rows (if smaller)
    parts_s: dict[str, list[float]]  # each part of a search (PARTS), per probe
    parts_load: list[float]
    peak_rss_mb: float


def measure(database: Path, key: bytes, pipeline_id: str, probes: list[Probe]) -> Measured:
    """In a fresh process: the cold open, then each probe searched end to end, then the
    first stage alone for the mates' ranks (untimed), then the first probe again."""
    warm = prepare(probes[0].template)  # load the compiled kernels before the clock starts
    screen(screen_codes([warm])[0], screen_codes([warm]), 1)
    rss_start = rss_mb()
    fingers = FingerGallery(database, key=key, snapshots=_snapshots(database))
    t0, c0 = time.perf_counter(), time.process_time()
    loaded = fingers.preload(GALLERY, pipeline_id)
    open_s, open_cpu = time.perf_counter() - t0, time.process_time() - c0
    open_load = os.getloadavg()[0]
    rss_open = rss_mb()
    log(f"measure: opened {loaded:,} templates in {open_s:.1f} s, RSS {rss_open:.0f} MB")
    refs = _references(fingers)
    seconds, cpu, loads, first, listed, best_other = [], [], [], 0, 0, []
    for k, p in enumerate(probes):
        t0, c0 = time.perf_counter(), time.process_time()
        hits, _ = fingers.search(GALLERY, prepare(p.template), SHORTLIST)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        loads.append(os.getloadavg()[0])
        first += bool(hits) and refs.get(hits[0].subject_id) == p.mate
        # Every row the first stage listed is checked and comes back as a hit.
        listed += any(refs.get(h.subject_id) == p.mate for h in hits)
        best_other.append(max(h.score for h in hits if refs.get(h.subject_id) != p.mate))
        if (k + 1) % 10 == 0:
            log(
                f"measure: {k + 1}/{len(probes)} searches, p50 {np.median(seconds):.2f} s, "
                f"load average {loads[-1]:.2f}"
            )
    again = []
    for _ in range(3):
        t0 = time.perf_counter()
        fingers.search(GALLERY, prepare(probes[0].template), SHORTLIST)
        again.append(time.perf_counter() - t0)
    codes = fingers._screens.load(GALLERY, pipeline_id).codes  # the loaded set, as search reads it
    screen_s, screen_1m_s = _screen_times(codes, probes[:_SCREEN_PROBES])
    parts, parts_load = _search_parts(fingers, pipeline_id, probes[:_PART_PROBES])
    fingers.close()
    return Measured(
        rss_start, open_s, open_cpu, open_load, loaded, rss_open, seconds, cpu, loads, again, first,
        listed, best_other, screen_s, screen_1m_s, parts, parts_load,
        rss_mb(peak=True),
    )  # fmt: skip


@dataclass(frozen=True)
class TableOpen:
    """The open of a gallery with no snapshot: every row's code read from SQL and
    opened, then the file written."""

    seconds: float
    cpu_s: float
    load: float
    loaded: int


def _snapshots(database: Path) -> Path:
    return database.with_name(database.stem + "-snapshots")


def open_from_table(database: Path, key: bytes, pipeline_id: str) -> TableOpen:
    """In a fresh process: the snapshot's files removed, the gallery opened from the table
    (which writes them again for the measured opens)."""
    folder = _snapshots(database)
    for path in folder.glob("fingers-*"):  # manifests, segments, a file of an older format
        path.unlink()
    fingers = FingerGallery(database, key=key, snapshots=folder)
    t0, c0 = time.perf_counter(), time.process_time()
    loaded = fingers.preload(GALLERY, pipeline_id)
    out = TableOpen(time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0], loaded)
    fingers.close()
    log(f"open from the table: {loaded:,} templates in {out.seconds:.1f} s, load {out.load:.1f}")
    return out


def _search_parts(
    fingers: FingerGallery, pipeline_id: str, probes: list[Probe]
) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds of each part of a search (``PARTS``, the steps ``FingerGallery.search`` takes),
    per probe, the shortlist's templates read and prepared afresh; and the load average
    after each probe. What is left of a search (the probe's code, the hits' assembly) is the
    end-to-end time less these."""
    screens = fingers._screens
    out: dict[str, list[float]] = {part: [] for part in PARTS}
    loads = []
    for p in probes:
        features = prepare(p.template)
        marks = [time.perf_counter()]
        loaded = screens.load(GALLERY, pipeline_id)
        marks.append(time.perf_counter())
        rows, _ = screen(screen_codes([features])[0], loaded.codes, SHORTLIST)
        marks.append(time.perf_counter())
        sealed = screens.rows(GALLERY, pipeline_id, loaded.ids[rows].tolist())
        opened = [screens.box_for(GALLERY, pipeline_id).template(r) for r in sealed]
        marks.append(time.perf_counter())
        prepared = [prepare(t) for t in opened]
        marks.append(time.perf_counter())
        for f in prepared:
            match_features(features, f)
        marks.append(time.perf_counter())
        for part, a, b in zip(PARTS, marks[:-1], marks[1:], strict=True):
            out[part].append(b - a)
        loads.append(os.getloadavg()[0])
    return out, loads


def _screen_times(
    codes: npt.NDArray[np.uint64], probes: list[Probe]
) -> tuple[list[float], list[float]]:
    """Seconds of the first stage per probe over ``codes``, and over ``codes`` repeated to
    ``MILLION`` rows when fewer (the kernel's time depends on the row count, not on which
    codes: an estimate of the full-size screen from a smaller build)."""
    tiled = None
    if codes.shape[0] < MILLION:
        tiled = np.resize(codes, (MILLION, *codes.shape[1:]))
    out: tuple[list[float], list[float]] = ([], [])
    for p in probes:
        code = screen_codes([prepare(p.template)])[0]
        for times, gallery in zip(out, (codes, tiled), strict=True):
            if gallery is not None:
                t0 = time.perf_counter()
                screen(code, gallery, SHORTLIST)
                times.append(time.perf_counter() - t0)
    return out


def _references(fingers: FingerGallery) -> dict[str, str]:
    """Subject id -> reference of the real mates (the only subjects whose reference is asked)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from mobileid.gallery.store import SubjectRow

    q = select(SubjectRow.subject_id, SubjectRow.reference).where(
        SubjectRow.reference.like("mate-%")
    )
    with Session(fingers.engine) as s:
        return {sid: ref for sid, ref in s.execute(q)}


def search_section(
    plan: Plan, run: Measured, table: TableOpen, probes: list[Probe], exhaustive: int, note: str
) -> Section:
    n = len(probes)
    section = Section(f"2. finger gallery, {run.loaded:,} templates (10 real mates + synthetic)")
    load = f"load {min(run.search_load):.1f}-{max(run.search_load):.1f}"
    section.figures += [
        single(
            f"open from the table, no file (writes it), load {table.load:.1f}", "s", table.seconds
        ),
        single("  CPU time of that open", "s", table.cpu_s),
        single(f"open from the snapshot, fresh process, load {run.open_load:.1f}", "s", run.open_s),
        single("  CPU time of that open", "s", run.open_cpu_s),
        single("  RSS after the open", "MB", run.rss_open_mb),
        single("  peak RSS", "MB", run.peak_rss_mb),
        latency(
            f"search end to end, shortlist {SHORTLIST}, {load}",
            run.search_s,
            target_p50_ms=SEARCH_S * 1000,
        ),
        latency("  CPU time per search, all threads (load aside)", run.search_cpu_s),
        latency("  same probe again (features cached)", run.again_s),
        single("rank-1, geometric over the 10 real mates alone", "%", 100 * exhaustive / n),
        single(f"rank-1, {run.loaded - 10:,} distractors + mates", "%", 100 * run.first / n),
        single(f"  mates the top-{SHORTLIST} shortlist lost", "probes", n - run.listed),
        latency("first stage alone (screen), over the gallery", run.screen_s),
    ]
    part_load = f"load {min(run.parts_load):.1f}-{max(run.parts_load):.1f}"
    section.figures += [
        latency(f"  part: {part}, {part_load}", run.parts_s[part]) for part in PARTS
    ]
    if run.screen_1m_s:
        section.figures.append(
            latency(f"  over its codes repeated to {MILLION:,} rows", run.screen_1m_s)
        )
        rest = float(np.median(run.search_s) - np.median(run.screen_s))
        section.notes["search at 1M, estimated"] = (
            f"{np.median(run.screen_1m_s) + rest:.2f} s = screen at 1M p50 + the rest of a "
            f"search here (p50 {np.median(run.search_s):.2f} s - screen p50 "
            f"{np.median(run.screen_s):.2f} s)"
        )
    section.notes["open"] = (
        f"{run.loaded / run.open_s:,.0f} templates/s; RSS {run.rss_start_mb:.0f} MB before it, "
        f"+{run.rss_open_mb - run.rss_start_mb:.0f} MB"
    )
    section.notes["gallery"] = note
    section.notes["threads"] = f"{numba.get_num_threads()} (numba {numba.threading_layer()})"
    section.notes["load average during the searches, p50"] = f"{np.median(run.search_load):.2f}"
    return section


# --- 3. synthetic against real impostors ------------------------------------------------------
def impostor_section(
    db1: dict[str, FingerTemplate],
    probes: list[Probe],
    model: PrintModel,
    plan: Plan,
    run: Measured,
) -> Section:
    """First-stage and geometric impostor scores of each probe: real (the other 9 fingers'
    prints) against synthetic (as many, the generator under another seed)."""
    names = sorted(db1)
    features = {n: prepare(db1[n]) for n in names}
    codes = {n: screen_codes([features[n]])[0] for n in names}
    real_s, real_g, synth_s, synth_g = [], [], [], []
    for k, p in enumerate(probes):
        finger = p.name.split("_")[0]
        others = [n for n in names if n.split("_")[0] != finger]
        fake = [
            prepare(synth_template(model, plan.seed + 1, k * _IMPOSTORS + i))
            for i in range(_IMPOSTORS)
        ]
        pf, pc = features[p.name], codes[p.name]
        real_s += _screen_scores(pc, np.stack([codes[n] for n in others]))
        synth_s += _screen_scores(pc, screen_codes(fake))
        real_g += [match_features(pf, features[n]).score for n in others]
        synth_g += [match_features(pf, f).score for f in fake]
        if (k + 1) % 10 == 0:
            log(f"impostors: {k + 1}/{len(probes)} probes")
    section = Section(
        f"3. impostor scores: {len(real_g):,} real pairs (DB1_B) against as many synthetic"
    )
    for label, real, synth in (("first stage", real_s, synth_s), ("geometric", real_g, synth_g)):
        ks = ks_2samp(real, synth)
        section.figures.append(single(f"KS statistic, {label}", "", float(ks.statistic)))
        section.notes[f"{label} p50/p90/p99/max"] = (
            f"real {_quantiles(real)}; synthetic {_quantiles(synth)}; KS p-value {ks.pvalue:.2g}"
        )
    section.notes["best distractor in each shortlist (geometric), p10/p50/p90"] = "/".join(
        f"{x:.3f}" for x in np.percentile(run.best_other, [10, 50, 90])
    )
    return section


def _screen_scores(probe: npt.NDArray[np.uint64], gallery: npt.NDArray[np.uint64]) -> list[float]:
    rows, scores = screen(probe, gallery, gallery.shape[0])
    del rows
    return [float(s) for s in scores]


def _quantiles(values: list[float]) -> str:
    q = np.percentile(values, [50, 90, 99, 100])
    return "/".join(f"{x:.3f}" for x in q)


# --- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    load = os.getloadavg()
    log(f"plan: {plan}; load average {load[0]:.2f}")
    t_start = time.perf_counter()
    db1 = db1_templates(plan)
    model = PrintModel.measure(list(db1.values()))
    fingers = sorted({n.split("_")[0] for n in db1 if n.endswith("_1")})
    mates = [db1[f"{f}_1"] for f in fingers]
    database, key, note = build(plan, model, mates)
    if plan.build_only:
        log(f"gallery: {note}")
        return 0
    probes = [
        Probe(n, db1[n], f"mate-{fingers.index(n.split('_')[0])}")
        for n in sorted(db1)
        if not n.endswith("_1") and n.split("_")[0] in fingers
    ][: plan.probes]
    exhaustive = 0
    mate_features = [prepare(t) for t in mates]
    for p in probes:
        scores = [match_features(prepare(p.template), m).score for m in mate_features]
        exhaustive += f"mate-{int(np.argmax(scores))}" == p.mate
    log("measuring in a fresh process")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        table = pool.submit(open_from_table, database, key, model.pipeline_id).result()
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        run = pool.submit(measure, database, key, model.pipeline_id, probes).result()
    sections = [
        search_section(plan, run, table, probes, exhaustive, note),
        impostor_section(db1, probes, model, plan, run),
    ]
    machine = {
        "cores": str(os.cpu_count()),
        "load average at start (1 min)": f"{load[0]:.2f}",
        "load average at end (1 min)": f"{os.getloadavg()[0]:.2f}",
        "bench wall time": f"{time.perf_counter() - t_start:.0f} s",
    }
    sections.append(Section("machine", notes=machine))
    print(render(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
