"""The far impostor tail of one development set: a generalised Pareto bound.

Where few of a set's impostor scores reach a score, its finger-bootstrap bound
(:mod:`mobileid.eval.bootstrap`) steps on single comparisons: the table's 1e-3 threshold was
one pair of DB1_B as imitated faint. Above the score that ``FEW`` of them reach, the bound is
instead the ``LEVEL`` quantile, over the same resamples of the fingers, of a generalised Pareto
tail (peaks over the ``1 - TOP`` quantile, fitted by probability-weighted moments, which is
closed-form and stable on a few dozen exceedances): ``P(x > u) * GPD.sf(s - u)``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from mobileid.eval.bootstrap import LEVEL, RESAMPLES, SEED
from mobileid.scoring import Calibration

__all__ = ["FEW", "TOP", "gpd_fit", "tail_bound"]

FloatArray = npt.NDArray[np.float64]
TOP = 0.05  # the exceedances: the top 5% of the set's impostor scores
FEW = 20  # above the score this many reach, the tail model replaces the empirical bound
GRID = 400


def gpd_fit(excess: FloatArray) -> tuple[float, float]:
    """Shape and scale (scipy's ``c``, ``scale``) by probability-weighted moments."""
    y = np.sort(excess)
    p = (np.arange(1, y.size + 1) - 0.35) / y.size
    a0, a1 = float(y.mean()), float(np.mean(y * (1 - p)))
    return 2 - a0 / (a0 - 2 * a1), 2 * a0 * a1 / (a0 - 2 * a1)


def _rates(
    imp: FloatArray,
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    grid: FloatArray,
    fingers: int,
) -> FloatArray:
    """``(RESAMPLES, grid)`` tail rates, one per resample of the fingers."""
    rng = np.random.default_rng(SEED)
    out = np.empty((RESAMPLES, grid.size))
    for r in range(RESAMPLES):
        w = np.bincount(rng.integers(0, fingers, fingers), minlength=fingers)
        x = np.repeat(imp, w[ia] * w[ib])
        if x.size == 0:  # no finger pair drawn twice: no impostor, a zero rate as in bootstrap
            out[r] = 0.0
            continue
        u = float(np.quantile(x, 1 - TOP))
        excess = x[x > u] - u
        if excess.size < 2 or np.ptp(excess) == 0:  # a resample of a few identical scores
            out[r] = np.where(grid > x.max(), 0.0, 1.0)
            continue
        c, scale = gpd_fit(excess)
        tail = excess.size / x.size * stats.genpareto.sf(np.maximum(grid - u, 0), c, 0, scale)
        out[r] = np.where(grid > u, tail, 1.0)
    return out


def tail_bound(
    imp: FloatArray, id_a: npt.ArrayLike, id_b: npt.ArrayLike, empirical: Calibration
) -> Calibration:
    """``empirical`` (the set's bootstrap bound) below the score ``FEW`` impostors reach; above
    it, the bootstrap bound of the generalised Pareto tail."""
    if imp.size < 2 * FEW:
        return empirical
    fingers, inverse = np.unique(
        np.concatenate([np.ravel(id_a), np.ravel(id_b)]), return_inverse=True
    )
    s_few = float(np.sort(imp)[-FEW])
    grid = np.linspace(s_few, max(1.0, float(imp.max())), GRID)
    rates = _rates(imp, inverse[: imp.size], inverse[imp.size :], grid, fingers.size)
    low = np.asarray([s for s in empirical.scores if s < s_few])
    scores = np.concatenate([low, grid])
    fmrs = np.concatenate([[empirical.fmr(s) for s in low], np.quantile(rates, LEVEL, axis=0)])
    fmrs = np.maximum.accumulate(np.maximum(fmrs, 1e-9)[::-1])[::-1]
    count = math.ceil(1.0 / fmrs[-1] - 1e-9)
    return Calibration(
        empirical.matcher,
        empirical.dataset,
        tuple(float(s) for s in scores),
        tuple(max(float(f), 1.0 / count) for f in fmrs),
        count,
        empirical.genuine_count,
    )
