"""Identify over HTTP: ``make bench`` (or ``--size 100000`` for a shorter run).

A real uvicorn server (``mobileid.api.create_app``) runs in this process on a free port, on a
temporary data directory holding ``--size`` synthetic subjects (bulk-loaded as in
``bench_face.py`` section 3) plus the real person of the probe. Clients send the 12 MP JPEG
made from ``faces/face_recognition_samples/examples/obama.jpg`` (upscaled with LANCZOS to
3000x4000, JPEG q90) to ``POST /api/v1/searches/face`` with an officer's API token, at 1, 4
and 16 concurrent clients (``--clients``), each client sending its requests one after
another. First, the same search runs through the use case in process (no HTTP), as a
baseline. For each level: p50/p95 latency of answered (200) requests, answered requests per
second over the level's wall clock, the count of 503 answers (the bounded queue refusing;
expected at 16 clients with the default 2 workers and queue of 8) and of any other status,
and the process's peak RSS (server and clients together). Target: p50 <= 500 ms at 1 client;
at 16 clients no error other than counted 503s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pyotp

from bench_common import Figure, Section, latency, log, peak_rss_mb, render, single
from bench_face import DEFAULT_DATA, PHOTO, make_probes
from bench_service import GALLERY, MATE_NAME, _build_gallery, temp_context
from mobileid.api import ApiOptions, create_app
from mobileid.auth import console_principal
from mobileid.service.caller import console_caller
from mobileid.service.context import Context
from mobileid.service.searches import Where, Why, search_face

TARGET_P50_MS = 500.0
PASSWORD = "bench password, never used elsewhere"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _officer_token(ctx: Context) -> str:
    """An officer entitled to the bench gallery, logged on once for an API token."""
    root = console_principal("bench")
    new = ctx.auth.add_operator(root, "bench-officer", role="officer", password=PASSWORD)
    ctx.auth.grant(root, "bench-officer", gallery=GALLERY)
    logon = ctx.auth.logon("bench-officer", PASSWORD, pyotp.TOTP(new.totp_secret).now())
    issued = ctx.auth.issue_token(
        logon.principal, ["search_training"], expires_in=timedelta(hours=4)
    )
    return issued.token


def _multipart(image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    fields = {"purpose": "training", "case": "BENCH-HTTP", "galleries": GALLERY, "top": "10"}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    body = b"".join(parts) + head + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    """uvicorn serving the app in a background thread, stopped on exit."""

    def __init__(self, ctx: Context, port: int) -> None:
        import uvicorn

        app = create_app(ctx.settings, context=ctx, options=ApiOptions.from_env())
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/api/v1/searches/face", body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        return answer.status, time.perf_counter() - t0, data
    finally:
        conn.close()


def run_level(port: int, body: bytes, headers: dict[str, str], clients: int, each: int) -> Section:
    """``clients`` concurrent clients sending ``each`` requests one after another."""
    log(f"http: {clients} clients x {each} requests")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(_post, port, body, headers) for _ in range(clients * each)]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    ok = [s for status, s, _ in results if status == 200]
    busy = sum(1 for status, _, _ in results if status == 503)
    other = sorted({status for status, _, _ in results} - {200, 503})
    section = Section(f"{clients} concurrent client(s), {clients * each} requests")
    if ok:
        target = TARGET_P50_MS if clients == 1 else None
        section.figures.append(latency("identify over HTTP (200s)", ok, target_p50_ms=target))
    section.figures.append(single("answered per second", "req/s", len(ok) / wall))
    passed = not other
    section.figures.append(
        Figure("503 answers (queue full)", "count", value=float(busy), runs=len(results),
               target="only 503s as errors", passed=passed)
    )  # fmt: skip
    section.figures.append(single("peak RSS so far", "MiB", peak_rss_mb()))
    if other:
        section.notes["other statuses"] = str(other)
    best = next((json.loads(d) for s, _, d in results if s == 200), None)
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
    return section


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=1_000_000, help="synthetic subjects (1000000)")
    p.add_argument("--clients", default="1,4,16", help="concurrency levels (1,4,16)")
    p.add_argument("--requests", type=int, default=8, help="requests per client (8)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    probe = list(make_probes(args.data / PHOTO).values())[1]  # the 12 MP one
    sections = []
    with temp_context() as ctx:
        build = Section(f"gallery: {args.size:,} synthetic subjects + the probe's person")
        _build_gallery(ctx, args.size, (args.data / PHOTO).read_bytes(), build)
        sections.append(build)
        sections.append(direct_baseline(ctx, probe, args.requests))
        body, content_type = _multipart(probe)
        headers = {"Authorization": f"Bearer {_officer_token(ctx)}", "Content-Type": content_type}
        with Server(ctx, _free_port()) as server:
            port = server.server.config.port
            _post(port, body, headers)  # warm-up: index loaded, worker pipelines ready
            for clients in (int(c) for c in args.clients.split(",")):
                sections.append(run_level(port, body, headers, clients, args.requests))
    options = ApiOptions.from_env()
    notes = {
        "cores": os.cpu_count(),
        "load average at start (1 min)": f"{load:.2f}",
        "probe": f"12 MP JPEG, {len(probe) / 2**20:.1f} MiB",
        "work pool": f"{options.workers} workers, queue {options.queue} "
        "(MOBILEID_API_WORKERS, MOBILEID_API_QUEUE)",
    }
    sections.append(Section("machine", notes=notes))
    print(render(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
