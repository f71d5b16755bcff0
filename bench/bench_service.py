"""Service-path benchmarks: identify against a bulk-loaded gallery, and folder enrolment.

Both run in a fresh temporary data directory that is removed afterwards.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageFilter

from bench_common import Figure, Section, latency, log, peak_rss_mb, single, synthetic_gallery
from mobileid.capture.decode import decode_image
from mobileid.config import Settings
from mobileid.errors import PipelineMismatch
from mobileid.gallery.bulk import EnrolBatch
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.scoring import build_calibration
from mobileid.service.calibration_files import local_face_calibration
from mobileid.service.caller import console_caller
from mobileid.service.context import Context, open_context
from mobileid.service.enrol import IMAGE_SUFFIXES, enrol_directory
from mobileid.service.identify import identify_face, search_embedding
from mobileid.service.lookalikes import FACES_CHECKED, candidate_lookalikes
from mobileid.service.purpose import TRAINING, Purposes

CONSOLE = console_caller()

# The bench gallery is a training one: synthetic subjects, searched for practice.
REASON = Purposes().reason(TRAINING, "BENCH-0001")

IDENTIFY_TARGET_MS = 400.0
ENROL_TARGET_PER_S = 8.0
GALLERY = "bench"
MATE_NAME = "Probe Person"
_LOAD_BATCH = 50_000


@contextmanager
def temp_context(workers: int | None = None) -> Iterator[Context]:
    """A service context on a fresh temporary data directory, removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="mobileid-bench-"))
    settings = replace(Settings.from_env(), data_dir=tmp / "data")
    if workers is not None:
        settings = replace(settings, workers=workers)
    try:
        ctx = open_context(settings)
        try:
            yield ctx
        finally:
            embedded(ctx).close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embedded(ctx: Context) -> EmbeddedGallery:
    """The context's gallery as the embedded backend, whose engine and index we reach into."""
    if not isinstance(ctx.gallery, EmbeddedGallery):
        raise TypeError(f"gallery: expected EmbeddedGallery, got {type(ctx.gallery).__name__}")
    return ctx.gallery


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# --- identify -------------------------------------------------------------------------------
def bulk_load(gallery: EmbeddedGallery, pipeline_id: str, vectors: npt.NDArray[np.float32]) -> None:
    """One synthetic subject per row of ``vectors``, through the store's bulk enrolment
    (sealed and change-logged as any enrolment), 50k rows per transaction; the gallery is a
    training one."""

    def batches() -> Iterator[EnrolBatch]:
        for start in range(0, len(vectors), _LOAD_BATCH):
            ids = range(start, min(len(vectors), start + _LOAD_BATCH))
            refs = [f"R{i}" for i in ids]
            yield EnrolBatch(
                refs,
                [f"Synthetic {i}" for i in ids],
                [f"{i:064x}" for i in ids],
                vectors[ids.start : ids.stop],
                "bench:synthetic",
            )
            log(f"identify: loaded {ids.stop:,}/{len(vectors):,} embeddings")

    gallery.enrol_many(GALLERY, batches(), pipeline_id, training=True)


def ensure_calibration(ctx: Context, vectors: npt.NDArray[np.float32]) -> str:
    """The calibration identify will use; when none fits this pipeline, a stand-in.

    Bands need a calibration, and latency does not depend on its values. The stand-in is
    written only into the temporary data directory, and the table says it was used.
    """
    try:
        return ctx.calibration.dataset
    except PipelineMismatch:
        sample = vectors[:2000]
        scores = (sample[:1000] @ sample[1000:].T).ravel()
        cal = build_calibration(
            scores, 0, matcher=ctx.pipeline.pipeline_id, dataset="bench stand-in (synthetic)"
        )
        path = local_face_calibration(ctx.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        cal.save(path)
        return f"{ctx.calibration.dataset}: no shipped calibration fits this pipeline"


def identify_breakdown(ctx: Context, probe: bytes, repeat: int) -> list[Figure]:
    """Where the identify time goes: the calls ``identify_face`` makes, timed one by one."""
    pid = ctx.pipeline.pipeline_id
    parts: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        parts[name].append(time.perf_counter() - t0)
        return out

    for _ in range(repeat):
        timed("gallery.galleries()", ctx.gallery.galleries)
        image = timed("decode_image()", decode_image, probe, ctx.settings.limits)
        emb = timed("pipeline.process()", ctx.pipeline.process, image)
        timed("gallery.count()", ctx.gallery.count, GALLERY, pid)
        hits = timed("gallery.search()", ctx.gallery.search, GALLERY, emb.vector, pid, 10)
        timed("gallery.get_many()", ctx.gallery.get_many, [h.subject_id for h in hits])
        result = timed(
            "search_embedding() total", search_embedding, ctx, emb, [GALLERY], 10, REASON, "Q0"
        )
        # included in identify_face(): a strong candidate's look-alike check
        timed("candidate_lookalikes() (top)", candidate_lookalikes, ctx, result.candidates[0])
    return [latency(f"  of which {k}", v) for k, v in parts.items()]


def _build_gallery(ctx: Context, n: int, mate_jpeg: bytes, section: Section) -> None:
    pid = ctx.pipeline.pipeline_id
    log(f"identify: generating {n:,} synthetic vectors")
    vectors = synthetic_gallery(n, seed=3)
    section.notes["calibration"] = ensure_calibration(ctx, vectors)
    t0 = time.perf_counter()
    bulk_load(embedded(ctx), pid, vectors)
    load_s = time.perf_counter() - t0
    section.figures.append(single("bulk load into SQLite", "s", load_s))
    faces = [decode_image(b, ctx.settings.limits) for b in mate_variants(mate_jpeg)]
    mates = [(image.sha256, ctx.pipeline.process(image).vector) for image in faces]
    mate = mates[0]
    ctx.gallery.enrol(GALLERY, "probe-person", MATE_NAME, "bench", mates, pid)
    section.notes["true mate"] = (
        f"{MATE_NAME}, {len(mates)} faces (the photo and variants of it): the most a strong "
        "candidate's look-alike check searches with"
    )
    del vectors
    log("identify: first search (index rebuild from SQLite + save)")
    build_s, _ = _timed(lambda: ctx.gallery.search(GALLERY, mate[1], pid, 10))
    section.figures.append(single("index build (first search)", "s", build_s))
    size = sum(p.stat().st_size for p in ctx.settings.data_dir.rglob("*") if p.is_file())
    section.notes["data dir size"] = f"{size / 2**20:,.0f} MiB (SQLite + index files)"


def mate_variants(jpeg: bytes) -> list[bytes]:
    """``FACES_CHECKED`` JPEGs of one face: the photo, then mirrored, cropped, shaded and
    softened copies (distinct bytes, so distinct enrolled faces)."""
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    edits = [
        lambda i: i.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        lambda i: i.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        lambda i: ImageEnhance.Brightness(i).enhance(0.8),
        lambda i: ImageEnhance.Brightness(i).enhance(1.2),
        lambda i: ImageEnhance.Contrast(i).enhance(0.8),
        lambda i: i.filter(ImageFilter.GaussianBlur(1)),
        lambda i: i.rotate(5, resample=Image.Resampling.BICUBIC),
    ]
    out = [jpeg]
    for edit in edits[: FACES_CHECKED - 1]:
        buf = io.BytesIO()
        edit(img).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def identify_bench(probe: bytes, mate_jpeg: bytes, n: int, repeat: int) -> Section:
    """``identify_face`` of ``probe`` against ``n`` synthetic subjects plus the true mate."""
    section = Section(f"3. identify end to end: 12 MP JPEG probe, {n:,}-subject gallery")
    with temp_context() as ctx:
        _build_gallery(ctx, n, mate_jpeg, section)
        reload_s = _index_reload(ctx.settings)
        section.figures.append(single("index load from file (new ctx)", "s", reload_s))
        log(f"identify: timing identify_face x{repeat}")
        result = identify_face(
            ctx, CONSOLE, probe, reason=REASON, galleries=[GALLERY], top=10
        )  # warm-up
        runs = [
            _timed(
                lambda: identify_face(
                    ctx, CONSOLE, probe, reason=REASON, galleries=[GALLERY], top=10
                )
            )[0]
            for _ in range(repeat)
        ]
        section.figures.append(latency("identify_face()", runs, target_p50_ms=IDENTIFY_TARGET_MS))
        section.figures.extend(identify_breakdown(ctx, probe, repeat))
        top = result.candidates[0]
        ok = "OK" if top.name == MATE_NAME else f"WRONG, expected {MATE_NAME!r}"
        section.notes["top candidate"] = (
            f"{top.name} score={top.score:.3f} band={top.band.value} ({ok})"
        )
        section.notes["gallery size"] = f"{result.gallery_sizes[GALLERY]:,}"
    section.notes["peak RSS so far"] = f"{peak_rss_mb():,.0f} MiB"
    return section


def _index_reload(settings: Settings) -> float:
    """A second context on the same data: what a restarted server pays on its first search."""
    ctx = open_context(settings)
    try:
        return _timed(lambda: embedded(ctx).catch_up(GALLERY, ctx.pipeline.pipeline_id))[0]
    finally:
        embedded(ctx).close()


# --- enrolment ------------------------------------------------------------------------------
def link_images(lfw: Path, count: int, root: Path) -> int:
    """Symlink the first ``count`` images (sorted by path) into a folder-per-subject tree."""
    images = sorted(
        p for p in lfw.glob("*/*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )[:count]
    for path in images:
        folder = root / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).symlink_to(path.resolve())
    return len(images)


def _steady_rate(stamps: list[tuple[float, int]]) -> tuple[float, float] | None:
    """(images/s after the first image came back, seconds until it did), from progress stamps.

    The first outcome arrives only once a worker has started and loaded the models, so the
    rate from there on is the throughput without start-up.
    """
    done = [(t, n) for t, n in stamps if n > 0]
    if len(done) < 2 or done[-1][0] <= done[0][0]:
        return None
    (t1, n1), (t2, n2) = done[0], done[-1]
    return (n2 - n1) / (t2 - t1), t1


def enrol_figures(n: int, t0: float, wall: float, stamps: list[tuple[float, int]]) -> list[Figure]:
    rate = n / wall
    target = f">= {ENROL_TARGET_PER_S:g} images/s"
    passed = rate >= ENROL_TARGET_PER_S
    figures = [
        Figure("images/s, wall clock", "img/s", value=rate, runs=1, target=target, passed=passed)
    ]
    steady = _steady_rate(stamps)
    if steady is not None:
        figures += [
            single("images/s after first result", "img/s", steady[0]),
            single("start-up until first result", "s", steady[1] - t0),
            single("after last embedding (DB writes)", "s", t0 + wall - stamps[-1][0]),
        ]
    return [*figures, single("wall clock total", "s", wall)]


def enrol_bench(lfw: Path, count: int, workers: int) -> Section:
    """``enrol_directory`` over ``count`` lfw-dev images with ``workers`` processes."""
    section = Section(f"4. enrolment: first {count} lfw-dev images, {workers} worker processes")
    with temp_context(workers=workers) as ctx:
        root = ctx.settings.data_dir.parent / "images"
        n = link_images(lfw, count, root)
        stamps: list[tuple[float, int]] = []
        log(f"enrol: {n} images with {workers} workers")
        t0 = time.perf_counter()
        report = enrol_directory(
            ctx,
            CONSOLE,
            root,
            gallery=GALLERY,
            progress=lambda d, _t: stamps.append((time.perf_counter(), d)),
        )
        wall = time.perf_counter() - t0
    section.figures.extend(enrol_figures(n, t0, wall, stamps))
    section.notes["outcome"] = (
        f"{report.images_added} added, {len(report.failures)} failed to enrol, "
        f"{report.subjects_enrolled} subjects; cores={os.cpu_count()}"
    )
    return section
