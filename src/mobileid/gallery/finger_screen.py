"""What the finger gallery keeps in memory to search one (gallery, pipeline).

Only what the first stage reads over every row stays loaded: the binary screen codes
(:func:`mobileid.finger.index.screen_codes`) and who each row is (row id, subject, position),
in flat arrays. Each row's code is stored sealed beside its template (``screen_code``), so a
load reads and opens ~1 KB a row and prepares nothing. The templates of shortlisted rows are
read from SQL when a search needs them (:mod:`.finger_cache` keeps their working form).

Per million templates: codes 24×5 words a row, ~960 MB; ids, subjects and positions ~100 MB.
Measured by ``bench/bench_fingers_scale.py``.

A set is kept current without copying it (:mod:`.finger_grow`): its arrays are views of
buffers with room to spare, into which new rows are written, and rows whose template left the
table stay in place, listed in ``dead``, until there are enough of them to be worth a copy.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from mobileid.finger.index import U64, screen_codes, screen_many
from mobileid.finger.match import prepare
from mobileid.finger.params import MatchParams, ScreenParams
from mobileid.finger.types import FingerTemplate

__all__ = [
    "Buffers",
    "Chunk",
    "ScreenSet",
    "SubjectCounts",
    "code_layout",
    "codes_of",
    "spare_rows",
]

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
_NONE = np.zeros(0, np.int64)
_NONE.flags.writeable = False

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


def spare_rows(rows: int) -> int:
    """Rows of room a buffer of ``rows`` gets: an eighth more, so that appending costs one
    copy per ~rows/8 templates added (amortised), and at least two, so that a streaming
    decryption always has the block of room it asks for past the last row."""
    return rows // 8 + 1_024


@dataclass(eq=False)
class Buffers:
    """The arrays behind one or more sets: rows ``[0, filled)`` written, room up to the
    arrays' length. Sets are views of a prefix; only the one ending at ``filled`` (the newest)
    may append, so a set already handed to a search never sees its rows change."""

    ids: I64
    codes: U64
    subjects: list[str]
    positions: list[str]
    filled: int

    @property
    def room(self) -> int:
        return int(self.ids.shape[0]) - self.filled


@dataclass(frozen=True, eq=False)
class ScreenSet:
    """The templates of one (gallery, pipeline) ready for the first stage, by ascending row id.

    Row ``r`` is template row ``ids[r]``, dead rows included (never screened, never returned:
    :meth:`shortlist`). Immutable: a change to the table makes a new set
    (:func:`.finger_grow.changed`). ``subjects`` and ``positions`` may run past the set's rows
    (a later set's rows, sharing the lists).
    """

    pipeline_id: str
    ids: I64
    subjects: list[str]
    positions: list[str]
    codes: U64  # N×M×W
    dead: I64 = field(default_factory=lambda: _NONE)  # rows whose template left the table
    counts: dict[str, int] | None = None  # per_subject, when the change that made it knew it
    buffers: Buffers | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        """Rows held, dead ones included."""
        return int(self.ids.shape[0])

    @property
    def size(self) -> int:
        """Templates of the set (dead rows not counted)."""
        return self.rows - int(self.dead.shape[0])

    def live_rows(self) -> I64:
        return np.setdiff1d(np.arange(self.rows), self.dead, assume_unique=True)

    @property
    def stamp(self) -> tuple[int, int]:
        """(templates, highest row id): names the set, since row ids are never reused."""
        last = self.rows - 1
        for r in self.dead[::-1].tolist():  # the dead rows at the end, from the last one down
            if r != last:
                break
            last -= 1
        return self.size, int(self.ids[last]) if last >= 0 else 0

    @functools.cached_property
    def per_subject(self) -> dict[str, int]:
        """Templates per subject (do not modify)."""
        if self.counts is not None:
            return self.counts
        subjects = self.subjects
        if not self.dead.size:
            return dict(Counter(subjects[: self.rows]))
        return dict(Counter(subjects[r] for r in self.live_rows().tolist()))

    def shortlist(self, probe: U64, size: int) -> tuple[I64, F32]:
        """The ``size`` live rows most like ``probe`` (M×W), best first, with their scores.

        Exactly what :func:`~mobileid.finger.index.screen` gives over the live rows alone: it
        is asked for as many more rows as are dead, and the dead ones are dropped. Of equal
        scores it lists the earlier row first, and the live rows keep their order (ascending
        id) with or without the dead between them; each row's score is its own.
        """
        return self.shortlists(np.asarray(probe)[None], size)[0]

    def shortlists(self, probes: U64, size: int) -> list[tuple[I64, F32]]:
        """:meth:`shortlist` of each of ``probes`` (P×M×W), in one pass over the codes
        (:func:`~mobileid.finger.index.screen_many`)."""
        if not self.rows or size <= 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in probes]
        n_dead = int(self.dead.shape[0])
        out = []
        for rows, scores in screen_many(probes, self.codes, size + n_dead):
            if n_dead:
                keep = ~np.isin(rows, self.dead)
                rows, scores = rows[keep][:size], scores[keep][:size]
            out.append((rows, scores))
        return out

    @classmethod
    def empty(cls, pipeline_id: str) -> ScreenSet:
        _, shape = code_layout()
        codes = np.zeros((0, *shape), np.uint64)
        return cls(pipeline_id, np.zeros(0, np.int64), [], [], codes)

    @classmethod
    def read(cls, pipeline_id: str, chunks: Iterable[Chunk], expected: int) -> ScreenSet:
        """The rows of ``chunks`` (ids ascending), about ``expected`` of them, one after another.

        Written into arrays sized for ``expected`` (and room to grow) rather than kept per
        chunk and joined: the chunks' memory, freed at the end of a join, stayed with the
        process (+200 MB at 100,000 templates, twice what the set itself holds).
        """
        _, shape = code_layout()
        room = expected + spare_rows(expected)
        ids, codes = np.zeros(room, np.int64), np.zeros((room, *shape), np.uint64)
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
        return cls.of(pipeline_id, Buffers(ids, codes, subjects, positions, n))

    @classmethod
    def of(
        cls,
        pipeline_id: str,
        b: Buffers,
        dead: I64 = _NONE,
        counts: dict[str, int] | None = None,
    ) -> ScreenSet:
        """The set of ``b``'s filled rows."""
        n = b.filled
        return cls(pipeline_id, b.ids[:n], b.subjects, b.positions, b.codes[:n], dead, counts, b)


class SubjectCounts(Mapping[str, int]):
    """Templates per subject of a loaded set (read-only, counted at first use) and their
    ``total``, known without counting: a caller that needs only the total (the finger
    service, per search) no longer sums a value per subject (3.7 ms at 300,000 subjects), and
    a set whose counts nobody asks for is never counted (nor its counts copied at a change)."""

    __slots__ = ("_set",)

    def __init__(self, loaded: ScreenSet) -> None:
        self._set = loaded

    @property
    def total(self) -> int:
        """Templates of the set: the sum of the counts."""
        return self._set.size

    def __getitem__(self, subject_id: str) -> int:
        return self._set.per_subject[subject_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._set.per_subject)

    def __len__(self) -> int:
        return len(self._set.per_subject)

    def __repr__(self) -> str:
        return f"SubjectCounts({self._set.per_subject!r})"


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
