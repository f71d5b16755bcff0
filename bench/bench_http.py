"""Identify over HTTP: ``make bench`` (or ``--size 100000`` for a shorter run).

The real service (``mobileid serve``, in its own process, with its worker processes for the
face stages: ``MOBILEID_API_WORKERS``, default one per CPU) runs on a free loopback port on a
temporary data directory holding ``--size`` synthetic subjects (bulk-loaded as in
``bench_face.py`` section 3) plus the real person of the probe. Clients send the 12 MP JPEG
made from ``faces/face_recognition_samples/examples/obama.jpg`` (upscaled with LANCZOS to
3000x4000, JPEG q90) to ``POST /api/v1/searches/face`` with an officer's API token, at 1, 4
and 16 concurrent clients (``--clients``), each client sending its requests one after
another. First, in this process: the same search through the use case (no HTTP, stages in
process) as a baseline, and the cost of the process hop (the face stages through one worker
process against the same stages here; and the round trip of a refused 12 MP-sized payload,
which is the hop alone). For each level: p50/p95 latency of answered (200) requests,
answered requests per second over the level's wall clock, the count of 503 answers (the
bounded queue refusing) and of any other status, the peak RSS of the service and of its
worker processes, and the load average when the level started (the machine is shared).
``--first-page`` also times ``make run``'s demo on a fresh data folder until its first page
is served. Target: p50 <= 500 ms at 1 client; at 16 clients no error other than counted
503s, and memory bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_common import Figure, Section, latency, log, render, single
from bench_face import DEFAULT_DATA, PHOTO, make_probes
from bench_service import GALLERY, MATE_NAME, _build_gallery, embedded, temp_context
from http_common import Answer, Service, free_port, multipart, officer_token, request
from mobileid.api import ApiOptions
from mobileid.api.workers import StageWorkers
from mobileid.errors import InputError
from mobileid.service.caller import console_caller
from mobileid.service.context import Context
from mobileid.service.searches import Where, Why, search_face
from mobileid.service.stages import embed_face_bytes

TARGET_P50_MS = 500.0
FACE = "/api/v1/searches/face"


def run_level(service: Service, body: bytes, headers: dict[str, str], clients: int,
              each: int) -> Section:  # fmt: skip
    """``clients`` concurrent clients sending ``each`` requests one after another."""
    load = os.getloadavg()[0]
    log(f"http: {clients} clients x {each} requests (load average {load:.2f})")
    t0 = time.perf_counter()

    def one(_: int) -> Answer:
        return request(service.port, "POST", FACE, body, headers)

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(clients * each)))
    wall = time.perf_counter() - t0
    ok = [a.seconds for a in results if a.status == 200]
    busy = sum(1 for a in results if a.status == 503)
    other = sorted({a.status for a in results} - {200, 503})
    section = Section(f"{clients} concurrent client(s), {clients * each} requests")
    if ok:
        target = TARGET_P50_MS if clients == 1 else None
        section.figures.append(latency("identify over HTTP (200s)", ok, target_p50_ms=target))
    section.figures.append(single("answered per second", "req/s", len(ok) / wall))
    section.figures.append(
        Figure("503 answers (queue full)", "count", value=float(busy), runs=len(results),
               target="only 503s as errors", passed=not other)
    )  # fmt: skip
    server, workers = service.peak_mib()
    section.figures.append(single("service peak RSS so far", "MiB", server))
    section.figures.append(single("worker processes' peak RSS, together", "MiB", workers))
    section.notes["load average (1 min) at start"] = f"{load:.2f}"
    if other:
        section.notes["other statuses"] = str(other)
    best = next((a.json() for a in results if a.status == 200), None)
    if best is not None and best["candidates"]:
        top = best["candidates"][0]
        section.notes["top candidate"] = (
            f"{top['name']} ({'OK' if top['name'] == MATE_NAME else 'WRONG'}), band "
            f"{top['band']}, gallery size {best['gallery_sizes'][GALLERY]:,}"
        )
    return section


def direct_baseline(ctx: Context, probe: bytes, repeat: int) -> Section:
    """The same search through the use case in this process, without HTTP: what the service
    adds is the difference."""
    why, where = Why("training", "BENCH-DIRECT"), Where((GALLERY,), 10)
    search_face(ctx, console_caller(), probe, why, where)  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        search_face(ctx, console_caller(), probe, why, where)
        runs.append(time.perf_counter() - t0)
    section = Section("baseline: the same search in process, no HTTP")
    section.figures.append(latency("search_face() use case", runs))
    section.notes["load average (1 min)"] = f"{os.getloadavg()[0]:.2f}"
    return section


def process_hop(ctx: Context, probe: bytes, repeat: int) -> Section:
    """The face stages here and through one worker process, alternately; and the round trip
    of a payload of the probe's size that the worker refuses at once (the hop alone)."""
    settings = ctx.settings
    here, there, hop = [], [], []
    junk = bytes(len(probe))  # no image signature: refused before any decoding
    workers = StageWorkers(1, settings.face, settings.limits)
    try:
        workers.wait_ready()
        workers.face(probe, "image")  # warm-up
        for _ in range(repeat):
            t0 = time.perf_counter()
            embed_face_bytes(ctx.pipeline, settings.limits, probe, "image")
            t1 = time.perf_counter()
            workers.face(probe, "image")
            t2 = time.perf_counter()
            with contextlib.suppress(InputError):
                workers.face(junk, "image")
            here.append(t1 - t0)
            there.append(t2 - t1)
            hop.append(time.perf_counter() - t2)
    finally:
        workers.close()
    section = Section("the process hop: face stages of the 12 MP probe")
    section.figures.append(latency("decode + embed here", here))
    section.figures.append(latency("decode + embed in a worker process", there))
    section.figures.append(latency("round trip of a refused 12 MP-sized payload", hop))
    section.notes["load average (1 min)"] = f"{os.getloadavg()[0]:.2f}"
    return section


def first_page(data: Path) -> Section:
    """``make run``'s demo on a fresh data folder: seconds until ``/`` answers 200."""
    import subprocess

    section = Section("make run on a fresh data folder: time to the first page served")
    with tempfile.TemporaryDirectory(prefix="mobileid-run-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "MOBILEID_DATA_DIR": str(Path(tmp) / "data"),
            "MOBILEID_PORT": str(port),
            "MOBILEID_DEMO_DATA": str(data / "faces" / "lfw-dev"),
        }
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "mobileid.cli.demo"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while proc.poll() is None and time.perf_counter() - t0 < 1800:
                if request(port, "GET", "/", None, {}).status == 200:
                    section.figures.append(single("to the first page", "s",
                                                  time.perf_counter() - t0))  # fmt: skip
                    break
                time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(60)
        section.notes["load average (1 min) at start"] = f"{load:.2f}"
    return section


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=1_000_000, help="synthetic subjects (1000000)")
    p.add_argument("--clients", default="1,4,16", help="concurrency levels (1,4,16)")
    p.add_argument("--requests", type=int, default=8, help="requests per client (8)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument("--first-page", action="store_true", help="also time make run's first page")
    args = p.parse_args(argv)
    probe = list(make_probes(args.data / PHOTO).values())[1]  # the 12 MP one
    sections = []
    with temp_context() as ctx:
        build = Section(f"gallery: {args.size:,} synthetic subjects + the probe's person")
        _build_gallery(ctx, args.size, (args.data / PHOTO).read_bytes(), build)
        sections.append(build)
        sections.append(direct_baseline(ctx, probe, args.requests))
        sections.append(process_hop(ctx, probe, args.requests))
        token = officer_token(ctx, "bench-officer", [GALLERY], ["search_training"])
        embedded(ctx).close()  # the service opens the data folder next
        ctx.close()
        body, content_type = multipart(
            {"purpose": "training", "case": "BENCH-HTTP", "galleries": GALLERY, "top": "10"},
            {"image": probe},
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        with Service(ctx.settings.data_dir) as service:
            log(f"http: service ready in {service.started_s:.1f} s")
            request(service.port, "POST", FACE, body, headers)  # warm-up: index loaded
            for clients in (int(c) for c in args.clients.split(",")):
                sections.append(run_level(service, body, headers, clients, args.requests))
            started = service.started_s
    if args.first_page:
        sections.append(first_page(args.data))
    options = ApiOptions.from_env()
    notes = {
        "cores": os.cpu_count(),
        "probe": f"12 MP JPEG, {len(probe) / 2**20:.1f} MiB",
        "work pool": f"{options.workers} worker processes, {2 * options.workers} requests at "
        f"once, queue {options.queue} (MOBILEID_API_WORKERS, MOBILEID_API_QUEUE)",
        "service start to ready (workers loaded, index not yet)": f"{started:.1f} s",
    }
    sections.append(Section("machine", notes=notes))
    print(render(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
