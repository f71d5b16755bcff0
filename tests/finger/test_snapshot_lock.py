"""Two processes writing the same finger snapshot folder take turns on its lock file: neither
deletes the other's new segments, every read after a write opens, and the files left are
exactly those the manifest lists. A reader never waits for a writer holding the lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobileid.gallery import finger_plan
from mobileid.gallery.finger_snapshot import (
    lock_path,
    read_snapshot,
    segment_path,
    snapshot_path,
)
from tests.finger.snapshot_writer import SEGMENT
from tests.finger.test_gallery import KEY, PID, _people
from tests.finger.test_gallery_snapshot import _fresh, _from_sql, _same

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 40
TEMPLATES = 48  # 12 segments of 4 rows


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A gallery of 48 templates whose snapshot (12 segments) a first open wrote."""
    monkeypatch.setattr(finger_plan, "SEGMENT_ROWS", SEGMENT)
    db, snaps = tmp_path / "db.sqlite3", tmp_path / "fingers"
    fingers, _ = _fresh(db, snaps)
    fingers.enrol_many("g1", _people(range(1, TEMPLATES + 1)))
    fingers.preload("g1", PID)
    assert fingers.flush_snapshots(timeout=60)
    fingers.close()
    return db, snaps


def _writers(snaps: Path, modes: list[str]) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tests.finger.snapshot_writer", str(snaps), str(ROUNDS)]
    return [
        subprocess.Popen([*cmd, m], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        for m in modes
    ]


@pytest.mark.parametrize("modes", [["whole", "whole"], ["whole", "changes"]])
def test_two_processes_writing_one_snapshot_never_delete_each_others_segments(
    folder: tuple[Path, Path], modes: list[str]
) -> None:
    """Two real processes write the snapshot 40 times each at once (whole writes, which
    delete every file the writer did not list, or one of them changes only): after every
    write the snapshot opens, and at the end it holds the table's set and the folder holds
    the manifest, its lock file and exactly the segments listed."""
    db, snaps = folder
    procs = _writers(snaps, modes)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert [int(o.strip()) for o in outs] == [0, 0]
    path = snapshot_path(snaps, "g1", PID)
    snap = read_snapshot(KEY, path, "g1", PID)
    assert snap is not None and snap.manifest is not None
    assert _same(snap.loaded, _from_sql(db))
    listed = {segment_path(path, g.token).name for g in snap.manifest.segments}
    on_disk = {f.name for f in snaps.iterdir()}
    assert on_disk == listed | {path.name, lock_path(path).name}


def test_a_reader_does_not_wait_for_a_writer_holding_the_lock(folder: tuple[Path, Path]) -> None:
    """While another process holds the snapshot's write lock (a long write), a read opens
    the snapshot at once."""
    db, snaps = folder
    path = snapshot_path(snaps, "g1", PID)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'ab'); "
            "fcntl.flock(f.fileno(), fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(lock_path(path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with lock_path(path).open("ab") as f, pytest.raises(BlockingIOError):
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock is held
        start = time.perf_counter()
        snap = read_snapshot(KEY, path, "g1", PID)
        assert time.perf_counter() - start < 5
        assert snap is not None and _same(snap.loaded, _from_sql(db))
    finally:
        holder.kill()
        holder.communicate()  # and its pipe closed
