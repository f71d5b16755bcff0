"""A short, bounded load test of the real service (``bench/bench_load.py``, whose full run is
``make load``): 8 clients for 10 s mixing face searches, super queries and dispositions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_load.py"


@pytest.mark.slow
def test_a_short_load_leaves_no_server_error_and_one_audit_entry_per_request(
    tmp_path: Path, lfw_dev: Path
) -> None:
    """Under 8 concurrent clients the service answers every request with no 5xx but counted
    503s, writes exactly one audit entry per request served, and the chain verifies after."""
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(BENCH), "--clients", "8", "--seconds", "10", "--people", "3",
           "--max-requests", "400", "--lfw", str(lfw_dev), "--json", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert out.exists(), done.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["served"] > 0 and got["server_errors"] == 0 and got["no_answer"] == 0, got
    assert got["audit_new"] == got["served"], got
    assert got["verified"] is True and got["passed"] is True and done.returncode == 0, got
