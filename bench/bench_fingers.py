"""Speed and first-stage accuracy of the fingerprint pipeline: ``make bench`` (``--quick``: smoke).

What is measured (wall clock, ``time.perf_counter``; progress on stderr, a table on stdout):

1. Extraction per contact print: ``enrol_bytes`` on every print of FVC2002 DB1_B and DB4_B
   (80 each, after one warm-up print), p50/p95, p90 in the notes. Target: DB1_B p50 <= 500 ms.
2. Per phone photo: ``enrol_photo`` on the ISPFDv1 sample photos (8 MP, 2448×3264) and on one
   of them upscaled to 12 MP (3000×4000, LANCZOS, JPEG q90, built in memory), 3 runs each.
   Photos the quality checks refuse are timed until the refusal and counted apart.
   Target: p50 <= 2000 ms for accepted photos.
3. First-stage throughput: ``screen`` of one probe over 100,000 synthetic templates, as gallery
   rows per second (median over real DB1_B probes), with numba's threads and with one.
   Target: >= 100,000 templates/s. Synthetic templates copy the real DB1_B templates of
   section 1: each borrows one real template's minutia count, centre and spread (jittered),
   scatters minutiae uniformly over an ellipse of that spread, at least 9 px apart (LEADER's
   suppression), points them along a smooth ridge flow (arch, loop or whorl, with noise),
   types 50/50 (types do not enter the screen) and qualities drawn from the real ones. Their
   codes go through ``prepare`` and ``screen_codes``, and are cached outside the repository
   (``--cache-dir``) under the seed, the count, a hash of the real statistics and a hash of
   the pipeline id and the matcher and screen parameters.
4. Two stages on real prints, per database: gallery = impression 1 of each of the 10 fingers
   plus the synthetic distractors, probes = impressions 2-8 (70). Rank-1 of ``screen`` →
   shortlist → ``match_features``, for a shortlist of 20 and of the service's ``SHORTLIST``,
   against the geometric matcher over the 10 real gallery prints alone; and the share of
   probes whose mate survived the first stage. The notes compare first-stage scores of mates,
   real impostors and synthetic distractors (whose tail should look like the real one).
5. The time of one geometric comparison (``match_features``), over every check of section 4.
6. The finger gallery at scale (``FingerGallery``, ``--gallery-only`` runs just this after
   extracting DB1_B): ``prepare`` per real DB1_B template (target p50 < 1 ms); the section-3
   synthetic templates (``--gallery-size``, default as many as distractors) plus impression 1
   of 10 DB1_B fingers bulk-enrolled (``enrol_many``, sealed rows in a temporary database);
   then, in a fresh process, the cold load (``preload``), its RSS and peak RSS, and one search
   end to end (``prepare`` of the probe, screen, geometric check of ``SHORTLIST`` rows) for
   impression 2 of each of the 10 fingers, p50; and one search repeated (features cached).
   Then a photo search's first stage and check (``service.finger_search``): each of those
   probes at the five scale hypotheses (``CONTACT_SCALES``), one ``search`` per view as photo
   searches ran, against one ``search_many`` of all five (one screen pass over the codes),
   wall and CPU seconds of the process, with the load average; their hits must be the same.
   The synthetic templates are cached like the codes, also keyed by the pipeline id and the
   match and screen parameters.

The first run generates the distractors (~11 min on the shared 2-core host when ``prepare``
took ~5 ms a template; it now takes ~0.4 ms); later runs load them and take ~5 minutes, plus
~4 minutes for section 6.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
from PIL import Image

from bench_common import Figure, Section, latency, log, render, single
from mobileid.errors import InputError
from mobileid.finger.index import screen, screen_codes
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.params import MatchParams, ScreenParams
from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline
from mobileid.finger.types import FingerTemplate
from mobileid.finger.views import CONTACT_SCALES, scale_template
from mobileid.gallery.fingers import FingerCapture, FingerEnrolment, FingerGallery
from mobileid.service.finger_search import SHORTLIST

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FVC = Path("fingerprints/FVC2002")
PHOTOS = Path("contactless/ISPFDv1_samples")
TWELVE_MP = (3000, 4000)  # width × height of a portrait 12 MP photo (the samples are 3:4 too)
PRINT_MS, PHOTO_MS, SCREEN_PER_S = 500.0, 2000.0, 100_000.0
GENERATOR = "v1"  # change when synth_template changes: it names the cached codes
MIN_SPACING = 9.0  # px: 1st percentile of nearest-minutia distance in real DB1_B templates
_CHUNK = 1000  # synthetic templates per worker task

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Plan:
    distractors: int
    seed: int
    screen_probes: int  # timed screens per thread setting
    photo_runs: int
    impressions: int  # per finger; 1 is the gallery, the rest probes
    shortlists: tuple[int, ...]
    data: Path
    cache: Path
    workers: int
    gallery_size: int = 0  # synthetic templates enrolled in section 6
    gallery_only: bool = False


def parse_args(argv: list[str] | None = None) -> Plan:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10k distractors, fewer runs (~3 min)")
    p.add_argument("--distractors", type=int, help="synthetic templates (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mobileid-bench",
        help="where generated codes are kept between runs (default: TMPDIR/mobileid-bench)",
    )
    p.add_argument("--gallery-only", action="store_true", help="only section 6 (~4 min)")
    p.add_argument("--gallery-size", type=int, help="synthetic templates of section 6")
    a = p.parse_args(argv)
    distractors = a.distractors or (10_000 if a.quick else 100_000)
    return Plan(
        distractors=distractors,
        seed=a.seed,
        screen_probes=5 if a.quick else 11,
        photo_runs=1 if a.quick else 3,
        impressions=3 if a.quick else 8,
        shortlists=tuple(sorted({20, SHORTLIST})),
        data=a.data,
        cache=a.cache_dir,
        workers=max(1, min(2, os.cpu_count() or 1)),
        gallery_size=a.gallery_size or distractors,
        gallery_only=a.gallery_only,
    )


# --- 1. contact prints ------------------------------------------------------------------------
def enrol_prints(
    pipeline: FingerPipeline, folder: Path, impressions: int
) -> tuple[dict[str, FingerTemplate], list[float], list[str]]:
    """Templates of ``folder``'s prints (impressions 1..n), seconds per print, refusals."""
    files = sorted(f for f in folder.glob("*.tif") if int(f.stem.split("_")[1]) <= impressions)
    templates: dict[str, FingerTemplate] = {}
    seconds, refused = [], []
    for i, f in enumerate(files):
        data = f.read_bytes()
        t0 = time.perf_counter()
        try:
            templates[f.stem] = pipeline.enrol_bytes(data, field=f.name)
        except InputError as e:
            refused.append(f"{f.name}: {type(e).__name__}")
        seconds.append(time.perf_counter() - t0)
        if (i + 1) % 20 == 0:
            log(f"extract {folder.name}: {i + 1}/{len(files)}")
    return templates, seconds, refused


def extraction_section(name: str, seconds: list[float], refused: list[str], size: str) -> Section:
    target = PRINT_MS if name == "DB1_B" else None
    fig = latency(f"{name} contact print ({size})", seconds, target_p50_ms=target)
    section = Section(f"1. extraction (enrol_bytes), FVC2002 {name}", [fig])
    section.notes["p90"] = f"{np.percentile(seconds, 90) * 1000:.0f} ms"
    section.notes["refused"] = ", ".join(refused) or "none"
    return section


# --- 2. phone photos --------------------------------------------------------------------------
def twelve_mp(data: bytes) -> bytes:
    img = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = TWELVE_MP if img.height >= img.width else TWELVE_MP[::-1]
    buf = io.BytesIO()
    img.resize((w, h), Image.Resampling.LANCZOS).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def time_photo(pipeline: FingerPipeline, data: bytes, runs: int) -> tuple[list[float], str]:
    """Seconds per ``enrol_photo`` and the outcome ("ok, N minutiae" or the error's class)."""
    seconds, outcome = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            outcome = f"ok, {pipeline.enrol_photo(data).count} minutiae"
        except InputError as e:
            outcome = type(e).__name__
        seconds.append(time.perf_counter() - t0)
    return seconds, outcome


def photo_section(pipeline: FingerPipeline, plan: Plan) -> Section:
    files = sorted((plan.data / PHOTOS).glob("*.jpg"))
    accepted: list[float] = []
    refused: list[float] = []
    outcomes = {}
    for f in files:
        log(f"photo {f.name}")
        seconds, outcome = time_photo(pipeline, f.read_bytes(), plan.photo_runs)
        (accepted if outcome.startswith("ok") else refused).extend(seconds)
        outcomes[f.name] = outcome
    big_from = next((f for f in files if outcomes[f.name].startswith("ok")), files[0])
    log(f"photo {big_from.name} upscaled to 12 MP")
    big = twelve_mp(big_from.read_bytes())
    big_s, big_outcome = time_photo(pipeline, big, plan.photo_runs)
    n_ok = sum(o.startswith("ok") for o in outcomes.values())
    section = Section("2. phone photos (enrol_photo), ISPFDv1 samples")
    section.figures.append(
        latency(f"8 MP photo, accepted ({n_ok} photos)", accepted, target_p50_ms=PHOTO_MS)
    )
    if refused:
        n_bad = len(outcomes) - n_ok
        section.figures.append(latency(f"8 MP photo, refused ({n_bad} photos)", refused))
    section.figures.append(
        latency(f"12 MP photo ({big_outcome.split(',')[0]})", big_s, target_p50_ms=PHOTO_MS)
    )
    section.notes["outcomes"] = "; ".join(f"{k} {v}" for k, v in outcomes.items())
    section.notes["12 MP photo"] = (
        f"{big_from.name} at {TWELVE_MP[0]}x{TWELVE_MP[1]}: {big_outcome}"
    )
    return section


# --- 3. synthetic templates -------------------------------------------------------------------
@dataclass(frozen=True)
class PrintModel:
    """What synthetic templates copy from real ones, all measured on real templates."""

    counts: npt.NDArray[np.int64]  # minutiae per template
    centres: F64  # per template: mean (x, y)
    spreads: F64  # per template: standard deviation of (x, y)
    qualities: F64  # every minutia's quality, pooled
    width: int
    height: int
    pipeline_id: str

    @classmethod
    def measure(cls, templates: list[FingerTemplate]) -> PrintModel:
        xy = [t.minutiae[:, :2].astype(np.float64) for t in templates]
        return cls(
            counts=np.array([t.count for t in templates]),
            centres=np.array([p.mean(axis=0) for p in xy]),
            spreads=np.array([p.std(axis=0) for p in xy]),
            qualities=np.concatenate([t.minutiae[:, 4] for t in templates]).astype(np.float64),
            width=templates[0].width,
            height=templates[0].height,
            pipeline_id=templates[0].pipeline_id,
        )

    def key(self) -> str:
        h = hashlib.sha256(f"{GENERATOR}|{self.pipeline_id}|{self.width}x{self.height}".encode())
        for a in (self.counts, self.centres, self.spreads, self.qualities):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:12]


def scatter(rng: np.random.Generator, n: int, centre: F64, axes: F64, size: F64) -> F64:
    """Up to ``n`` points uniform over an ellipse inside the image, ``MIN_SPACING`` apart
    (random sequential adsorption: candidates in random order, each kept if nothing kept is
    too close)."""
    r, phi = np.sqrt(rng.random(6 * n)), rng.uniform(0, 2 * np.pi, 6 * n)
    cand = centre + axes * np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    cand = np.ascontiguousarray(cand[np.all((cand >= 4) & (cand <= size - 5), axis=1)])
    return cand[_adsorb(cand, n, MIN_SPACING**2)]


@numba.njit(cache=True)
def _adsorb(cand: F64, n: int, min_d2: float) -> npt.NDArray[np.int64]:
    """Indices of the candidates kept, in order (a loop in numba: ~5x faster than numpy's
    per-candidate passes, with the same arithmetic, so the same templates come out)."""
    blocked = np.zeros(cand.shape[0], dtype=np.bool_)
    kept = np.empty(min(n, cand.shape[0]), dtype=np.int64)
    k = 0
    for c in range(cand.shape[0]):
        if k == n:
            break
        if not blocked[c]:
            kept[k] = c
            k += 1
            for j in range(cand.shape[0]):
                dx, dy = cand[j, 0] - cand[c, 0], cand[j, 1] - cand[c, 1]
                if dx * dx + dy * dy < min_d2:
                    blocked[j] = True
    return kept[:k]


def ridge_flow(rng: np.random.Generator, xy: F64, centre: F64) -> F64:
    """Ridge orientation at ``xy``: Sherlock-Monro zero-pole model of an arch, loop or whorl."""
    z, c = xy[:, 0] + 1j * xy[:, 1], complex(centre[0], centre[1])
    base = rng.normal(0.0, 0.3)
    kind = rng.random()
    if kind < 0.1:  # arch: no singular point, a gentle wave
        return base + 0.5 * np.sin((z.imag - c.imag) / 90.0) * np.cos((z.real - c.real) / 120.0)
    core = c + complex(rng.normal(0, 25), rng.normal(-30, 25))
    cores = [core] if kind < 0.7 else [core - 20, core + 20]
    side = rng.choice([-1.0, 1.0])
    deltas = [core + complex(side * rng.uniform(60, 130), rng.uniform(80, 150))]
    if len(cores) == 2:
        deltas.append(core + complex(-side * rng.uniform(60, 130), rng.uniform(80, 150)))
    pole = sum(np.angle(z - q) for q in cores) - sum(np.angle(z - q) for q in deltas)
    return base + 0.5 * pole


def synth_template(model: PrintModel, seed: int, i: int) -> FingerTemplate:
    """Synthetic template ``i`` of ``seed`` (the same every time)."""
    rng = np.random.default_rng([seed, i])
    j = int(rng.integers(model.counts.size))  # the real template this one borrows from
    n = max(8, int(model.counts[j]) + int(rng.integers(-3, 4)))
    centre = model.centres[j] + rng.normal(0.0, 8.0, 2)
    axes = 2.0 * model.spreads[j] * rng.uniform(0.9, 1.1, 2)  # uniform ellipse: sd = axis / 2
    xy = scatter(rng, n, centre, axes, np.array([model.width, model.height], dtype=np.float64))
    n = xy.shape[0]
    angle = ridge_flow(rng, xy, centre) + np.pi * rng.integers(0, 2, n) + rng.normal(0, 0.15, n)
    angle = (angle + np.pi) % (2 * np.pi) - np.pi
    kind = rng.integers(1, 3, n)  # ending or bifurcation
    quality = rng.choice(model.qualities, n)
    m = np.stack([xy[:, 0], xy[:, 1], angle, kind, quality], axis=1).astype(np.float32)
    m = m[np.lexsort((m[:, 0], m[:, 1], -m[:, 4]))]  # best quality first, as extract does
    q = 100.0 * float(m[:, 4].mean()) * min(1.0, n / 30.0)
    return FingerTemplate(m, model.width, model.height, 500.0, q, model.pipeline_id)


def codes_chunk(model: PrintModel, seed: int, start: int, stop: int) -> tuple[int, U64]:
    """Worker task: screen codes of synthetic templates ``start..stop``."""
    features = [prepare(synth_template(model, seed, i)) for i in range(start, stop)]
    return start, screen_codes(features)


def synthetic_codes(model: PrintModel, plan: Plan) -> tuple[U64, str]:
    """The distractors' codes, from the cache or generated in worker processes."""
    key = f"{model.key()}-{params_key(model.pipeline_id)}"  # a change to the code rebuilds it
    path = plan.cache / f"finger-codes-seed{plan.seed}-n{plan.distractors}-{key}.npy"
    if path.exists():
        log(f"synthetic: {plan.distractors:,} codes from {path}")
        return np.load(path), f"cached in {path}"
    log(f"synthetic: generating {plan.distractors:,} templates with {plan.workers} processes")
    t0 = time.perf_counter()
    out: U64 | None = None
    done, step = 0, max(plan.distractors // 20, 1)
    spawn = multiprocessing.get_context("spawn")  # no fork under numba's or onnx's threads
    with ProcessPoolExecutor(plan.workers, mp_context=spawn) as pool:
        tasks = [
            pool.submit(codes_chunk, model, plan.seed, a, min(a + _CHUNK, plan.distractors))
            for a in range(0, plan.distractors, _CHUNK)
        ]
        for task in as_completed(tasks):
            start, codes = task.result()
            if out is None:
                out = np.zeros((plan.distractors, *codes.shape[1:]), dtype=np.uint64)
            out[start : start + codes.shape[0]] = codes
            before, done = done, done + codes.shape[0]
            if done // step != before // step:
                rate = done / (time.perf_counter() - t0)
                eta = (plan.distractors - done) / rate
                log(f"synthetic: {done:,}/{plan.distractors:,} ({rate:,.0f}/s, ~{eta:.0f} s left)")
    assert out is not None
    seconds = time.perf_counter() - t0
    plan.cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(partial, out)
    partial.replace(path)
    return out, f"generated in {seconds:.0f} s ({plan.distractors / seconds:,.0f}/s), now in {path}"


def synthetic_notes(model: PrintModel, plan: Plan) -> dict[str, str]:
    """Real against synthetic minutia counts and spreads, on a sample of 500."""
    sample = [synth_template(model, plan.seed, i) for i in range(min(500, plan.distractors))]
    synth = PrintModel.measure(sample)

    def pct(a: npt.ArrayLike) -> str:
        return "/".join(f"{x:.0f}" for x in np.percentile(a, [10, 50, 90]))

    return {
        "minutiae p10/p50/p90": f"real {pct(model.counts)}, synthetic {pct(synth.counts)}",
        "x spread p10/p50/p90 (px)": f"real {pct(model.spreads[:, 0])}, "
        f"synthetic {pct(synth.spreads[:, 0])}",
        "y spread p10/p50/p90 (px)": f"real {pct(model.spreads[:, 1])}, "
        f"synthetic {pct(synth.spreads[:, 1])}",
    }


def time_screens(gallery: U64, probes: U64, size: int) -> list[float]:
    seconds = []
    for probe in probes:
        t0 = time.perf_counter()
        screen(probe, gallery, size)
        seconds.append(time.perf_counter() - t0)
    return seconds


def throughput_section(gallery: U64, probes: U64, plan: Plan, source: str) -> Section:
    threads = numba.get_num_threads()
    screen(probes[0], gallery[:1000], 10)  # compile, or load the compiled kernel
    section = Section(f"3. first stage (screen), {gallery.shape[0]:,} synthetic templates")
    for n in sorted({threads, 1}, reverse=True):
        numba.set_num_threads(n)
        try:
            seconds = time_screens(gallery, probes[: plan.screen_probes], SHORTLIST)
        finally:
            numba.set_num_threads(threads)
        rate = gallery.shape[0] / float(np.median(seconds))
        log(f"screen: {n} thread(s) {rate:,.0f} templates/s")
        section.figures.append(latency(f"screen one probe, {n} thread(s)", seconds))
        section.figures.append(
            Figure(
                f"  templates/s, {n} thread(s)",
                "1/s",
                value=rate,
                runs=len(seconds),
                target=f">= {SCREEN_PER_S:,.0f}/s" if n == threads else "",
                passed=rate >= SCREEN_PER_S if n == threads else None,
            )
        )
    section.notes["threads"] = f"{threads} (numba {numba.threading_layer()} layer), M×W codes "
    section.notes["threads"] += f"{gallery.shape[1]}×{gallery.shape[2]} words"
    section.notes["synthetic codes"] = source
    return section


# --- 4. two stages on real prints -------------------------------------------------------------
@dataclass
class Tally:
    """Outcomes over the probes of one database."""

    probes: int = 0
    exhaustive: int = 0  # rank-1 hits of the geometric matcher over the real gallery alone
    two_stage: Counter[int] = field(default_factory=Counter)  # shortlist size -> rank-1 hits
    survived: Counter[int] = field(default_factory=Counter)  # shortlist size -> mate listed
    mate_ranks: list[int] = field(default_factory=list)  # in the first stage, 0 = top
    # First-stage scores: of mates and real impostors pooled; of synthetic distractors, each
    # probe's p50, p99 and p99.9.
    mates: list[float] = field(default_factory=list)
    impostors: list[float] = field(default_factory=list)
    synthetic: list[npt.NDArray[np.float64]] = field(default_factory=list)
    match_seconds: list[float] = field(default_factory=list)


@dataclass
class TwoStage:
    """One database's real gallery (impression 1) ahead of the synthetic distractors."""

    real: list[MatchFeatures]
    synth: U64
    model: PrintModel
    seed: int
    distractors: dict[int, MatchFeatures] = field(default_factory=dict)  # prepared on demand

    @property
    def codes(self) -> U64:
        return np.concatenate([screen_codes(self.real), self.synth])  # real rows first

    def features(self, row: int) -> MatchFeatures:
        if row < len(self.real):
            return self.real[row]
        if row not in self.distractors:
            t = synth_template(self.model, self.seed, row - len(self.real))
            self.distractors[row] = prepare(t)
        return self.distractors[row]

    def probe(self, probe: MatchFeatures, mate: int, codes: U64, plan: Plan, tally: Tally) -> None:
        rows, scores = screen(screen_codes([probe])[0], codes, codes.shape[0])
        listed = rows[: max(plan.shortlists)].tolist()
        geo = []
        for r in listed:
            t0 = time.perf_counter()
            geo.append(match_features(probe, self.features(r)).score)
            tally.match_seconds.append(time.perf_counter() - t0)
        tally.probes += 1
        for s in plan.shortlists:
            tally.survived[s] += int(mate in listed[:s])
            tally.two_stage[s] += int(listed[int(np.argmax(geo[:s]))] == mate)
        exhaustive = [match_features(probe, g).score for g in self.real]
        tally.exhaustive += int(int(np.argmax(exhaustive)) == mate)
        at = np.nonzero(rows == mate)[0]
        tally.mate_ranks.append(int(at[0]) if at.size else codes.shape[0])
        real = rows < len(self.real)
        tally.mates += scores[at].tolist()
        tally.impostors += scores[real & (rows != mate)].tolist()
        tally.synthetic.append(np.percentile(scores[~real], [50, 99, 99.9]))


def two_stage_section(
    db: str, templates: dict[str, FingerTemplate], synth: U64, model: PrintModel, plan: Plan
) -> tuple[Section, list[float]]:
    fingers = sorted({name.split("_")[0] for name in templates})
    gallery = [f"{f}_1" for f in fingers if f"{f}_1" in templates]
    run = TwoStage([prepare(templates[n]) for n in gallery], synth, model, plan.seed)
    codes = run.codes
    tally = Tally()
    probes = sorted(n for n in templates if not n.endswith("_1"))
    for k, name in enumerate(probes):
        mate_name = name.split("_")[0] + "_1"
        mate = gallery.index(mate_name) if mate_name in gallery else -1
        run.probe(prepare(templates[name]), mate, codes, plan, tally)
        if (k + 1) % 10 == 0:
            log(f"two stages {db}: {k + 1}/{len(probes)} probes")
    return accuracy_section(db, tally, len(gallery), synth.shape[0], plan), tally.match_seconds


def accuracy_section(db: str, tally: Tally, real: int, synth: int, plan: Plan) -> Section:
    n = max(tally.probes, 1)
    section = Section(
        f"4. two stages, FVC2002 {db}: {tally.probes} probes, gallery {real} real + "
        f"{synth:,} synthetic"
    )
    section.figures.append(
        single(f"rank-1, geometric over the {real} real only", "%", 100 * tally.exhaustive / n)
    )
    for s in plan.shortlists:
        section.figures += [
            single(f"rank-1, screen top {s} -> geometric", "%", 100 * tally.two_stage[s] / n),
            single(f"  mate on the top-{s} shortlist", "%", 100 * tally.survived[s] / n),
        ]
    ranks = np.array(tally.mate_ranks)
    section.notes["mate's first-stage rank (0 = top)"] = (
        f"median {np.median(ranks):.0f}, p90 {np.percentile(ranks, 90):.0f}, max {ranks.max()}"
    )
    if not (tally.mates and tally.impostors):
        return section
    mates = np.percentile(tally.mates, [10, 50])
    impostors = np.percentile(tally.impostors, [50, 99])
    synthetic = np.median(tally.synthetic, axis=0)
    section.notes["first-stage scores"] = (
        f"mates p10 {mates[0]:.3f}, p50 {mates[1]:.3f}; real impostors ({len(tally.impostors)}) "
        f"p50 {impostors[0]:.3f}, p99 {impostors[1]:.3f}; synthetic (median over probes) "
        f"p50 {synthetic[0]:.3f}, p99 {synthetic[1]:.3f}, p99.9 {synthetic[2]:.3f}"
    )
    return section


# --- 6. the finger gallery at scale -----------------------------------------------------------
GALLERY = "bench"
GALLERY_FINGERS = 10  # DB1_B fingers whose impression 1 is enrolled and impression 2 searched
PREPARE_MS = 1.0
_ENROL_BATCH = 2_000  # subjects per transaction


def params_key(pipeline_id: str) -> str:
    """What the gallery derives from a template depends on: the pipeline and the parameters."""
    text = f"{pipeline_id}|{MatchParams()!r}|{ScreenParams()!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TemplatePack:
    """Synthetic templates as flat arrays (what is cached): template i's minutiae are
    ``minutiae[starts[i]:starts[i + 1]]``."""

    minutiae: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]
    qualities: npt.NDArray[np.float32]

    def templates(self, model: PrintModel) -> Iterator[FingerTemplate]:
        for i in range(self.qualities.size):
            m = self.minutiae[self.starts[i] : self.starts[i + 1]]
            q = float(self.qualities[i])
            yield FingerTemplate(m, model.width, model.height, 500.0, q, model.pipeline_id)


def templates_chunk(
    model: PrintModel, seed: int, start: int, stop: int
) -> tuple[int, list[FingerTemplate]]:
    """Worker task: synthetic templates ``start..stop``."""
    return start, [synth_template(model, seed, i) for i in range(start, stop)]


def synthetic_templates(model: PrintModel, plan: Plan) -> tuple[TemplatePack, str]:
    """Section 3's synthetic templates (the first ``gallery_size``), cached or generated."""
    n = plan.gallery_size
    key = f"{model.key()}-{params_key(model.pipeline_id)}"
    path = plan.cache / f"finger-templates-seed{plan.seed}-n{n}-{key}.npz"
    if path.exists():
        log(f"gallery: {n:,} synthetic templates from {path}")
        with np.load(path) as z:
            return TemplatePack(z["minutiae"], z["starts"], z["qualities"]), f"cached in {path}"
    log(f"gallery: generating {n:,} templates with {plan.workers} processes")
    t0 = time.perf_counter()
    parts: dict[int, list[FingerTemplate]] = {}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(plan.workers, mp_context=spawn) as pool:
        tasks = [
            pool.submit(templates_chunk, model, plan.seed, a, min(a + _CHUNK, n))
            for a in range(0, n, _CHUNK)
        ]
        for task in as_completed(tasks):
            start, chunk = task.result()
            parts[start] = chunk
    every = [t for start in sorted(parts) for t in parts[start]]
    counts = np.array([t.count for t in every], dtype=np.int64)
    pack = TemplatePack(
        np.concatenate([t.minutiae for t in every]),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.array([t.quality for t in every], dtype=np.float32),
    )
    seconds = time.perf_counter() - t0
    plan.cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, minutiae=pack.minutiae, starts=pack.starts, qualities=pack.qualities)
    partial.replace(path)
    return pack, f"generated in {seconds:.0f} s, now in {path}"


def enrol_gallery(
    fingers: FingerGallery, pack: TemplatePack, model: PrintModel, mates: list[FingerTemplate]
) -> tuple[float, dict[int, str]]:
    """The real mates (subject ids by position in ``mates``) then the synthetic templates,
    through ``enrol_many`` as a bulk load would (no audit hook: a bench, as bench_face)."""
    real = [
        FingerEnrolment(
            f"mate-{k}", f"Mate {k}", "bench:db1_b", [FingerCapture(t, "unknown", f"m{k}")]
        )
        for k, t in enumerate(mates)
    ]
    synth = (
        FingerEnrolment(
            f"R{i}", f"Synthetic {i}", "bench:synthetic", [FingerCapture(t, "unknown", f"{i:064x}")]
        )
        for i, t in enumerate(pack.templates(model))
    )
    t0 = time.perf_counter()
    done = fingers.enrol_many(GALLERY, real, training=True)
    enrolled = 0
    while batch := list(itertools.islice(synth, 10 * _ENROL_BATCH)):
        fingers.enrol_many(GALLERY, batch, training=True, batch=_ENROL_BATCH)
        enrolled += len(batch)
        log(f"gallery: enrolled {enrolled:,}/{pack.qualities.size:,}")
    return time.perf_counter() - t0, {k: subject.subject_id for k, (subject, _) in enumerate(done)}


def rss_mb(peak: bool = False) -> float:
    """Resident set size of this process now, or its peak (Linux). Not ``ru_maxrss``: a
    spawned process inherits there the peak of the parent it was forked from."""
    field = "VmHWM:" if peak else "VmRSS:"
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024.0
    return float("nan")


@dataclass(frozen=True)
class GalleryRun:
    """What the fresh process that loaded and searched the gallery measured."""

    rss_start_mb: float  # imports and compiled kernels, before the load
    load_s: float
    loaded: int
    rss_loaded_mb: float
    search_s: list[float]
    again_s: list[float]
    mates_first: int
    peak_rss_mb: float
    photo: PhotoSearch


@dataclass(frozen=True)
class PhotoSearch:
    """A photo probe's views (``CONTACT_SCALES``) searched one by one, and in one pass."""

    views: int
    each_s: list[float]  # wall, one ``search`` per view
    each_cpu_s: list[float]  # CPU of this process over the same
    many_s: list[float]  # wall, one ``search_many`` of all views
    many_cpu_s: list[float]
    load: tuple[float, float]  # 1-minute load average before and after
    same_hits: bool


def measure_gallery(
    database: Path, key: bytes, pipeline_id: str, probes: list[tuple[FingerTemplate, str]]
) -> GalleryRun:
    """In a fresh process: the cold load, then each probe searched end to end (its mate's
    subject id given), then the first probe again."""
    warm = prepare(probes[0][0])  # load the compiled kernels before the clock starts
    screen(screen_codes([warm])[0], screen_codes([warm]), 1)
    rss_start = rss_mb()
    fingers = FingerGallery(database, key=key)
    t0 = time.perf_counter()
    loaded = fingers.preload(GALLERY, pipeline_id)
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()

    def search(probe: FingerTemplate) -> tuple[float, str | None]:
        t0 = time.perf_counter()
        hits, _ = fingers.search(GALLERY, prepare(probe), SHORTLIST)
        return time.perf_counter() - t0, hits[0].subject_id if hits else None

    runs = [(search(probe), mate) for probe, mate in probes]
    again = [search(probes[0][0])[0] for _ in range(3)]
    photo = photo_search(fingers, [probe for probe, _ in probes])
    fingers.close()
    return GalleryRun(
        rss_start,
        load_s,
        loaded,
        rss_loaded,
        [s for (s, _), _ in runs],
        again,
        sum(first == mate for (_, first), mate in runs),
        rss_mb(peak=True),
        photo,
    )


def photo_search(fingers: FingerGallery, probes: list[FingerTemplate]) -> PhotoSearch:
    """Each probe as a photo meets contact prints (its views at every scale hypothesis):
    one ``search`` per view, as photo searches ran, against one ``search_many``. Each probe
    is searched once both ways first, so both find its shortlist's features cached."""
    each, each_cpu, many, many_cpu, same = [], [], [], [], True
    load = os.getloadavg()[0]
    for probe in probes:
        views = [prepare(scale_template(probe, s)) for s in CONTACT_SCALES]
        first = [fingers.search(GALLERY, v, SHORTLIST)[0] for v in views]
        same &= fingers.search_many(GALLERY, views, SHORTLIST)[0] == first
        w, c = time.perf_counter(), time.process_time()
        for v in views:
            fingers.search(GALLERY, v, SHORTLIST)
        each.append(time.perf_counter() - w)
        each_cpu.append(time.process_time() - c)
        w, c = time.perf_counter(), time.process_time()
        fingers.search_many(GALLERY, views, SHORTLIST)
        many.append(time.perf_counter() - w)
        many_cpu.append(time.process_time() - c)
    return PhotoSearch(
        len(CONTACT_SCALES), each, each_cpu, many, many_cpu, (load, os.getloadavg()[0]), same
    )


def prepare_seconds(templates: list[FingerTemplate], rounds: int = 3) -> list[float]:
    prepare(templates[0])  # compile, or load the compiled kernel
    seconds = []
    for _ in range(rounds):
        for t in templates:
            t0 = time.perf_counter()
            prepare(t)
            seconds.append(time.perf_counter() - t0)
    return seconds


def gallery_section(db1: dict[str, FingerTemplate], model: PrintModel, plan: Plan) -> Section:
    prep = prepare_seconds(list(db1.values()))
    names = sorted({n.split("_")[0] for n in db1})
    pairs = [f for f in names if f"{f}_1" in db1 and f"{f}_2" in db1][:GALLERY_FINGERS]
    pack, source = synthetic_templates(model, plan)
    key = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory(prefix="mobileid-bench-") as tmp:
        database = Path(tmp) / "gallery.sqlite3"
        fingers = FingerGallery(database, key=key)
        enrol_s, mates = enrol_gallery(fingers, pack, model, [db1[f"{f}_1"] for f in pairs])
        size = fingers.count(GALLERY)
        fingers.close()
        log(f"gallery: {size:,} templates enrolled in {enrol_s:.0f} s; loading in a fresh process")
        probes = [(db1[f"{f}_2"], mates[k]) for k, f in enumerate(pairs)]
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            run = pool.submit(measure_gallery, database, key, model.pipeline_id, probes).result()
    log(f"gallery: loaded in {run.load_s:.0f} s, search p50 {np.median(run.search_s):.2f} s")
    section = Section(f"6. finger gallery (FingerGallery), {size:,} templates")
    section.figures += [
        latency(f"prepare, DB1_B template ({len(db1)})", prep, target_p50_ms=PREPARE_MS),
        single(f"bulk enrol (enrol_many, {_ENROL_BATCH:,} a transaction)", "s", enrol_s),
        single("gallery load, cold (preload)", "s", run.load_s),
        single("  RSS after the load", "MB", run.rss_loaded_mb),
        single("  peak RSS", "MB", run.peak_rss_mb),
        latency(f"search end to end, shortlist {SHORTLIST}", run.search_s),
        latency("  same probe again (features cached)", run.again_s),
        *photo_figures(run.photo),
    ]
    section.notes["load"] = (
        f"{run.loaded:,} templates, {run.loaded / run.load_s:,.0f}/s; RSS {run.rss_start_mb:.0f} "
        f"MB before it (imports, kernels), +{run.rss_loaded_mb - run.rss_start_mb:.0f} MB"
    )
    section.notes["enrol"] = f"{size / enrol_s:,.0f} templates/s"
    section.notes["mates ranked first"] = f"{run.mates_first}/{len(probes)} DB1_B probes"
    section.notes["photo search"] = (
        f"views {CONTACT_SCALES} of each probe; the same hits both ways: {run.photo.same_hits}; "
        f"load average {run.photo.load[0]:.2f} before, {run.photo.load[1]:.2f} after"
    )
    section.notes["BLAS threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default")
    section.notes["synthetic templates"] = source
    return section


def photo_figures(photo: PhotoSearch) -> list[Figure]:
    n = photo.views
    return [
        latency(f"photo search, {n} views: {n} searches (as before)", photo.each_s),
        latency("  its CPU (process time)", photo.each_cpu_s),
        latency(f"photo search, {n} views: one search_many", photo.many_s),
        latency("  its CPU (process time)", photo.many_cpu_s),
    ]


# --- main -------------------------------------------------------------------------------------
def other_sections(
    pipeline: FingerPipeline,
    templates: dict[str, dict[str, FingerTemplate]],
    model: PrintModel,
    plan: Plan,
) -> list[Section]:
    """Sections 2-5."""
    fvc = {db: plan.data / FVC / db for db in ("DB1_B", "DB4_B")}
    sections = [photo_section(pipeline, plan)]
    synth, source = synthetic_codes(model, plan)
    probes = screen_codes([prepare(t) for t in templates["DB1_B"].values()])
    section = throughput_section(synth, probes, plan, source)
    section.notes.update(synthetic_notes(model, plan))
    sections.append(section)
    match_s: list[float] = []
    for db in fvc:
        s, seconds = two_stage_section(db, templates[db], synth, model, plan)
        sections.append(s)
        match_s += seconds
    sections.append(
        Section("5. geometric check", [latency("match_features, one comparison", match_s)])
    )
    return sections


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    load = os.getloadavg()
    log(f"plan: {plan}; load average {load[0]:.2f}")
    t_start = time.perf_counter()
    pipeline = load_finger_pipeline()
    fvc = {db: plan.data / FVC / db for db in ("DB1_B", "DB4_B")}
    pipeline.enrol_file(sorted(fvc["DB1_B"].glob("*.tif"))[0])  # warm-up
    sections, templates = [], {}
    for db, folder in fvc.items():
        if plan.gallery_only and db != "DB1_B":
            continue
        log(f"extract {db}")
        templates[db], seconds, refused = enrol_prints(pipeline, folder, plan.impressions)
        t = next(iter(templates[db].values()))
        sections.append(extraction_section(db, seconds, refused, f"{t.width}x{t.height}"))
    model = PrintModel.measure(list(templates["DB1_B"].values()))
    if not plan.gallery_only:
        sections += other_sections(pipeline, templates, model, plan)
    sections.append(gallery_section(templates["DB1_B"], model, plan))
    machine = {
        "cores": str(os.cpu_count()),
        "load average at start (1 min)": f"{load[0]:.2f}",
        "numba threads": f"{numba.get_num_threads()} ({numba.threading_layer()})",
        "bench wall time": f"{time.perf_counter() - t_start:.0f} s",
        "pipeline": pipeline.pipeline_id,
    }
    sections.append(Section("machine", notes=machine))
    print(render(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
