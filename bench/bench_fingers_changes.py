"""What keeping a loaded finger gallery current costs: the catch-up after one change.

On the gallery ``bench_fingers_scale.py`` builds (``--database``/``--key``: another one, e.g. a
copy), in one process: the gallery opened from its snapshot (``--snapshots``: another folder),
one probe searched (the kernel compiled, the set loaded), then, each followed by the search's
own catch-up (``FingerGallery.preload``) timed in wall and CPU seconds (CPU: all threads of
the process), then the snapshot's write where one is due (in the background; waited for and
timed apart, with the MB of the files it wrote), with the growth of the resident set:

1. one subject enrolled (one template appended);
2. that subject deleted again (a row of the set's tail removed);
3. an old subject deleted (a row in the middle of the set removed) and enrolled again (its
   template under a new row id), leaving the gallery holding what it held.

The same probe (a stored template) is searched before and after: its best hit stays. The
1-minute load average is printed beside each timing (after the step; after its write): the
host is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import time
from pathlib import Path

from sqlalchemy import text

from bench_common import log
from bench_fingers import GALLERY
from mobileid.finger.match import prepare
from mobileid.finger.types import FingerTemplate
from mobileid.gallery.fingers import FingerCapture, FingerGallery

_WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "mobileid-bench-fingers-scale"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _written_mb(folder: Path, since_ns: int) -> float:
    """MB of the files in ``folder`` written since ``since_ns`` (what a write cost on disk)."""
    files = [f.stat() for f in folder.glob("*")] if folder.is_dir() else []
    return sum(st.st_size for st in files if st.st_mtime_ns >= since_ns) / 2**20


def _timed(label: str, fingers: FingerGallery, pipeline_id: str, folder: Path) -> None:
    rss, t0, c0, ns = _rss_mb(), time.perf_counter(), time.process_time(), time.time_ns()
    n = fingers.preload(GALLERY, pipeline_id)
    wall, cpu, load = time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0]
    fingers.flush_snapshots()  # the file, where one is due, written in the background
    wall_f, cpu_f = time.perf_counter() - t0 - wall, time.process_time() - c0 - cpu
    print(
        f"| {label} | {n:,} | {wall:.3f} | {cpu:.3f} | {wall_f:.2f} | {cpu_f:.2f} "
        f"| {_written_mb(folder, ns):.3f} | {_rss_mb() - rss:+.0f} | {load:.2f} "
        f"| {os.getloadavg()[0]:.2f} |",
        flush=True,
    )


def _template(fingers: FingerGallery, row_id: int) -> tuple[str, str, str, FingerTemplate]:
    """(subject, position, image hash, template) of one stored row, opened with its key."""
    row = fingers._screens.rows(GALLERY, _pipeline(fingers), [row_id])[0]
    opened = fingers._screens.box_for(GALLERY, _pipeline(fingers)).template(row)
    return row.subject_id, row.position, row.image_sha256, opened


def _pipeline(fingers: FingerGallery) -> str:
    with fingers.engine.connect() as c:
        q = "SELECT pipeline_id FROM finger_templates WHERE gallery = :g LIMIT 1"
        return str(c.execute(text(q), {"g": GALLERY}).scalar_one())


def _delete(fingers: FingerGallery, subject_id: str) -> None:
    with fingers.engine.begin() as c:
        c.execute(text("DELETE FROM subjects WHERE subject_id = :s"), {"s": subject_id})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database", type=Path, help="a gallery (default: the scale bench's)")
    p.add_argument("--key", type=Path, help="its key file (32 bytes)")
    p.add_argument("--snapshots", type=Path, help="its snapshot folder (default: beside it)")
    args = p.parse_args(argv)
    database = args.database or next(iter(sorted(_WORK.glob("gallery-*.sqlite3"))), None)
    if database is None or not database.exists():
        print("no gallery: run bench/bench_fingers_scale.py first", file=sys.stderr)
        return 1
    key = (args.key or database.with_suffix(".key")).read_bytes()
    snapshots = args.snapshots or database.with_name(database.stem + "-snapshots")
    fingers = FingerGallery(database, key=key, snapshots=snapshots)
    pid = _pipeline(fingers)
    print(
        "| step | templates | wall s | CPU s | file wall s | file CPU s | file MB written "
        "| RSS MB | load | load after the write |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    _timed("open (snapshot file, catch-up, check)", fingers, pid, snapshots)
    loaded = fingers._screens.load(GALLERY, pid)
    ids = loaded.ids[loaded.live_rows()]  # rows removed by an earlier run may be held, dead
    _, position, _, probe_t = _template(fingers, int(ids[len(ids) // 3]))
    probe = prepare(probe_t)
    before, _ = fingers.search(GALLERY, probe, 100)
    fresh = FingerCapture(probe_t, position, secrets.token_hex(32))
    ref = f"bench-change-{secrets.token_hex(4)}"
    added, _ = fingers.enrol(GALLERY, ref, "x", "bench", [fresh], training=True)
    _timed("catch-up after 1 enrolment", fingers, pid, snapshots)
    _delete(fingers, added.subject_id)
    _timed("catch-up after deleting it", fingers, pid, snapshots)
    victim, vpos, vsha, vt = _template(fingers, int(ids[len(ids) // 2]))
    _delete(fingers, victim)
    _timed("catch-up after 1 deletion mid-set", fingers, pid, snapshots)
    again = [FingerCapture(vt, vpos, vsha)]
    fingers.enrol(GALLERY, f"bench-again-{victim[:8]}", "x", "bench", again, training=True)
    _timed("catch-up after enrolling it again", fingers, pid, snapshots)
    after, _ = fingers.search(GALLERY, probe, 100)
    log(f"best hit before/after: {before[0].subject_id} / {after[0].subject_id} (the same)")
    log(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    fingers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
