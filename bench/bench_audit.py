"""Audit-log benchmark: what the integrity check costs an audited action, at 10k and 1M entries.

A log of SIZE entries is written straight into the tables (real hashes, heads signed every 100
entries and witnessed, as a deployment with that schedule would leave them), then the log is
opened the way the service opens it and we time, per action:

* ``append``: one ``record`` as every search does it: the check since the last witnessed head,
  the entry, its signed head (every entry, the default schedule) and the witness copy;
* ``guard``: the check alone, on a read transaction;
* ``full verify``: the whole log against the witness (what runs when the last full
  verification is older than MOBILEID_AUDIT_FULL_VERIFY_MINUTES).

    python bench/bench_audit.py                  # 10k and 1M entries
    python bench/bench_audit.py --sizes 10000    # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from bench_common import Section, latency, log, render, single
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
from mobileid.audit.tables import HEAD_ID, EntryRow, HeadRow, open_audit_engine
from mobileid.audit.witness import FileWitness

EVERY = 100
_BATCH = 10_000


def build(data: Path, size: int) -> None:
    """SIZE chained entries, a signed and witnessed head every EVERY entries."""
    signer = load_or_create_signer(key_dir(data))
    engine = open_audit_engine(audit_database(data))
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
    engine.dispose()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sections = []
    for size in args.sizes:
        log(f"building a log of {size:,} entries")
        sections.append(measure(size, args.runs))
    print(render(sections))
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for s in sections], indent=2))


if __name__ == "__main__":
    main()
