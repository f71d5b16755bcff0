"""The fast first stage of 1:N search: binary cylinders compared by popcount.

Each template keeps the cylinders (:mod:`mobileid.finger.cylinders`) of its ``screen_cylinders``
best minutiae, binarised (a cell is 1 where it reaches ``bit_threshold`` of its cylinder's
largest value: the cells close to a neighbouring minutia that points that way). Two
templates compare by local-similarity sort (Cappelli et al., MCC, 2010): the mean of the
``screen_top`` best cylinder-pair similarities, each ``1 - sqrt(xor) / (sqrt(|a|) +
sqrt(|b|))`` over the bits. Nothing about pose enters, so no alignment is needed, and only the
shortlist goes to the careful geometric check.

Measured on FVC2002 DB1_B (each print against the other 79): 98.2% of genuine pairs rank in
the top 10, 98.9% in the top 20, 99.3% in the top 40 (DB4_B: 95.5%, 97.9%, 99.3%). The first
binarisation (cut at the template's median cell, 12 pairs averaged) gave 95.7 / 97.9 / 99.1%
(DB4_B 88.9 / 94.8 / 97.7%) and, against 100,000 synthetic distractors
(``bench/bench_fingers.py``, section 4), kept the mate in the top 100 for only 86% of DB1_B
probes and 77% of DB4_B probes: at that size this stage, not the geometric check, limits
recall. Choosing the cut and the pair count on all genuine pairs of both sets against their
12,160 impostor pairs raised the share of mates scoring above 99.9% of impostors (the top 100
of 100,000) from 45% to 94% (DB1_B) and from 40% to 86% (DB4_B); tuned on development data,
so expect less on other prints.

The comparison is a numba kernel (compiled on first use, ~10 s, and cached beside this file):
gallery rows are handed out in blocks to numba's threads (all the cores the process may use, or
``NUMBA_NUM_THREADS``), popcounts are vectorised by LLVM, square roots come from a table of the
possible bit counts and the ``screen_top`` best pairs are kept by insertion. Measured by
``bench/bench_fingers.py`` on the shared 2-core host (load average ~3 from other work), one probe
against 100,000 synthetic templates of DB1_B-like minutia counts, M = 24: ~225,000 templates/s
(0.44 s; 2 threads ~230,000/s, 1 thread ~220,000/s: the second thread found little idle CPU),
against ~23,000/s for the numpy version it replaced on the same gallery and host, with the
same scores to float32 rounding.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
from numba import njit, prange, set_parallel_chunksize

from mobileid.errors import InvalidArgument
from mobileid.finger.match import MatchFeatures, match_features
from mobileid.finger.params import ScreenParams
from mobileid.finger.threads import one_numpy_blas_thread

__all__ = ["identify", "screen", "screen_codes", "screen_many"]

U64 = npt.NDArray[np.uint64]
F32 = npt.NDArray[np.float32]

_BLOCK = 256  # gallery rows per parallel task: enough work to hide the hand-out cost
# The codes the default parameters make: 24 cylinders of 312 bits (5 words).
_FIXED_M, _FIXED_W = 24, 5
# One search at a time: each already uses every core, and numba's fallback threading layer
# (workqueue, where neither OpenMP nor TBB is installed) must not be entered concurrently.
_KERNEL_LOCK = threading.Lock()


def screen_codes(features: list[MatchFeatures], params: ScreenParams | None = None) -> U64:
    """An N×M×W ``uint64`` array of binary cylinders, zero rows where a template has fewer."""
    p = params or ScreenParams()
    dim = features[0].cylinders.shape[1] if features else 8
    words = -(-dim // 64)
    out = np.zeros((len(features), p.screen_cylinders, words), dtype=np.uint64)
    for i, f in enumerate(features):
        cyl = f.cylinders[np.abs(f.cylinders).sum(axis=1) > 0][: p.screen_cylinders]
        if cyl.size == 0:
            continue
        bits = cyl >= p.bit_threshold * cyl.max(axis=1, keepdims=True)
        padded = np.zeros((cyl.shape[0], words * 64), dtype=bool)
        padded[:, :dim] = bits
        packed = np.packbits(padded, axis=1, bitorder="little")
        out[i, : cyl.shape[0]] = packed.view(np.uint64).reshape(cyl.shape[0], words)
    return out


def screen(
    probe: U64, gallery: U64, size: int, params: ScreenParams | None = None
) -> tuple[npt.NDArray[np.int64], F32]:
    """The ``size`` gallery rows most like ``probe`` (M×W), best first, with first-stage scores.

    Of equal scores the earlier gallery row comes first, onto the list too. An empty gallery
    or ``size <= 0`` gives empty arrays.
    """
    return screen_many(np.asarray(probe)[None], gallery, size, params)[0]


def screen_many(
    probes: U64, gallery: U64, size: int, params: ScreenParams | None = None
) -> list[tuple[npt.NDArray[np.int64], F32]]:
    """:func:`screen` of each of ``probes`` (P×M×W), in one pass over the gallery: each
    gallery row is read once for all of them (the views of one photo: one search's memory
    traffic instead of P). The same answers as P calls of :func:`screen`, bit for bit.

    The screen is bound by its popcounts, not by memory: five probes over 200,000 codes took
    1.21 s CPU (3.7 s wall) against 1.27 s (4.3 s) one at a time, on the shared 2-core host at
    load ~12 (each gallery row's own bit counts are shared; every pair is still compared)."""
    p = params or ScreenParams()
    probes = np.ascontiguousarray(probes, dtype=np.uint64)
    gallery = np.ascontiguousarray(gallery, dtype=np.uint64)
    if probes.ndim != 3 or gallery.ndim != 3 or probes.shape[2] != gallery.shape[2]:
        raise InvalidArgument(
            f"codes: expected a probe M×W and a gallery N×M×W of the same W, got "
            f"{probes.shape[1:]} and {gallery.shape}",
            field="codes",
        )
    size = min(size, gallery.shape[0])
    if size <= 0 or probes.shape[0] == 0:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        return [empty for _ in range(probes.shape[0])]
    return [_shortlist(s, size) for s in _scores(probes, gallery, p.screen_top)]


def _shortlist(scores: F32, size: int) -> tuple[npt.NDArray[np.int64], F32]:
    """The ``size`` best rows of ``scores``, best first, the earlier row first among equals."""
    best = np.arange(scores.shape[0])
    if size < scores.shape[0]:
        bar = -np.partition(-scores, size - 1)[size - 1]  # the size-th best score
        above = np.flatnonzero(scores > bar)
        best = np.concatenate([above, np.flatnonzero(scores == bar)[: size - above.size]])
    order = best[np.lexsort((best, -scores[best]))]
    return order.astype(np.int64), scores[order]


def identify(
    probe: MatchFeatures,
    probe_code: U64,
    gallery: list[MatchFeatures],
    gallery_codes: U64,
    shortlist: int,
    params: ScreenParams | None = None,
) -> list[tuple[int, float]]:
    """Two-stage 1:N: screen the gallery, then score the shortlist with the geometric matcher.

    Returns ``(gallery row, score)`` for the shortlist, best score first.
    """
    rows, _ = screen(probe_code, gallery_codes, shortlist, params)
    one_numpy_blas_thread()
    scored = [(int(r), match_features(probe, gallery[int(r)]).score) for r in rows]
    return sorted(scored, key=lambda rs: -rs[1])


def _scores(probes: U64, gallery: U64, screen_top: int) -> F32:
    """First-stage score of every gallery row for each probe, P×N (C-contiguous inputs)."""
    out = np.zeros((probes.shape[0], gallery.shape[0]), dtype=np.float32)
    top = min(screen_top, probes.shape[1] * gallery.shape[1])
    if top <= 0:
        return out
    # sqrt of every possible bit count, in float32 as the popcounts are exact integers.
    root = np.sqrt(np.arange(probes.shape[2] * 64 + 1, dtype=np.float32))
    # The default layout has a kernel of its own, its loops of known length.
    fixed = probes.shape[1:] == gallery.shape[1:] == (_FIXED_M, _FIXED_W)
    kernel = _fixed_kernel if fixed else _score_kernel
    with _KERNEL_LOCK:
        # Hand blocks out one at a time rather than in equal shares: on a host shared with
        # other work, a thread whose core is busy then does fewer blocks instead of holding
        # up the whole search.
        previous = set_parallel_chunksize(1)
        try:
            kernel(probes, gallery, root, top, out)
        finally:
            set_parallel_chunksize(previous)
    return out


@njit(inline="always", cache=True)
def _popcount(x: np.uint64) -> int:
    # The classic bit trick: LLVM recognises it as ctpop and emits popcnt, or vectorised
    # nibble-table counts (AVX2 vpshufb) over the inner loop; measured as fast as the intrinsic.
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(parallel=True, cache=True)
def _score_kernel(probes: U64, gallery: U64, root: F32, top: int, out: F32) -> None:
    n, m, w = gallery.shape
    mp = probes.shape[1]
    pa = _row_roots(probes, root)
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        best = np.empty(top, np.float32)  # descending; best[top - 1] is the bar to beat
        gb = np.empty(m, np.float32)
        sim = np.empty(m, np.float32)
        xor = np.empty(m, np.int64)
        gt = np.empty((w, m), np.uint64)  # the row word-major, so the j loop vectorises
        for r in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
            for j in range(m):
                c = 0
                for k in range(w):
                    c += _popcount(gallery[r, j, k])
                    gt[k, j] = gallery[r, j, k]
                gb[j] = root[c]
            for q in range(probes.shape[0]):  # the row is read once for every probe
                best[:] = np.float32(0.0)
                bar = np.float32(0.0)
                for i in range(mp):
                    if pa[q, i] == 0:  # an empty probe row pairs at 0 with everything
                        continue
                    xor[:] = 0
                    for k in range(w):
                        word = probes[q, i, k]
                        for j in range(m):
                            xor[j] += _popcount(word ^ gt[k, j])
                    # An empty gallery row gives xor = |a|, so exactly 1 - 1 = 0: no branch.
                    for j in range(m):
                        sim[j] = np.float32(1.0) - root[xor[j]] / (pa[q, i] + gb[j])
                    bar = _best(sim, best, bar, top)
                out[q, r] = _mean(best, top)


@njit(inline="always", cache=True)
def _row_roots(probes: U64, root: F32) -> F32:
    """``root`` of each probe row's bit count (its norm in the similarity's denominator), P×M."""
    pa = np.empty(probes.shape[:2], np.float32)
    for q in range(probes.shape[0]):
        for i in range(probes.shape[1]):
            c = 0
            for k in range(probes.shape[2]):
                c += _popcount(probes[q, i, k])
            pa[q, i] = root[c]
    return pa


@njit(inline="always", cache=True)
def _mean(best: F32, top: int) -> np.float32:
    """The mean of the ``top`` best pair similarities: the row's score (summed in order, in
    float32, as both kernels always did, so scores stay bit for bit what they were)."""
    total = np.float32(0.0)
    for t in range(top):
        total += best[t]
    return total / np.float32(top)


@njit(inline="always", cache=True)
def _best(sim: F32, best: F32, bar: np.float32, top: int) -> np.float32:
    """Insert the values of ``sim`` above ``bar`` into ``best`` (descending); the new bar."""
    for j in range(sim.shape[0]):
        s = sim[j]
        if s > bar:
            t = top - 1
            while t > 0 and best[t - 1] < s:
                best[t] = best[t - 1]
                t -= 1
            best[t] = s
            bar = best[top - 1]
    return bar


@njit(parallel=True, cache=True)
def _fixed_kernel(probes: U64, gallery: U64, root: F32, top: int, out: F32) -> None:
    """``_score_kernel`` for the default 24×5 codes, the same scores bit for bit, ~30% less
    CPU: a pair's five words are counted in registers rather than summed through memory
    word by word, the 24 similarities of a probe cylinder are computed in a loop of their own
    (vectorised divisions), and only a cylinder whose best beats the bar goes to insertion."""
    n = gallery.shape[0]
    pa = _row_roots(probes, root)
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        best = np.empty(top, np.float32)
        gb = np.empty(_FIXED_M, np.float32)
        sim = np.empty(_FIXED_M, np.float32)
        xor = np.empty(_FIXED_M, np.int64)
        g = np.empty((_FIXED_W, _FIXED_M), np.uint64)  # the row word-major
        for r in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
            for j in range(_FIXED_M):
                c = 0
                for k in range(_FIXED_W):
                    g[k, j] = gallery[r, j, k]
                    c += _popcount(g[k, j])
                gb[j] = root[c]
            for q in range(probes.shape[0]):  # the row is read once for every probe
                best[:] = np.float32(0.0)
                bar = np.float32(0.0)
                for i in range(_FIXED_M):
                    if pa[q, i] == 0:  # an empty probe row pairs at 0 with everything
                        continue
                    p0, p1, p2 = probes[q, i, 0], probes[q, i, 1], probes[q, i, 2]
                    p3, p4 = probes[q, i, 3], probes[q, i, 4]
                    for j in range(_FIXED_M):
                        xor[j] = (
                            _popcount(p0 ^ g[0, j])
                            + _popcount(p1 ^ g[1, j])
                            + _popcount(p2 ^ g[2, j])
                            + _popcount(p3 ^ g[3, j])
                            + _popcount(p4 ^ g[4, j])
                        )
                    for j in range(_FIXED_M):
                        sim[j] = np.float32(1.0) - root[xor[j]] / (pa[q, i] + gb[j])
                    if sim.max() > bar:
                        bar = _best(sim, best, bar, top)
                out[q, r] = _mean(best, top)
