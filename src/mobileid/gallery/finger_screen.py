"""What the finger gallery keeps in memory to search one (gallery, pipeline).

Only what the first stage reads over every row stays loaded: the binary screen codes
(:func:`mobileid.finger.index.screen_codes`) and who each row is (row id, subject, position),
in flat arrays. Each row's code is stored sealed beside its template (``screen_code``), so a
load reads and opens ~1 KB a row and prepares nothing. The templates of shortlisted rows are
read from SQL when a search needs them, and their matcher's working form
(:class:`~mobileid.finger.match.MatchFeatures`, ~52 KB for a 40-minutia template: its
cylinders are N×312 ``float32``) is kept in a bounded :class:`FeatureCache`.

Per million templates: codes 24×5 words a row, ~960 MB; ids, subjects and positions ~100 MB.
Measured by ``bench/bench_fingers_scale.py``.
"""

from __future__ import annotations

import functools
import hashlib
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
from mobileid.finger.params import MatchParams, ScreenParams
from mobileid.finger.types import FingerTemplate

__all__ = ["FEATURE_CACHE", "FeatureCache", "ScreenSet", "code_layout", "codes_of", "merge"]

# Prepared templates kept per gallery object, least recently used dropped first. 2,000 holds
# the shortlists of the largest search (10 probes × 2 kinds of template × SHORTLIST 100), so a
# repeated search prepares nothing. Memory: ~52 KB a template of 40 minutiae, so ~100 MB full;
# ~190 KB at the 150-minutiae maximum (ExtractParams.max_minutiae), ~380 MB at worst.
FEATURE_CACHE = 2_000

I64 = npt.NDArray[np.int64]

Chunk = tuple[Sequence[int], Sequence[str], Sequence[str], U64]
"""Rows read together: their ids (ascending), subjects, positions and screen codes."""


@functools.cache
def code_layout() -> tuple[bytes, tuple[int, int]]:
    """(tag, M×W) of the codes the default parameters make. The tag names the parameters a
    stored code was made with: one made under others is computed again, never compared."""
    text = f"{MatchParams()!r}|{ScreenParams()!r}"
    tag = hashlib.sha256(text.encode()).digest()[:8]
    probe = np.array([[10, 10, 0, 1, 1], [30, 10, 1, 1, 1]], dtype=np.float32)
    shape = codes_of([FingerTemplate(probe, 64, 64, 500.0, 50.0, "layout")]).shape[1:]
    return tag, (int(shape[0]), int(shape[1]))


def codes_of(templates: Sequence[FingerTemplate]) -> U64:
    """Screen codes of ``templates`` (N×M×W), each prepared once for it (~0.5 ms)."""
    return screen_codes([prepare(t) for t in templates])


@dataclass(frozen=True, eq=False)
class ScreenSet:
    """The templates of one (gallery, pipeline) ready for the first stage, by ascending row id.

    Row ``r`` is template row ``ids[r]``. Immutable: a change to the table makes a new set
    (:meth:`select`, :meth:`join`).
    """

    pipeline_id: str
    ids: I64
    subjects: list[str]
    positions: list[str]
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

    @classmethod
    def empty(cls, pipeline_id: str) -> ScreenSet:
        _, shape = code_layout()
        codes = np.zeros((0, *shape), np.uint64)
        return cls(pipeline_id, np.zeros(0, np.int64), [], [], codes)

    @classmethod
    def read(cls, pipeline_id: str, chunks: Iterable[Chunk], expected: int) -> ScreenSet:
        """The rows of ``chunks`` (ids ascending), about ``expected`` of them, one after another.

        Written into arrays sized for ``expected`` rather than kept per chunk and joined: the
        chunks' memory, freed at the end of a join, stayed with the process (+200 MB at
        100,000 templates, twice what the set itself holds).
        """
        _, shape = code_layout()
        ids, codes = np.zeros(expected, np.int64), np.zeros((expected, *shape), np.uint64)
        subjects: list[str] = []
        positions: list[str] = []
        n = 0
        for chunk_ids, chunk_subjects, chunk_positions, chunk_codes in chunks:
            ids = _put(ids, n, np.asarray(chunk_ids, dtype=np.int64))
            codes = _put(codes, n, chunk_codes)
            subjects += chunk_subjects
            positions += [sys.intern(p) for p in chunk_positions]  # a dozen values in all
            n += len(chunk_ids)
        # Views, not copies: a large np.zeros buffer gets its pages from the OS as they are
        # first written, so an unused rest costs address space, not memory.
        return cls(pipeline_id, ids[:n], subjects, positions, codes[:n])

    def select(self, keep: npt.NDArray[np.bool_]) -> ScreenSet:
        """The rows where ``keep`` is true, in order."""
        rows = np.flatnonzero(keep)
        return ScreenSet(
            self.pipeline_id,
            self.ids[rows],
            [self.subjects[r] for r in rows.tolist()],
            [self.positions[r] for r in rows.tolist()],
            self.codes[rows],
        )

    @classmethod
    def join(cls, pipeline_id: str, parts: Sequence[ScreenSet]) -> ScreenSet:
        """``parts`` one after another (each part's ids above the previous part's)."""
        parts = [p for p in parts if p.size] or [cls.empty(pipeline_id)]
        if len(parts) == 1:
            return parts[0]
        return cls(
            pipeline_id,
            np.concatenate([p.ids for p in parts]),
            [s for p in parts for s in p.subjects],
            [s for p in parts for s in p.positions],
            np.concatenate([p.codes for p in parts]),
        )


def merge(a: ScreenSet, b: ScreenSet) -> ScreenSet:
    """The rows of ``a`` and ``b`` (no id in both) in one set, by ascending id."""
    if not b.size:
        return a
    joined = ScreenSet.join(a.pipeline_id, [a, b])
    if not a.size or a.ids[-1] < b.ids[0]:
        return joined  # new rows only come above the highest id; a changed row may not
    order = np.argsort(joined.ids, kind="stable")
    rows = order.tolist()
    return ScreenSet(
        a.pipeline_id,
        joined.ids[order],
        [joined.subjects[r] for r in rows],
        [joined.positions[r] for r in rows],
        joined.codes[order],
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
