"""Run real ``mobileid`` processes and kill them with SIGKILL at a chosen moment."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

DEADLINE = 600.0  # seconds for a process to reach the moment it is killed at (a loaded CI box)


def _argv(data: Path, argv: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "mobileid.cli.main", *argv, "--data-dir", str(data)]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILEID_")}
    return {**env, **(extra or {})}


def spawn(data: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _argv(data, argv),
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(data: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        _argv(data, argv), env=_env(env), capture_output=True, text=True, timeout=DEADLINE
    )
    return done.returncode, done.stdout, done.stderr


def count(db: Path, sql: str) -> int:
    """One integer from a read-only connection (concurrent with the writer: WAL)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def kill_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], *, interval: float = 0.01
) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fail if it exits or stalls first."""
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"the process ended (exit {proc.returncode}) before the kill: {err[-800:]}")
        try:
            hit = ready()
        except sqlite3.OperationalError:
            hit = False  # a table not yet created, or the database locked for a moment
        if hit:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            return
        time.sleep(interval)
    proc.kill()
    proc.communicate()
    pytest.fail(f"the process did not reach the moment to kill it within {DEADLINE:.0f} s")
