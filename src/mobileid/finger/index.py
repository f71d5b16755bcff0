"""The fast first stage of 1:N search: binary cylinders compared by popcount.

Each template keeps the cylinders (:mod:`mobileid.finger.match`) of its ``screen_cylinders``
best minutiae, binarised (a cell is 1 when above the template's median cell value). Two
templates compare by local-similarity sort (Cappelli et al., MCC, 2010): the mean of the
``screen_top`` best cylinder-pair similarities, each ``1 - sqrt(xor) / (sqrt(|a|) +
sqrt(|b|))`` over the bits. Nothing about pose enters, so no alignment is needed; a gallery is
screened with array operations, and only the shortlist goes to the careful geometric check.

Measured on FVC2002 DB1_B (each print against the other 79): 95.7% of genuine pairs rank in
the top 10, 97.9% in the top 20, 99.1% in the top 40 (DB4_B: 88.9%, 94.8%, 97.7%). Speed in
numpy on the shared 2-core host: ~17,000 templates/s per process (M = 24; M = 16 is twice as
fast and loses ~3 points of top-10 recall). A compiled popcount kernel is the way to 1e5/s.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mobileid.finger.match import MatchFeatures
from mobileid.finger.params import ScreenParams

__all__ = ["identify", "screen", "screen_codes"]

U64 = npt.NDArray[np.uint64]
F32 = npt.NDArray[np.float32]


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
        bits = cyl > np.median(cyl[cyl > 0])
        padded = np.zeros((cyl.shape[0], words * 64), dtype=bool)
        padded[:, :dim] = bits
        packed = np.packbits(padded, axis=1, bitorder="little")
        out[i, : cyl.shape[0]] = packed.view(np.uint64).reshape(cyl.shape[0], words)
    return out


def screen(
    probe: U64, gallery: U64, size: int, params: ScreenParams | None = None
) -> tuple[npt.NDArray[np.int64], F32]:
    """The ``size`` gallery rows most like ``probe`` (M×W), best first, with first-stage scores."""
    p = params or ScreenParams()
    scores = np.empty(gallery.shape[0], dtype=np.float32)
    pa = np.sqrt(np.bitwise_count(probe).sum(axis=-1, dtype=np.float32))  # (M,)
    for start in range(0, gallery.shape[0], p.chunk):
        g = gallery[start : start + p.chunk]
        xor = np.bitwise_count(probe[None, :, None, :] ^ g[:, None, :, :]).sum(
            axis=-1, dtype=np.float32
        )  # (n, M, M)
        gb = np.sqrt(np.bitwise_count(g).sum(axis=-1, dtype=np.float32))  # (n, M)
        denom = pa[None, :, None] + gb[:, None, :]
        sim = np.where(denom > 0, 1.0 - np.sqrt(xor) / np.maximum(denom, 1e-9), 0.0)
        flat = sim.reshape(sim.shape[0], -1)
        k = min(p.screen_top, flat.shape[1])
        top = np.partition(flat, flat.shape[1] - k, axis=1)[:, -k:]
        scores[start : start + g.shape[0]] = top.mean(axis=1)
    size = min(size, scores.shape[0])
    if size <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    best = np.argpartition(-scores, size - 1)[:size]
    order = best[np.argsort(-scores[best], kind="stable")]
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
    from mobileid.finger.match import match_features

    rows, _ = screen(probe_code, gallery_codes, shortlist, params)
    scored = [(int(r), match_features(probe, gallery[int(r)]).score) for r in rows]
    return sorted(scored, key=lambda rs: -rs[1])
