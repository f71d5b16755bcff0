"""Several service processes append to one audit log at once: the chain stays one sequence."""

from __future__ import annotations

from pathlib import Path

from mobileid.audit import open_audit_log
from tests.database.appender import append_from_processes

PROCESSES = 4
EACH = 15


def test_four_processes_append_one_strict_sequence(database_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL, 4 processes appending 15 entries each at once leave 60
    entries numbered 1..60 in one chain, each process's own in its order, every head signed,
    and `audit verify` (the whole log against the witness) passes."""
    data = tmp_path / "data"
    log = open_audit_log(data, database=database_url)  # the signing key and schema, first
    append_from_processes(database_url, data, PROCESSES, EACH)
    entries = log.read()
    assert [e.sequence for e in entries] == list(range(1, PROCESSES * EACH + 1))
    for i in range(PROCESSES):
        cases = [e.details["case"] for e in entries if e.operator == f"officer{i}"]
        assert cases == [f"CASE-officer{i}-{n}" for n in range(EACH)]
    report = log.verify()
    assert report.ok, report.reason
    assert log.head().last_checkpoint == PROCESSES * EACH
    log.close()
