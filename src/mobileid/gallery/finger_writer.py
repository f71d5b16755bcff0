"""Snapshot files written in the background, so that no search waits for one.

Writing a set's file seals and writes every row (~1 GB and ~4.6 s of CPU per million
templates, measured by ``bench/bench_fingers_changes.py``), and a removal has it written again
at once, so that a deleted template does not stay in the file. A search that had caught up in
milliseconds used to wait for that write. Now the loader hands the set to a
:class:`SnapshotWriter`, whose thread writes the newest set handed for each file: a burst of
removals costs one write, not one each. The thread starts when there is work and ends when
there is none. A write that fails (a full disk) is noted, and the next load hands the set
again (``failed``). The set is a view that never changes (``finger_screen``), so no copy is
made for the writer.
"""

from __future__ import annotations

import threading
from pathlib import Path

from mobileid.gallery.finger_snapshot import Snapshot, write_snapshot

__all__ = ["SnapshotWriter"]


class SnapshotWriter:
    """One background thread writing snapshot files, the newest set per file."""

    def __init__(self) -> None:
        self._pending: dict[Path, tuple[bytes, str, Snapshot]] = {}
        self._failed: set[Path] = set()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()

    def submit(self, key: bytes, path: Path, gallery: str, snap: Snapshot) -> None:
        """Write ``snap`` to ``path`` soon, instead of any set handed for it before."""
        with self._done:
            self._pending[path] = (key, gallery, snap)
            self._failed.discard(path)
            if self._thread is None:
                # Not a daemon: a process that ends meanwhile finishes the file first.
                self._thread = threading.Thread(target=self._run, name="finger-snapshots")
                self._thread.start()

    def failed(self, path: Path) -> bool:
        """Whether the last write of ``path`` failed (and none is pending)."""
        with self._done:
            return path in self._failed

    def drop(self) -> None:
        """Forget what is pending (a key change: those sets are sealed under the old key)."""
        with self._done:
            self._pending.clear()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every file handed is written; False if ``timeout`` passed first."""
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
                key, gallery, snap = self._pending.pop(path)
            try:
                write_snapshot(key, path, gallery, snap)
            except OSError:
                with self._done:  # a cache: the search went on, the next load hands it again
                    if path not in self._pending:
                        self._failed.add(path)
