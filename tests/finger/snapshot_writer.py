"""A process that writes one finger snapshot again and again, as a second service replica
would: ``python -m tests.finger.snapshot_writer FOLDER ROUNDS whole|changes``. After each
write it reads the snapshot back; it prints how many reads found it unreadable."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mobileid.gallery import finger_plan
from mobileid.gallery.finger_snapshot import read_snapshot, snapshot_path, write_snapshot
from tests.finger.test_gallery import KEY, PID

SEGMENT = 4  # rows a segment holds: many small files, so that writes overlap often


def main(folder: Path, rounds: int, whole: bool) -> int:
    finger_plan.SEGMENT_ROWS = SEGMENT
    path = snapshot_path(folder, "g1", PID)
    snap = read_snapshot(KEY, path, "g1", PID)
    assert snap is not None and snap.manifest is not None
    previous, unreadable = snap.manifest, 0
    ids = snap.loaded.ids[: snap.loaded.rows]
    for i in range(rounds):
        dirty = None if whole else np.asarray([ids[(7 * i) % len(ids)]], dtype=np.int64)
        previous = write_snapshot(
            KEY, path, "g1", snap, previous=None if whole else previous, dirty=dirty
        )
        if read_snapshot(KEY, path, "g1", PID) is None:
            unreadable += 1
    print(unreadable)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "whole"))
