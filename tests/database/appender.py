"""Appends audit entries from a process of its own (four of these run at once in the
concurrency test and the audit benchmark).

    python -m tests.database.appender DATABASE_URL DATA_DIR COUNT NAME GO_FILE

Waits for GO_FILE to exist (so that every process starts appending at the same moment), then
records COUNT entries as operator NAME, and prints the seconds it took.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mobileid.audit import AuditEvent, EventType, open_audit_log


def main(url: str, data: str, count: int, name: str, go: str) -> None:
    log = open_audit_log(Path(data), create_key=False, database=url, full_verify_minutes=None)
    while not Path(go).exists():
        time.sleep(0.002)
    start = time.perf_counter()
    for i in range(count):
        details = {"case": f"CASE-{name}-{i}", "purpose": "lead-check"}
        log.record(AuditEvent(EventType.SEARCH, name, "officer", "appender", details=details))
    print(f"{time.perf_counter() - start:.6f}")
    log.close()


ROOT = Path(__file__).resolve().parents[2]


def append_from_processes(url: str, data: Path, processes: int, each: int) -> list[float]:
    """``processes`` real processes append ``each`` entries at once to the log of ``data``
    (whose signing key and schema must exist); returns each one's seconds."""
    go = data / "go"
    go.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.database.appender",
                url,
                str(data),
                str(each),
                f"officer{i}",
                str(go),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    time.sleep(1.0)  # let them start: the measured time begins at "go"
    go.touch()
    seconds = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"an appender failed: {err[-2000:]}")
        seconds.append(float(out.strip()))
    return seconds


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
