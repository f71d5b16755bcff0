"""PostgreSQL restart benchmark: how fast requests fail while the server is stopped, and how
soon they succeed again after it starts, with nobody restarting mobileid.

A throwaway cluster is started for the benchmark (on a free port, as the tests do); a service
context opens a database on it with ``MOBILEID_DATABASE_TIMEOUT_S`` = ``--timeout-s`` and
holds ``--pooled`` idle pooled connections. Each round stops the server (``pg_ctl stop -m
fast``), times ``--requests`` requests while it is down (gallery reads and audit appends in
turn, each must fail with backend_unavailable), starts it (``pg_ctl start -w``, which returns
once the server accepts connections) and times the first request after that, then the rest.
At the end the audit chain must verify.

    python bench/bench_pg_restart.py                 # 5 rounds of 10 requests
    python bench/bench_pg_restart.py --rounds 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench_common import Section, latency, log, render, single
from mobileid.audit import AuditEvent, EventType
from mobileid.config import Settings
from mobileid.errors import BackendUnavailable
from mobileid.service.context import Context, open_context

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL cluster the tests use

from tests.postgres import Cluster, create_database  # noqa: E402

VEC = np.full(128, 128**-0.5, dtype=np.float32)


def _requests(ctx: Context) -> list[Callable[[], object]]:
    event = AuditEvent(EventType.SEARCH, "officer1", "officer", "bench", details={})
    return [lambda: ctx.gallery.subjects("g1"), lambda: ctx.audit.record(event)]


def _timed(action: Callable[[], object], *, fails: bool) -> float:
    start = time.perf_counter()
    try:
        action()
    except BackendUnavailable:
        if not fails:
            raise
    else:
        if fails:
            raise SystemExit("a request succeeded while the server was stopped")
    return time.perf_counter() - start


def _hold(ctx: Context, pooled: int) -> None:
    """``pooled`` connections opened, used and returned to the pool (idle, still open)."""
    conns = [ctx.engine.connect() for _ in range(pooled)]
    for conn in conns:
        conn.exec_driver_sql("SELECT 1")
        conn.close()


def _rounds(ctx: Context, cluster: Cluster, args: argparse.Namespace) -> dict[str, list[float]]:
    took: dict[str, list[float]] = {"down": [], "stop": [], "start": [], "first": [], "rest": []}
    requests = _requests(ctx)
    for r in range(args.rounds):
        _hold(ctx, args.pooled)
        t = time.perf_counter()
        cluster.stop("fast")
        took["stop"].append(time.perf_counter() - t)
        for i in range(args.requests):
            took["down"].append(_timed(requests[i % 2], fails=True))
        t = time.perf_counter()
        cluster.start()
        took["start"].append(time.perf_counter() - t)
        took["first"].append(_timed(requests[0], fails=False))
        for i in range(1, args.requests):
            took["rest"].append(_timed(requests[i % 2], fails=False))
        log(f"round {r + 1}: down p50 {np.median(took['down']) * 1000:.1f} ms")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--pooled", type=int, default=5)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    args = parser.parse_args()
    cluster = Cluster()
    try:
        url = create_database(cluster.url)
        with tempfile.TemporaryDirectory() as tmp:
            settings = replace(
                Settings(), data_dir=Path(tmp), database_url=url, database_timeout_s=args.timeout_s
            )
            ctx = open_context(settings)
            try:
                ctx.gallery.enrol("g1", "a", "A", "t", [("s1", VEC)], "p/1")
                cpu, load = time.process_time(), os.getloadavg()[0]
                took = _rounds(ctx, cluster, args)
                cpu, load = time.process_time() - cpu, max(load, os.getloadavg()[0])
                report = ctx.audit.verify()
            finally:
                ctx.close()
    finally:
        cluster.remove()
    bound_ms = args.timeout_s * 1000
    section = Section(
        f"PostgreSQL stopped and started again ({args.rounds} rounds, {args.pooled} pooled)",
        [
            latency("request while stopped (fails)", took["down"], target_p50_ms=bound_ms),
            latency("pg_ctl stop -m fast", took["stop"]),
            latency("pg_ctl start -w", took["start"]),
            latency("first request after start", took["first"], target_p50_ms=bound_ms),
            latency("later requests after start", took["rest"]),
            single("process CPU, all rounds", "s", cpu),
        ],
        {
            "timeout_s": args.timeout_s,
            "load average (1 min, highest of start and end)": round(load, 2),
            "audit chain verifies": report.ok,
        },
    )
    print(render([section]))
    if not report.ok:
        raise SystemExit(f"audit chain does not verify: {report.reason}")


if __name__ == "__main__":
    main()
