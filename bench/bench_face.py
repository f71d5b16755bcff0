"""Speed of the face pipeline, on the CPU: ``make bench`` (or ``--quick`` for a smoke run).

What is measured (wall clock, ``time.perf_counter``; latencies as p50/p95 over ``--repeat``
runs after one warm-up run):

1. Per-stage latency of decode, detect, align, quality, embed and search (exact index of 100k
   synthetic vectors) for two JPEG q90 probes made from the face_recognition sample
   ``obama.jpg``: 640 px on the longest side, and 12 MP (3000×4000, upscaled with LANCZOS).
2. Exact search latency (``FaissVectorIndex`` "exact", IndexFlatIP, top 10) at 10k, 100k, 1M
   synthetic 128-d unit vectors (``--sizes``), probes being perturbed gallery vectors; with
   faiss's default OpenMP thread count and with one thread (on a CPU shared with other work,
   OpenMP's spinning threads can make the default much slower).
3. Identify end to end through the service (``identify_face``): the 12 MP probe against a
   gallery of 1M synthetic subjects bulk-loaded into the embedded gallery's SQLite tables, plus
   the real person (``obama.jpg`` itself, so its score is ~1) enrolled as "Probe Person". Also
   the bulk-load, index-build and index-reload times, the calls identify makes timed one by
   one, and the process's peak RSS.
   Target: identify p50 <= 400 ms.
4. Enrolment throughput: ``enrol_directory`` on the first 200 lfw-dev images (sorted), with
   2 worker processes, worker start-up included. Target: >= 8 images/s. Also the rate from
   the first result on (workers hand results back in chunks of 4 images, so "start-up" ends
   after the first chunk).

Output: a plain-text table on stdout, progress on stderr, the figures as JSON with
``--json FILE``. Every gallery and data directory is temporary and removed at the end.
Timings on a machine that is busy with other work are slower: the table prints the load
average seen at the start. Settings come from the environment, so
``MOBILEID_FACE_FLIP_AVERAGE=false`` measures the faster profile (one ResNet pass).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dlib
import faiss
import numpy as np
from PIL import Image

from bench_common import (
    Section,
    latency,
    log,
    peak_rss_mb,
    perturbed_probes,
    render,
    single,
    synthetic_gallery,
)
from bench_service import enrol_bench, identify_bench
from mobileid.capture.decode import decode_image
from mobileid.config import Settings
from mobileid.face.align import align_face
from mobileid.face.detect import detect_faces
from mobileid.face.embed import embed_face
from mobileid.face.models import FaceModels, load_face_models
from mobileid.face.quality import assess_quality
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.vectors import Batch, Partition

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTO = Path("faces/face_recognition_samples/examples/obama.jpg")
STAGES = ("decode", "detect", "align", "quality", "embed", "search")
TWELVE_MP = (3000, 4000)  # width × height of a portrait 12 MP phone photo


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    repeat: int
    stage_gallery: int  # vectors in the index searched by the "search" stage of section 1
    identify_size: int
    enrol_images: int
    workers: int
    data: Path


def parse_args(argv: list[str] | None = None) -> tuple[Plan, Path | None, set[str]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run of ~1 minute")
    p.add_argument("--sizes", help="gallery sizes of section 2 (default 10000,100000,1000000)")
    p.add_argument("--repeat", type=int, help="timed runs per latency (default 15, quick 5)")
    p.add_argument("--identify-size", type=int, help="gallery of section 3 (default 1000000)")
    p.add_argument("--enrol-images", type=int, help="images of section 4 (default 200)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument("--only", default="stages,search,identify,enrol", help="sections to run")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    a = p.parse_args(argv)
    quick = a.quick
    sizes = a.sizes or ("10000,100000" if quick else "10000,100000,1000000")
    plan = Plan(
        sizes=tuple(int(s) for s in sizes.split(",")),
        repeat=a.repeat or (5 if quick else 15),
        stage_gallery=10_000 if quick else 100_000,
        identify_size=a.identify_size or (100_000 if quick else 1_000_000),
        enrol_images=a.enrol_images or (60 if quick else 200),
        workers=2,
        data=a.data,
    )
    return plan, a.json, set(a.only.split(","))


# --- 1. stages --------------------------------------------------------------------------------
def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_probes(photo: Path) -> dict[str, bytes]:
    """The photo as a 640 px JPEG and as a 12 MP JPEG (scaled to cover 3000×4000, cropped)."""
    img = Image.open(photo).convert("RGB")
    small = img.copy()
    small.thumbnail((640, 640), Image.Resampling.LANCZOS)
    w, h = TWELVE_MP if img.height >= img.width else TWELVE_MP[::-1]
    scale = max(w / img.width, h / img.height)
    big = img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
    )
    left, top = (big.width - w) // 2, (big.height - h) // 2
    big = big.crop((left, top, left + w, top + h))
    return {
        f"640 px ({small.width}x{small.height})": jpeg_bytes(small),
        f"12 MP ({w}x{h})": jpeg_bytes(big),
    }


PART = Partition("bench", "bench")


def exact_index(vectors: np.ndarray) -> FaissVectorIndex:
    """An exact index of ``vectors`` (ids 0..n-1), in memory only."""
    index = FaissVectorIndex(None, key=bytes(32), kind="exact")
    index.apply(PART, Batch(np.arange(len(vectors)), vectors), np.empty(0, np.int64), 1)
    return index


def run_stages(
    data: bytes, models: FaceModels, settings: Settings, index: FaissVectorIndex
) -> list[float]:
    """One pass through the stages; seconds per stage, in STAGES order."""
    params = settings.face
    t = [time.perf_counter()]
    image = decode_image(data, settings.limits)
    t.append(time.perf_counter())
    detections = detect_faces(image, models, params)
    t.append(time.perf_counter())
    aligned = align_face(image, detections.chosen, models, params)
    t.append(time.perf_counter())
    assess_quality(aligned, params)
    t.append(time.perf_counter())
    vector = embed_face(aligned, models, params)
    t.append(time.perf_counter())
    index.search(PART, vector, 10)
    t.append(time.perf_counter())
    return list(np.diff(t))


def stage_bench(plan: Plan) -> list[Section]:
    settings = Settings.from_env()
    models = load_face_models()
    vectors = synthetic_gallery(plan.stage_gallery, seed=2)
    index = exact_index(vectors)
    sections = []
    for label, data in make_probes(plan.data / PHOTO).items():
        log(f"stages: {label} probe ({len(data) / 1e6:.2f} MB) x{plan.repeat}")
        run_stages(data, models, settings, index)  # warm-up
        runs = np.array([run_stages(data, models, settings, index) for _ in range(plan.repeat)])
        figures = [latency(stage, runs[:, i]) for i, stage in enumerate(STAGES)]
        figures.append(latency("all stages", runs.sum(axis=1)))
        section = Section(f"1. stage latency, {label} JPEG q90 probe", figures)
        section.notes["probe"] = f"{len(data):,} bytes; search = exact index of {len(vectors):,}"
        sections.append(section)
    return sections


# --- 2. search --------------------------------------------------------------------------------
def time_search(index: FaissVectorIndex, probes: np.ndarray, threads: int) -> list[float]:
    """Seconds per ``search(probe, 10)`` with faiss limited to ``threads`` OpenMP threads."""
    default = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        index.search(PART, probes[0], 10)  # warm-up
        runs = []
        for probe in probes[1:]:
            t0 = time.perf_counter()
            index.search(PART, probe, 10)
            runs.append(time.perf_counter() - t0)
        return runs
    finally:
        faiss.omp_set_num_threads(default)


def search_bench(plan: Plan) -> Section:
    section = Section("2. exact search (exact index, top 10), synthetic 128-d unit vectors")
    threads = faiss.omp_get_max_threads()
    for n in plan.sizes:
        log(f"search: building an exact index of {n:,}")
        vectors = synthetic_gallery(n, seed=n)
        t0 = time.perf_counter()
        index = exact_index(vectors)
        add_s = time.perf_counter() - t0
        probes = perturbed_probes(vectors, plan.repeat + 1)
        del vectors
        section.figures.append(latency(f"search {n:,}", time_search(index, probes, threads)))
        section.figures.append(latency("  same, 1 faiss thread", time_search(index, probes, 1)))
        section.figures.append(single(f"  add {n:,} (ids + faiss)", "s", add_s))
    section.notes["faiss threads"] = f"{threads} (faiss.omp_get_max_threads(), the default)"
    return section


# --- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    plan, json_path, only = parse_args(argv)
    load = os.getloadavg()
    log(f"plan: {plan}; load average {load[0]:.2f}")
    sections: list[Section] = []
    if "stages" in only:
        sections.extend(stage_bench(plan))
    if "search" in only:
        sections.append(search_bench(plan))
    if "identify" in only:
        probe = list(make_probes(plan.data / PHOTO).values())[1]  # the 12 MP one
        mate = (plan.data / PHOTO).read_bytes()
        sections.append(identify_bench(probe, mate, plan.identify_size, plan.repeat))
    if "enrol" in only:
        lfw = plan.data / "faces" / "lfw-dev"
        sections.append(enrol_bench(lfw, plan.enrol_images, plan.workers))
    machine = {"cores": os.cpu_count(), "load average at start (1 min)": f"{load[0]:.2f}"}
    machine["peak RSS"] = f"{peak_rss_mb():,.0f} MiB"
    face = Settings.from_env().face
    machine["face profile"] = (
        f"flip_average={face.flip_average} (set MOBILEID_FACE_FLIP_AVERAGE=false for the "
        "faster, less accurate profile)"
    )
    machine["dlib"] = (
        f"{dlib.__version__}, BLAS {'yes' if dlib.DLIB_USE_BLAS else 'no: embeddings ~6x slower'}"
    )
    sections.append(Section("machine", notes=machine))
    print(render(sections))
    if json_path is not None:
        write_json(json_path, plan, sections)
    return 0


def write_json(path: Path, plan: Plan, sections: list[Section]) -> None:
    doc = {
        "plan": {**plan.__dict__, "data": str(plan.data)},
        "sections": [s.to_json() for s in sections],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
