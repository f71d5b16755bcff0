"""PostgreSQL host gone benchmark: what each request costs while the database's host has
vanished without closing its connections, with and without the circuit breaker, and how soon
requests are served again once the host is back.

A throwaway cluster is started (a free port, as the tests do) and reached through a relay
(tests/gallery/relay.py) that, once told to vanish, accepts connections and forwards nothing
(packets dropped). A service context opens a database through it with
``MOBILEID_DATABASE_TIMEOUT_S`` = ``--timeout-s``. Each round: the host vanishes, ``--requests``
requests are timed (gallery reads and audit appends in turn, each must fail with
backend_unavailable), the host comes back, and requests are sent every 50 ms until one is
served (time to service). "Without" resets the breaker after every failure, which is how every
request behaved before it existed: each waits out the ping's bound or libpq's connect timeout.

    python bench/bench_breaker.py                 # 2 rounds of 10 requests each way
    python bench/bench_breaker.py --timeout-s 10  # the default limit
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
from urllib.parse import urlparse

import numpy as np

from bench_common import Section, latency, log, render, single
from mobileid.audit import AuditEvent, EventType
from mobileid.breaker import CAP_S, FIRST_S
from mobileid.config import Settings
from mobileid.database.engines import server_breaker
from mobileid.errors import BackendUnavailable
from mobileid.service.context import Context, open_context

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL cluster and the relay the tests use

from tests.gallery.relay import Relay  # noqa: E402
from tests.postgres import Cluster, create_database  # noqa: E402

VEC = np.full(128, 128**-0.5, dtype=np.float32)
RECONNECT_MS = 250  # a new connection after the cool-down, on a loaded machine


def _requests(ctx: Context) -> list[Callable[[], object]]:
    event = AuditEvent(EventType.SEARCH, "officer1", "officer", "bench", details={})
    return [lambda: ctx.gallery.subjects("g1"), lambda: ctx.audit.record(event)]


def _failing(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    try:
        action()
    except BackendUnavailable:
        return time.perf_counter() - start
    raise SystemExit("a request succeeded while the host was gone")


def _until_served(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    while True:
        try:
            action()
            return time.perf_counter() - start
        except BackendUnavailable:
            time.sleep(0.05)


def _round(ctx: Context, relay: Relay, n: int, breaker_on: bool) -> tuple[list[float], float]:
    """Latencies of ``n`` requests while the host is gone, and the time to service after."""
    breaker = server_breaker(str(ctx.settings.database_url))
    requests = _requests(ctx)
    _until_served(requests[0])  # pooled connections in use before the host goes
    relay.vanish()
    took = []
    for i in range(n):
        took.append(_failing(requests[i % 2]))
        if not breaker_on:
            breaker.answered()  # as before the breaker: the next request waits again
    relay.resume()
    return took, _until_served(requests[0])


def _measure(ctx: Context, relay: Relay, args: argparse.Namespace) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for on in (False, True):
        way = "with" if on else "without"
        out[f"{way} gone"], out[f"{way} back"] = [], []
        for r in range(args.rounds):
            gone, back = _round(ctx, relay, args.requests, on)
            out[f"{way} gone"] += gone
            out[f"{way} back"].append(back)
            log(f"{way} breaker, round {r + 1}: gone p50 {np.median(gone) * 1000:.0f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout-s", type=float, default=1.0)
    args = parser.parse_args()
    cluster = Cluster()
    relay = Relay(cluster.url)
    try:
        url = create_database(cluster.url)
        via = (
            urlparse(url)
            ._replace(netloc=f"{urlparse(url).netloc.split('@')[0]}@127.0.0.1:{relay.port}")
            .geturl()
        )
        with tempfile.TemporaryDirectory() as tmp:
            settings = replace(
                Settings(), data_dir=Path(tmp), database_url=via, database_timeout_s=args.timeout_s
            )
            ctx = open_context(settings)
            try:
                ctx.gallery.enrol("g1", "a", "A", "t", [("s1", VEC)], "p/1")
                cpu, wall, load = time.process_time(), time.perf_counter(), os.getloadavg()[0]
                took = _measure(ctx, relay, args)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                load = max(load, os.getloadavg()[0])
                report = ctx.audit.verify()
            finally:
                ctx.close()
    finally:
        relay.close()
        cluster.remove()
    _print(took, args, cpu, wall, load, report.ok)
    if not report.ok:
        raise SystemExit(f"audit chain does not verify: {report.reason}")


def _print(
    took: dict[str, list[float]],
    args: argparse.Namespace,
    cpu: float,
    wall: float,
    load: float,
    verified: bool,
) -> None:
    section = Section(
        f"PostgreSQL host gone ({args.rounds} rounds of {args.requests} requests each way)",
        [
            latency("request while gone, without breaker", took["without gone"]),
            latency("request while gone, with breaker", took["with gone"], target_p50_ms=100),
            latency("back to service, without breaker", took["without back"]),
            # the rest of the first cool-down, then one new connection
            latency(
                "back to service, with breaker",
                took["with back"],
                target_p50_ms=FIRST_S * 1000 + RECONNECT_MS,
            ),
            single("process CPU, all rounds", "s", cpu),
            single("wall, all rounds", "s", wall),
        ],
        {
            "timeout_s": args.timeout_s,
            "cool-down": f"{FIRST_S:g} s first, doubling to {CAP_S:g} s",
            "load average (1 min, highest of start and end)": round(load, 2),
            "audit chain verifies": verified,
        },
    )
    print(render([section]))


if __name__ == "__main__":
    main()
