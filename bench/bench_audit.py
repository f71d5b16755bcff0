"""Audit-log benchmark: what the integrity check costs an audited action, at 10k and 1M entries.

A log of SIZE entries is written straight into the tables (real hashes, heads signed every 100
entries and witnessed, as a deployment with that schedule would leave them), then the log is
opened the way the service opens it and we time, per action:

* ``append``: one ``record`` as every search does it: the check since the last witnessed head,
  the entry, its signed head (every entry, the default schedule) and the witness copy;
* ``guard``: the check alone, on a read transaction;
* ``full verify``: the whole log against the witness (what runs when the last full
  verification is older than MOBILEID_AUDIT_FULL_VERIFY_MINUTES).

Then appends per second on each engine of the main database (a SQLite file; a PostgreSQL
server started for the benchmark, or ``MOBILEID_TEST_POSTGRES_URL``), from one process and
from four processes appending at once (each append: guard, entry, signed head, witness), and
whether the log still verifies after them.

    python bench/bench_audit.py                  # 10k and 1M entries, both engines
    python bench/bench_audit.py --sizes 10000    # quicker
    python bench/bench_audit.py --sizes          # the engines only
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from bench_common import Figure, Section, latency, log, render, single
from mobileid.audit import (
    AuditEvent,
    Checkpoint,
    EventType,
    WitnessHead,
    audit_database,
    open_audit_log,
)
from mobileid.audit.canonical import checkpoint_message, entry_payload, hash_payload
from mobileid.audit.keys import load_or_create_signer
from mobileid.audit.local import key_dir
from mobileid.audit.rows import entry_from_payload, entry_values, insert_checkpoint
from mobileid.audit.tables import HEAD_ID, EntryRow, HeadRow, install, open_audit_engine
from mobileid.audit.witness import FileWitness
from mobileid.database import close_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL server and appender the tests use

from tests.database.appender import append_from_processes  # noqa: E402
from tests.postgres import create_database, drop_database, start_server  # noqa: E402

EVERY = 100
_BATCH = 10_000


def build(data: Path, size: int) -> None:
    """SIZE chained entries, a signed and witnessed head every EVERY entries."""
    signer = load_or_create_signer(key_dir(data))
    engine = open_audit_engine(audit_database(data))
    install(engine)  # the head row a new log starts with
    witness = FileWitness(data / "audit-witness")
    witness.create()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev, rows, leaves, heads = "0" * 64, [], [], []
    with engine.begin() as conn:
        for seq in range(1, size + 1):
            payload = entry_payload(
                sequence=seq,
                time=(start + timedelta(seconds=seq)).isoformat(timespec="microseconds"),
                operator=f"officer{seq % 50}",
                role="officer",
                event="search",
                component="service",
                outcome="ok",
                details={"case": f"CASE-{seq:07d}", "purpose": "lead-check", "bands": [1, 0]},
                clock_regressed=False,
                prev_hash=prev,
            )
            prev = hash_payload(payload)
            rows.append(entry_values(entry_from_payload(payload, prev)))
            leaves.append(prev)
            if seq % EVERY == 0 or seq == size:
                message = checkpoint_message(seq, prev, payload["time"], signer.key_id)
                cp = Checkpoint(seq, prev, payload["time"], signer.key_id, signer.sign(message))
                conn.execute(insert_checkpoint(cp))
                heads.append(WitnessHead(cp, seq - len(leaves) + 1, tuple(leaves), EVERY))
                leaves = []
            if len(rows) >= _BATCH or seq == size:
                conn.execute(insert(EntryRow), rows)
                witness.append(heads)
                rows, heads = [], []
                if seq % 100_000 == 0:
                    log(f"  {seq:,} entries written")
        conn.execute(
            update(HeadRow).where(HeadRow.id == HEAD_ID),
            {
                "sequence": size,
                "entry_hash": prev,
                "time": payload["time"],
                "last_checkpoint": size,
            },
        )
    close_database(engine)


def measure(size: int, runs: int) -> Section:
    section = Section(f"audit log of {size:,} entries")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        build(data, size)
        section.figures.append(
            single("build (write + sign + witness)", "s", time.perf_counter() - t0)
        )
        log_ = open_audit_log(data, full_verify_minutes=None)
        event = AuditEvent(EventType.SEARCH, "officer1", "officer", "bench", details={"case": "C"})
        appends = []
        for _ in range(runs):
            t = time.perf_counter()
            log_.record(event)
            appends.append(time.perf_counter() - t)
        guards = []
        for _ in range(runs):
            with log_.engine.begin() as conn:
                t = time.perf_counter()
                log_._guarded_head(conn)
                guards.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = log_.verify()
        full = time.perf_counter() - t
        log_.close()
        assert report.ok, report.reason
        section.figures += [
            latency("append (check + entry + signed head + witness)", appends),
            latency("integrity check per action", guards),
            single("full verification against the witness", "s", full),
        ]
        size_mb = (data / "audit-witness" / "heads.jsonl").stat().st_size / 2**20
        section.notes["witness"] = f"{report.witness_heads:,} heads, {size_mb:.1f} MiB"
    return section


def appends_per_second(url: str, each: int) -> list[Figure]:
    """Appends per second on the database at ``url`` from 1 and from 4 processes."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        data = Path(tmp)
        first = open_audit_log(data, database=url, full_verify_minutes=None)  # key, schema
        for processes in (1, 4):
            seconds = append_from_processes(url, data, processes, each)
            rate = processes * each / max(seconds)
            figures.append(single(f"appends/s from {processes} process(es)", "/s", rate))
        report = first.verify()
        first.close()
        if not report.ok:
            raise SystemExit(f"the log does not verify after concurrent appends: {report.reason}")
    return figures


def engines(each: int) -> Section:
    section = Section(f"audit appends per engine ({each} per process, signed head each)")
    with tempfile.TemporaryDirectory(prefix="bench-audit-sqlite-") as tmp:
        log("appending on SQLite")
        for f in appends_per_second(f"sqlite:///{tmp}/mobileid.sqlite3", each):
            section.figures.append(replace(f, name="SQLite: " + f.name))
    server = start_server()
    try:
        url = create_database(next(server))
        log("appending on PostgreSQL")
        try:
            for f in appends_per_second(url, each):
                section.figures.append(replace(f, name="PostgreSQL: " + f.name))
        finally:
            drop_database(url)
    finally:
        server.close()  # stops a server the benchmark started
    section.notes["verify"] = "the log verified against its witness after each engine's run"
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--appends", type=int, default=100, help="per process, per engine")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sections = []
    for size in args.sizes:
        log(f"building a log of {size:,} entries")
        sections.append(measure(size, args.runs))
    sections.append(engines(args.appends))
    print(render(sections))
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for s in sections], indent=2))


if __name__ == "__main__":
    main()
