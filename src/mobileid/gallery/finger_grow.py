"""A change to the table applied to a loaded finger set without copying the set.

A catch-up used to make the new set by joining arrays: ~1 GB copied per million templates
after a single enrolment or deletion (1.8-3.7 s of CPU). Now (:func:`changed`):

- new rows (ids above every row held: the usual case, ids only grow) are written into the
  buffers' spare room (:func:`~.finger_screen.spare_rows`); when it runs out the buffers are
  copied once into ones an eighth larger, so appending costs amortised O(1) a row;
- removed rows are listed in the new set's ``dead`` rows, skipped by its screen
  (:meth:`~.finger_screen.ScreenSet.shortlist`), until more than one in ``_COMPACT_SHARE``
  rows is dead: then the live rows are copied into new buffers, as a join did each time;
- a row changed in place or an id below the highest held (a row committed after a later one,
  possible on PostgreSQL) takes the old way: the set copied with the rows in id order.

Sets already handed to searches keep their rows: only the newest set of a buffer appends,
and only past its own rows.
"""

from __future__ import annotations

import numpy as np

from mobileid.gallery.finger_screen import I64, Buffers, ScreenSet, spare_rows

__all__ = ["changed", "compacted"]

# Dead rows cost screen time (scored, then dropped) and memory: beyond 1 in 32 (~3%) the
# set is copied without them (at a million rows, ~0.5 s once per ~30,000 removals).
_COMPACT_SHARE = 32


def changed(old: ScreenSet, touched: I64, fresh: ScreenSet) -> ScreenSet:
    """``old`` with the rows of ids ``touched`` removed and ``fresh``'s rows (found in the
    table among ``touched``, ids ascending) added."""
    hit = _held(old, touched)
    top = int(old.ids[-1]) if old.rows else 0
    if fresh.size and int(fresh.ids[0]) <= top:
        return _merged(compacted(old, hit), fresh)
    dead = np.union1d(old.dead, hit) if hit.size else old.dead
    counts = _counts(old, hit, fresh)
    grown = _appended(old, fresh, dead, counts)
    if dead.size * _COMPACT_SHARE > grown.rows:
        return compacted(grown)
    return grown


def _held(s: ScreenSet, ids: I64) -> I64:
    """The live rows of ``s`` whose id is among ``ids``."""
    at = np.searchsorted(s.ids, ids)
    inside = at < s.rows
    rows = at[inside][s.ids[at[inside]] == ids[inside]]
    return np.setdiff1d(rows, s.dead) if s.dead.size else rows


def _counts(old: ScreenSet, gone: I64, fresh: ScreenSet) -> dict[str, int] | None:
    """``old``'s templates per subject less ``gone``'s, plus ``fresh``'s: a dict copy where
    ``old`` had them counted already, else None (counted whole when a search asks)."""
    base = _known_counts(old)
    if base is None:
        return None
    counts = dict(base)
    for r in gone.tolist():
        sid = old.subjects[r]
        counts[sid] -= 1
        if not counts[sid]:
            del counts[sid]
    for sid in fresh.subjects[: fresh.rows]:
        counts[sid] = counts.get(sid, 0) + 1
    return counts


def _known_counts(s: ScreenSet) -> dict[str, int] | None:
    """``s.per_subject`` where it is known without counting."""
    # functools.cached_property keeps a computed value in the instance's __dict__.
    return s.counts if s.counts is not None else s.__dict__.get("per_subject")


def _appended(
    old: ScreenSet, fresh: ScreenSet, dead: I64, counts: dict[str, int] | None
) -> ScreenSet:
    """``old``'s rows and then ``fresh``'s, in ``old``'s buffers where they have room."""
    n, k = old.rows, fresh.rows
    b = old.buffers
    if b is None or b.filled != n or b.room < k:
        b = _copied(old, np.arange(n), n + k)
    b.ids[n : n + k] = fresh.ids
    b.codes[n : n + k] = fresh.codes
    del b.subjects[n:], b.positions[n:]  # rows of a set no longer held (a failed catch-up)
    b.subjects += fresh.subjects[:k]
    b.positions += fresh.positions[:k]
    b.filled = n + k
    return ScreenSet.of(old.pipeline_id, b, dead, counts)


def _copied(s: ScreenSet, rows: I64, need: int) -> Buffers:
    """New buffers holding ``s``'s ``rows`` in order, with room for ``need`` rows and more."""
    room = need + spare_rows(need)
    ids = np.zeros(room, np.int64)
    codes = np.zeros((room, *s.codes.shape[1:]), np.uint64)
    k = int(rows.shape[0])
    ids[:k] = s.ids[rows]
    for at in range(0, k, 65_536):  # in pieces: no temporary copy of the whole set
        part = rows[at : at + 65_536]
        np.take(s.codes, part, axis=0, out=codes[at : at + part.shape[0]])
    subjects, positions = s.subjects, s.positions
    listed = rows.tolist()
    return Buffers(ids, codes, [subjects[r] for r in listed], [positions[r] for r in listed], k)


def compacted(s: ScreenSet, drop: I64 | None = None) -> ScreenSet:
    """``s`` without its dead rows (nor the rows ``drop``), in new buffers."""
    gone = s.dead if drop is None or not drop.size else np.union1d(s.dead, drop)
    if not gone.size and s.buffers is not None and s.buffers.filled == s.rows:
        return s
    keep = np.setdiff1d(np.arange(s.rows), gone, assume_unique=True)
    counts = _known_counts(s) if drop is None or not drop.size else None  # dead: not counted
    return ScreenSet.of(s.pipeline_id, _copied(s, keep, int(keep.shape[0])), counts=counts)


def _merged(a: ScreenSet, b: ScreenSet) -> ScreenSet:
    """The rows of ``a`` and ``b`` (neither with dead rows; no id in both) by ascending id."""
    ids = np.concatenate([a.ids, b.ids])
    order = np.argsort(ids, kind="stable")
    both = ScreenSet(
        a.pipeline_id,
        ids,
        a.subjects[: a.rows] + b.subjects[: b.rows],
        a.positions[: a.rows] + b.positions[: b.rows],
        np.concatenate([a.codes, b.codes]),
    )
    return ScreenSet.of(a.pipeline_id, _copied(both, order, int(order.shape[0])))
