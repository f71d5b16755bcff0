"""The far impostor tail of one development set: a generalised Pareto bound.

Where few of a set's impostor scores reach a score, its bootstrap bound over the units of
identity (fingers, or people: :mod:`mobileid.eval.bootstrap`) steps on single comparisons: the
finger table's 1e-3 threshold was one pair of DB1_B as imitated faint, the face table's 1e-5
rests on some fifteen comparisons of a few look-alike pairs. Above the score that ``few`` of
them reach, the bound is instead the ``LEVEL`` quantile, over the same resamples of the units,
of a generalised Pareto tail (peaks over the ``1 - top`` quantile, fitted by probability-weighted
moments, which is closed-form and stable on a few dozen exceedances): ``P(x > u) * GPD.sf(s - u)``.
With ``floor`` the bound there is the larger of the two, never below the empirical bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from mobileid.errors import InvalidArgument
from mobileid.eval.bootstrap import LEVEL, RESAMPLES, SEED, bootstrap_calibration
from mobileid.scoring import Calibration

__all__ = ["FEW", "TOP", "TailModel", "bootstrap_tail", "gpd_fit", "tail_bound"]

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
    shape: tuple[int, float, int],
) -> FloatArray:
    """``(resamples, grid)`` tail rates, one per resample of the ``units`` (``shape``: units,
    top, resamples)."""
    units, top, resamples = shape
    order = np.argsort(imp, kind="stable")  # a resample repeats sorted scores: stays sorted
    imp, ia, ib = imp[order], ia[order], ib[order]
    rng = np.random.default_rng(SEED)
    out = np.empty((resamples, grid.size))
    for r in range(resamples):
        w = np.bincount(rng.integers(0, units, units), minlength=units)
        x = np.repeat(imp, w[ia] * w[ib])
        if x.size == 0:  # no unit pair drawn twice: no impostor, a zero rate as in bootstrap
            out[r] = 0.0
            continue
        u = float(np.quantile(x, 1 - top))
        excess = x[np.searchsorted(x, u, "right") :] - u
        if excess.size < 2 or np.ptp(excess) == 0:  # a resample of a few identical scores
            out[r] = np.where(grid > x[-1], 0.0, 1.0)
            continue
        c, scale = gpd_fit(excess)
        tail = excess.size / x.size * stats.genpareto.sf(np.maximum(grid - u, 0), c, 0, scale)
        out[r] = np.where(grid > u, tail, 1.0)
    return out


def tail_bound(
    imp: FloatArray,
    id_a: npt.ArrayLike,
    id_b: npt.ArrayLike,
    empirical: Calibration,
    *,
    top: float = TOP,
    few: int = FEW,
    resamples: int = RESAMPLES,
    floor: bool = False,
) -> Calibration:
    """``empirical`` (the set's bootstrap bound) below the score ``few`` impostors reach; above
    it, the bootstrap bound of the generalised Pareto tail (with ``floor``: the larger of the
    two). ``id_a``/``id_b`` name each comparison's two units of identity."""
    if not 0.0 < top < 0.5 or few < 2:
        raise InvalidArgument(
            f"top, few: expected 0 < top < 0.5 and few >= 2, got {top!r}, {few!r}", field="tail"
        )
    if imp.size < 2 * few:
        return empirical
    units, inverse = np.unique(
        np.concatenate([np.ravel(id_a), np.ravel(id_b)]), return_inverse=True
    )
    s_few = float(np.sort(imp)[-few])
    grid = np.linspace(s_few, max(1.0, float(imp.max())), GRID)
    if floor:  # the empirical nodes too: between nodes both tables are log-linear
        grid = np.union1d(grid, [s for s in empirical.scores if s >= s_few])
    rates = _rates(
        imp, inverse[: imp.size], inverse[imp.size :], grid, (units.size, top, resamples)
    )
    low = np.asarray([s for s in empirical.scores if s < s_few])
    scores = np.concatenate([low, grid])
    tail = np.quantile(rates, LEVEL, axis=0)
    if floor:
        tail = np.maximum(tail, [empirical.fmr(s) for s in grid])
    fmrs = np.concatenate([[empirical.fmr(s) for s in low], tail])
    fmrs = np.maximum.accumulate(np.maximum(fmrs, 1e-9)[::-1])[::-1]
    count = math.ceil(1.0 / fmrs[-1] - 1e-9)
    return Calibration(
        empirical.matcher,
        empirical.dataset if not floor else f"{empirical.dataset}; GPD tail above {few} scores",
        tuple(float(s) for s in scores),
        tuple(max(float(f), 1.0 / count) for f in fmrs),
        count,
        empirical.genuine_count,
    )


@dataclass(frozen=True)
class TailModel:
    """Which exceedances the tail is fitted on (``top``) and above the score how many impostor
    comparisons reach it replaces the empirical bound (``few``)."""

    top: float = TOP
    few: int = FEW

    def __post_init__(self) -> None:
        if not (0.0 < self.top < 0.5 and self.few >= 2):
            raise InvalidArgument(
                f"tail: expected 0 < TOP < 0.5 and FEW >= 2, got {self.top!r}, {self.few!r}",
                field="tail",
            )

    @property
    def label(self) -> str:
        """The option that names this model (``gpd:TOP,FEW``)."""
        return f"gpd:{self.top:g},{self.few}"

    @classmethod
    def parse(cls, text: str) -> TailModel:
        """``gpd`` (the defaults) or ``gpd:TOP,FEW`` (e.g. ``gpd:0.05,20``)."""
        name, _, rest = text.partition(":")
        try:
            if name != "gpd":
                raise ValueError(name)
            top, few = rest.split(",") if rest else (TOP, FEW)
            numbers = float(top), int(few)
        except ValueError:
            raise InvalidArgument(
                f"tail: expected gpd or gpd:TOP,FEW (e.g. gpd:0.05,20), got {text!r}",
                field="tail",
            ) from None
        return cls(*numbers)


def bootstrap_tail(
    imp: npt.ArrayLike,
    id_a: npt.ArrayLike,
    id_b: npt.ArrayLike,
    genuine_count: int,
    *,
    matcher: str,
    dataset: str,
    resamples: int,
    tail: TailModel | None,
) -> Calibration:
    """The identity-bootstrap bound (:func:`bootstrap_calibration`); with ``tail``, above the
    score ``tail.few`` impostors reach, the larger of it and the bootstrap GPD tail bound."""
    cal = bootstrap_calibration(
        imp, id_a, id_b, genuine_count, matcher=matcher, dataset=dataset, resamples=resamples
    )
    if tail is None:
        return cal
    scores = np.asarray(imp, dtype=np.float64).ravel()
    return tail_bound(
        scores, id_a, id_b, cal, top=tail.top, few=tail.few, resamples=resamples, floor=True
    )
