"""A calibration that is conservative by construction: an upper bound over identity bootstrap.

The empirical table (:func:`mobileid.scoring.build_calibration`) is the false-match rate of the
people in the calibration set. Impostor comparisons are not independent draws: the pairs of
two look-alike people, or of one face that resembles many, come in clusters, so the tail of the
impostor curve rests on a few people and is heavier on people not seen. Resampling *people*
(not pairs) with replacement shows how much the curve moves when the population changes; the
table keeps, at each score, the ``level`` quantile of the resampled rates instead of the
in-sample rate.

A resample weighs each impostor pair (a, b) by ``w[id(a)] * w[id(b)]``, where ``w[i]`` is how
many times person ``i`` was drawn; its rate at a score is the weight of pairs scoring ``>=`` it
over the weight of all pairs. Pairs between two copies of one person are the same person, not
impostors, and never appear.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.scoring import Calibration, build_calibration

RESAMPLES = 200
LEVEL = 0.95
SEED = 20260


def identity_bootstrap_rates(
    impostor_scores: npt.ArrayLike,
    id_a: npt.ArrayLike,
    id_b: npt.ArrayLike,
    grid: npt.ArrayLike,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> npt.NDArray[np.float64]:
    """``(resamples, len(grid))`` rates: for each resample of people, the weighted fraction of
    impostor pairs scoring ``>=`` each grid score."""
    imp = np.asarray(impostor_scores, dtype=np.float64).ravel()
    people, inverse = np.unique(
        np.concatenate([np.ravel(id_a), np.ravel(id_b)]), return_inverse=True
    )
    ia, ib = inverse[: imp.size], inverse[imp.size :]
    if ia.size != imp.size or ib.size != imp.size:
        raise InvalidArgument(
            f"id_a, id_b: expected one identity per score ({imp.size}), got {ia.size}, {ib.size}",
            field="id_a",
        )
    if resamples < 10:
        raise InvalidArgument(f"resamples: expected >= 10, got {resamples}", field="resamples")
    order = np.argsort(-imp, kind="stable")
    ia, ib = ia[order], ib[order]
    # pairs scoring >= g are the first `above[g]` pairs of the descending order
    above = imp.size - np.searchsorted(np.sort(imp), np.asarray(grid, dtype=np.float64), "left")
    rng = np.random.default_rng(seed)
    rates = np.empty((resamples, above.size))
    for r in range(resamples):
        w = np.bincount(rng.integers(0, people.size, people.size), minlength=people.size)
        cum = np.cumsum(w[ia] * w[ib], dtype=np.float64)
        total = cum[-1] if cum[-1] > 0 else 1.0
        rates[r] = np.where(above > 0, cum[np.maximum(above - 1, 0)], 0.0) / total
    return rates


def bootstrap_calibration(
    impostor_scores: npt.ArrayLike,
    id_a: npt.ArrayLike,
    id_b: npt.ArrayLike,
    genuine_count: int,
    *,
    matcher: str,
    dataset: str,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> Calibration:
    """The empirical table's scores with, at each, the ``level`` quantile of the identity
    bootstrap rates (never below the resolution ``1/n``), and one last point just above the
    highest impostor score at ``1/n``: no rate smaller than the measurement can show."""
    if not 0.5 <= level < 1.0:
        raise InvalidArgument(
            f"level: expected a quantile in [0.5, 1), got {level!r}", field="level"
        )
    base = build_calibration(impostor_scores, genuine_count, matcher=matcher, dataset=dataset)
    grid = np.asarray(base.scores)
    rates = identity_bootstrap_rates(
        impostor_scores, id_a, id_b, grid, resamples=resamples, seed=seed
    )
    n = base.impostor_count
    upper = np.quantile(rates, level, axis=0)
    # each resampled curve falls with the score, so their quantile does; accumulate anyway so
    # that float rounding never breaks the table's monotonicity
    upper = np.minimum.accumulate(np.clip(upper, 1.0 / n, 1.0))
    scores = np.append(grid, np.nextafter(grid[-1], math.inf))
    fmrs = np.append(upper, 1.0 / n)
    return Calibration(
        matcher=matcher,
        dataset=f"{dataset}; identity-bootstrap {level:g} upper bound ({resamples} resamples)",
        scores=tuple(float(x) for x in scores),
        fmrs=tuple(float(x) for x in fmrs),
        impostor_count=n,
        genuine_count=int(genuine_count),
    )
