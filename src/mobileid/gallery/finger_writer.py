"""Snapshots written in the background, so that no search waits for one.

A snapshot is written in pieces (``finger_snapshot``): after a change only the segments it
touched, so a deletion or an enrolment at a million templates writes one segment and a small
manifest rather than the whole set (~1 GB and ~4.6 s of CPU, as each removal did before,
measured by ``bench/bench_fingers_changes.py``). A search still never waits for it: the loader
hands the set to a :class:`SnapshotWriter`, whose thread writes the newest set handed for each
snapshot, the row ids touched since the last write joined over the sets it skipped, so a burst
of changes costs one write. The thread starts when there is work and ends when there is none.
The writer remembers the manifest it last wrote (or the loader read) for each snapshot, which
says which segments are on disk. A write that fails (a full disk) is noted, that memory
dropped, and the next load hands the set again (``failed``), written whole. The set is a view
that never changes (``finger_screen``), so no copy is made for the writer. A writer in another
process (a second replica on the same folder) takes turns with this one on the snapshot's
lock file (``finger_snapshot``); a manifest it replaced is noticed and the set written whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobileid.gallery.finger_screen import I64
from mobileid.gallery.finger_snapshot import Manifest, Snapshot, write_snapshot

__all__ = ["SnapshotWriter"]


@dataclass(frozen=True, eq=False)
class _Job:
    key: bytes
    gallery: str
    snap: Snapshot
    dirty: I64 | None  # row ids touched since the last set handed; None: unknown


class SnapshotWriter:
    """One background thread writing snapshots, the newest set per snapshot."""

    def __init__(self) -> None:
        self._pending: dict[Path, _Job] = {}
        self._on_disk: dict[Path, Manifest] = {}
        self._failed: set[Path] = set()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()

    def submit(
        self, key: bytes, path: Path, gallery: str, snap: Snapshot, dirty: I64 | None
    ) -> None:
        """Write ``snap`` to ``path`` soon, instead of any set handed for it before;
        ``dirty``: the row ids touched since the set handed before (None: unknown, so
        written whole)."""
        with self._done:
            before = self._pending.get(path)
            if before is not None:
                dirty = _joined(before.dirty, dirty)
            self._pending[path] = _Job(key, gallery, snap, dirty)
            self._failed.discard(path)
            if self._thread is None:
                # Not a daemon: a process that ends meanwhile finishes the file first.
                self._thread = threading.Thread(target=self._run, name="finger-snapshots")
                self._thread.start()

    def known(self, path: Path, manifest: Manifest | None) -> None:
        """``manifest`` is what ``path`` holds now (the loader read it there)."""
        with self._done:
            if manifest is None:
                self._on_disk.pop(path, None)
            else:
                self._on_disk[path] = manifest

    def failed(self, path: Path) -> bool:
        """Whether the last write of ``path`` failed (and none is pending)."""
        with self._done:
            return path in self._failed

    def drop(self) -> None:
        """Forget what is pending and what is on disk (a key change: those sets and files are
        sealed under the old key)."""
        with self._done:
            self._pending.clear()
            self._on_disk.clear()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every set handed is written; False if ``timeout`` passed first."""
        with self._done:
            return self._done.wait_for(lambda: self._thread is None, timeout)

    def _run(self) -> None:
        while True:
            with self._done:
                if not self._pending:
                    self._thread = None
                    self._done.notify_all()
                    return
                path = next(iter(self._pending))
                job = self._pending.pop(path)
                previous = self._on_disk.pop(path, None)  # unknown until this write ends
            try:
                written = write_snapshot(
                    job.key, path, job.gallery, job.snap, previous=previous, dirty=job.dirty
                )
            except OSError:
                with self._done:  # a cache: the search went on, the next load hands it again
                    if path not in self._pending:
                        self._failed.add(path)
                continue
            with self._done:
                self._on_disk[path] = written


def _joined(a: I64 | None, b: I64 | None) -> I64 | None:
    return None if a is None or b is None else np.union1d(a, b)
