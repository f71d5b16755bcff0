"""What the finger gallery keeps in memory to search one (gallery, pipeline).

Only what the first stage reads over every row stays loaded: the binary screen codes
(:func:`mobileid.finger.index.screen_codes`), who each row is (row id, subject, position) and
the small minutiae templates, packed into flat arrays. The matcher's working form
(:class:`~mobileid.finger.match.MatchFeatures`, ~52 KB for a 40-minutia template: its
cylinders are N×312 ``float32``) is made on demand for the shortlisted rows only and kept in a
bounded :class:`FeatureCache`.

Per 100,000 templates of DB1_B-like minutia counts (~40): codes 24×5 words a row, ~96 MB;
minutiae ~84 MB; ids, subjects and positions ~10 MB. Measured by ``bench/bench_fingers.py``
(section 6): +217 MB of RSS after the load, where keeping every template prepared, as
before, took 5-6 GB.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from mobileid.finger.index import U64, screen_codes
from mobileid.finger.match import MatchFeatures, prepare
from mobileid.finger.types import FingerTemplate

__all__ = ["FEATURE_CACHE", "FeatureCache", "ScreenSet"]

# Prepared templates kept per gallery object, least recently used dropped first. 2,000 holds
# the shortlists of the largest search (10 probes × 2 kinds of template × SHORTLIST 100), so a
# repeated search prepares nothing. Memory: ~52 KB a template of 40 minutiae, so ~100 MB full;
# ~190 KB at the 150-minutiae maximum (ExtractParams.max_minutiae), ~380 MB at worst.
FEATURE_CACHE = 2_000

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]

Chunk = tuple[Sequence[int], Sequence[str], Sequence[str], Sequence[FingerTemplate]]
"""Rows read together: their ids (ascending), subjects, positions and templates."""

_MINUTIAE_GUESS = 48  # minutiae a template, to size the load's buffer: DB1_B's mean is ~40

# Per row: width and height in px, ppi, quality (as the stored payload holds them).
_FRAME = np.dtype([("width", "<u4"), ("height", "<u4"), ("ppi", "<f4"), ("quality", "<f4")])


@dataclass(frozen=True, eq=False)
class ScreenSet:
    """The templates of one (gallery, pipeline) ready for the first stage, by ascending row id.

    Row ``r`` is template row ``ids[r]``; its minutiae are ``minutiae[starts[r]:starts[r+1]]``.
    Immutable: a change to the table makes a new set (:meth:`select`, :meth:`join`).
    """

    pipeline_id: str
    ids: I64
    subjects: list[str]
    positions: list[str]
    minutiae: F32  # all rows' minutiae, N_total×5
    starts: I64  # N+1
    frames: npt.NDArray[np.void]  # N, of _FRAME
    codes: U64  # N×M×W

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def stamp(self) -> tuple[int, int]:
        """(rows, highest row id): names the set, since row ids are never reused."""
        return self.size, int(self.ids[-1]) if self.size else 0

    @functools.cached_property
    def per_subject(self) -> dict[str, int]:
        """Templates per subject, subjects in the order of their first row (do not modify)."""
        return dict(Counter(self.subjects))

    def template(self, r: int) -> FingerTemplate:
        f = self.frames[r]
        return FingerTemplate(
            self.minutiae[self.starts[r] : self.starts[r + 1]],
            int(f["width"]),
            int(f["height"]),
            float(f["ppi"]),
            float(f["quality"]),
            self.pipeline_id,
        )

    @classmethod
    def empty(cls, pipeline_id: str) -> ScreenSet:
        return cls.of(pipeline_id, [], [], [], [])

    @classmethod
    def of(
        cls,
        pipeline_id: str,
        ids: Sequence[int],
        subjects: Sequence[str],
        positions: Sequence[str],
        templates: Sequence[FingerTemplate],
    ) -> ScreenSet:
        """Rows ``ids`` (ascending) holding ``templates``: each prepared once for its code."""
        codes = screen_codes([prepare(t) for t in templates])
        counts = np.array([t.count for t in templates], dtype=np.int64)
        frames = np.array([(t.width, t.height, t.ppi, t.quality) for t in templates], _FRAME)
        minutiae = [t.minutiae for t in templates]
        return cls(
            pipeline_id,
            np.array(ids, dtype=np.int64),
            list(subjects),
            [sys.intern(p) for p in positions],  # a dozen values over all rows
            np.concatenate(minutiae) if minutiae else np.zeros((0, 5), np.float32),
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            frames,
            codes,
        )

    @classmethod
    def read(cls, pipeline_id: str, chunks: Iterable[Chunk], expected: int) -> ScreenSet:
        """The rows of ``chunks`` (ids ascending), about ``expected`` of them, one after another.

        Written into arrays sized for ``expected`` rather than kept per chunk and joined: the
        chunks' memory, freed at the end of a join, stayed with the process (+200 MB at
        100,000 templates, twice what the set itself holds).
        """
        ids, counts = np.zeros(expected, np.int64), np.zeros(expected, np.int64)
        frames = np.zeros(expected, _FRAME)
        minutiae = np.zeros((expected * _MINUTIAE_GUESS, 5), np.float32)  # grown if need be
        codes: U64 | None = None
        subjects: list[str] = []
        positions: list[str] = []
        n = m = 0
        for chunk in chunks:
            part = cls.of(pipeline_id, *chunk)
            if codes is None:
                codes = np.zeros((expected, *part.codes.shape[1:]), np.uint64)
            ids, counts = _put(ids, n, part.ids), _put(counts, n, np.diff(part.starts))
            frames, codes = _put(frames, n, part.frames), _put(codes, n, part.codes)
            minutiae = _put(minutiae, m, part.minutiae)
            subjects += part.subjects
            positions += part.positions
            n, m = n + part.size, m + part.minutiae.shape[0]
        if codes is None:
            return cls.empty(pipeline_id)
        # Views, not copies: a large np.zeros buffer gets its pages from the OS as they are
        # first written, so an unused rest costs address space, not memory.
        return cls(
            pipeline_id,
            ids[:n],
            subjects,
            positions,
            minutiae[:m],
            np.concatenate([[0], np.cumsum(counts[:n])]).astype(np.int64),
            frames[:n],
            codes[:n],
        )

    def select(self, keep: npt.NDArray[np.bool_]) -> ScreenSet:
        """The rows where ``keep`` is true, in order."""
        counts = np.diff(self.starts)
        rows = np.flatnonzero(keep)
        return ScreenSet(
            self.pipeline_id,
            self.ids[rows],
            [self.subjects[r] for r in rows.tolist()],
            [self.positions[r] for r in rows.tolist()],
            self.minutiae[np.repeat(keep, counts)],
            np.concatenate([[0], np.cumsum(counts[rows])]).astype(np.int64),
            self.frames[rows],
            self.codes[rows],
        )

    @classmethod
    def join(cls, pipeline_id: str, parts: Sequence[ScreenSet]) -> ScreenSet:
        """``parts`` one after another (each part's ids above the previous part's)."""
        parts = [p for p in parts if p.size] or [cls.empty(pipeline_id)]
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0] + [p.minutiae.shape[0] for p in parts[:-1]])
        return cls(
            pipeline_id,
            np.concatenate([p.ids for p in parts]),
            [s for p in parts for s in p.subjects],
            [s for p in parts for s in p.positions],
            np.concatenate([p.minutiae for p in parts]),
            np.concatenate(
                [[0]] + [p.starts[1:] + o for p, o in zip(parts, offsets, strict=True)]
            ).astype(np.int64),
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.codes for p in parts]),
        )


_A = TypeVar("_A", bound=np.ndarray)


def _put(buf: _A, at: int, block: _A) -> _A:
    """``block`` written into ``buf`` from row ``at``; into a copy twice as long if it must."""
    need = at + block.shape[0]
    if need > buf.shape[0]:
        grown = np.zeros((max(need, 2 * buf.shape[0]), *buf.shape[1:]), buf.dtype)
        grown[:at] = buf[:at]
        buf = grown  # type: ignore[assignment]
    buf[at:need] = block
    return buf


class FeatureCache:
    """Prepared templates by row id, the least recently used dropped beyond ``size``.

    A row's template never changes under its id (ids are never reused), so entries stay valid
    until the key changes (:meth:`clear`); rows deleted since are never asked for again and
    age out. Safe to share between threads.
    """

    def __init__(self, size: int = FEATURE_CACHE) -> None:
        self.size = size
        self._entries: OrderedDict[int, MatchFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, row_id: int, make: Callable[[], MatchFeatures]) -> MatchFeatures:
        with self._lock:
            hit = self._entries.get(row_id)
            if hit is not None:
                self._entries.move_to_end(row_id)
                return hit
        made = make()  # outside the lock: other searches need not wait on it
        with self._lock:
            self._entries[row_id] = made
            self._entries.move_to_end(row_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
