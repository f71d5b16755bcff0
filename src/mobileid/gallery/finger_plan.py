"""Which pieces a finger snapshot's write keeps and which it writes (:mod:`.finger_snapshot`).

A snapshot's segments each hold one stretch of row ids. Given the set to write, the segments
on disk and the row ids touched since they were written, :func:`plan` keeps every segment
whose stretch no change touched and lists the set's rows to write for the rest: a touched
segment's rows again (its removed rows left out), and the rows above every segment (enrolled
since) as new segments. Compaction happens past thresholds only: more than ``_TAIL`` small
segments at the end (one per write of new rows) are merged, and a snapshot fragmented into
more than twice the segments its rows need is written whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mobileid.gallery.finger_screen import I64, ScreenSet
from mobileid.gallery.finger_segments import Segment

__all__ = ["SEGMENT_ROWS", "Piece", "live_rows", "plan"]

# Rows a segment holds at most: what a deletion writes again (~16 MB), and the manifest lists
# one segment per this many rows (~60 at a million).
SEGMENT_ROWS = 16_384
_TAIL = 8  # small segments (under half full) at the end before they are merged

Piece = Segment | range  # a segment kept as it is, or the set's rows to write (dead ones left out)


def plan(s: ScreenSet, old: Sequence[Segment] | None, dirty: I64 | None) -> list[Piece]:
    """The pieces of ``s``'s snapshot, in id order, given the ``old`` one and the ids ``dirty``
    since: each old segment kept where no row of its stretch of ids was touched, else its rows
    written again; rows above every old segment written as new ones."""
    if not old or dirty is None:
        return _split(s, range(0, s.rows))
    ids, segs = s.ids, old
    pieces: list[Piece] = []
    for i, seg in enumerate(segs):
        # A segment's stretch runs to the next one's first id (a row committed late, its id
        # between two segments', belongs to the earlier); the first also takes any below it.
        end = segs[i + 1].first if i + 1 < len(segs) else seg.last + 1
        a = 0 if i == 0 else int(np.searchsorted(ids, seg.first))
        b = int(np.searchsorted(ids, end))
        lo = -(2**62) if i == 0 else seg.first
        touched = np.searchsorted(dirty, lo) < np.searchsorted(dirty, end)
        if not touched and _intact(s, seg, a, b):
            pieces.append(seg)
        elif _count(s, range(a, b)):
            pieces.append(range(a, b))
    pieces.append(range(int(np.searchsorted(ids, segs[-1].last + 1)), s.rows))
    return _tidied(s, pieces)


def _intact(s: ScreenSet, seg: Segment, a: int, b: int) -> bool:
    """Whether the live rows among ``a:b`` of ``s`` are as many as the segment's, with the
    same first and last ids (rows removed before it was written may still be there, dead)."""
    if not seg.rows or _count(s, range(a, b)) != seg.rows:
        return False
    dead = set(s.dead[(s.dead >= a) & (s.dead < b)].tolist())
    first = next(r for r in range(a, b) if r not in dead)
    last = next(r for r in range(b - 1, a - 1, -1) if r not in dead)
    return int(s.ids[first]) == seg.first and int(s.ids[last]) == seg.last


def _tidied(s: ScreenSet, pieces: list[Piece]) -> list[Piece]:
    """``pieces`` with neighbouring rows to write joined and split again in full segments;
    more than ``_TAIL`` small segments at the end merged (from the oldest one no larger than
    those after it together, so that a merge costs about what the rows added since did); all
    written again when fragmented."""
    joined: list[Piece] = []
    for p in pieces:
        last = joined[-1] if joined else None
        if isinstance(p, range) and isinstance(last, range) and last.stop == p.start:
            joined[-1] = range(last.start, p.stop)
        else:
            joined.append(p)
    out = [q for p in joined for q in ([p] if isinstance(p, Segment) else _split(s, p))]
    small = 0
    # Small: under half full. Not "under full": rows removed from the last segments would
    # make them all small, and the first merge would write them all again.
    while small < len(out) and 2 * _size(s, out[-1 - small]) < SEGMENT_ROWS:
        small += 1
    if small > _TAIL:
        k = len(out) - small + _merged_from([_size(s, p) for p in out[-small:]])
        out = out[:k] + _split(s, range(_start(s, out[k]), s.rows))
    if len(out) > 2 * -(-s.size // SEGMENT_ROWS) + _TAIL:
        return _split(s, range(0, s.rows))
    return out


def _merged_from(sizes: list[int]) -> int:
    """The first of ``sizes`` no larger than the rest after it together (0 where none is)."""
    rest = sum(sizes)
    for j, n in enumerate(sizes):
        rest -= n
        if n <= rest:
            return j
    return 0


def _split(s: ScreenSet, rows: range) -> list[Piece]:
    """Rows ``rows`` of ``s`` in pieces of ``SEGMENT_ROWS`` rows, those with a live row."""
    parts = (range(a, min(a + SEGMENT_ROWS, rows.stop)) for a in rows[::SEGMENT_ROWS])
    return [p for p in parts if _count(s, p)]


def _start(s: ScreenSet, p: Piece) -> int:
    """The first row of ``s`` that ``p`` holds."""
    return int(np.searchsorted(s.ids, p.first)) if isinstance(p, Segment) else p.start


def _size(s: ScreenSet, p: Piece) -> int:
    return p.rows if isinstance(p, Segment) else _count(s, p)


def _count(s: ScreenSet, rows: range) -> int:
    """Live rows of ``s`` among ``rows``."""
    dead = np.searchsorted(s.dead, rows.stop) - np.searchsorted(s.dead, rows.start)
    return len(rows) - int(dead)


def live_rows(s: ScreenSet, rows: range) -> I64:
    """The live rows of ``s`` among ``rows``."""
    span = np.arange(rows.start, rows.stop, dtype=np.int64)
    dead = s.dead[(s.dead >= rows.start) & (s.dead < rows.stop)]
    return np.setdiff1d(span, dead, assume_unique=True) if dead.size else span
