"""Measure the quality-stratified finger calibration and check it on other fingers.

Development sets: FVC2002 DB1_B as captured and as each imitated sensor gives it
(:mod:`mobileid.eval.finger_sensors`). Every impostor pair is counted once for each of its two
prints as probe, in that probe's stratum (a search reads the table of its probe).

Good probes: at every score the largest of the pooled table (DB1_B as captured) and, for
each development set (one sensor) apart, the 95% upper bound over a bootstrap of the fingers
(:mod:`mobileid.eval.bootstrap`) of that set's good probes' impostor rate. A sensor not seen
is held to the worst sensor seen rather than to their mixture; where few of a set's impostor
scores reach a score, its bound is that of a generalised Pareto tail
(:mod:`mobileid.eval.tail`). With the matcher's tighter
pairing, the bound of all sets pooled let DB4_B's good probes reach 2.2e-3 where 1e-3 was
predicted, and on DB1_B's own fingers, fitting on 9 imitations of 7 fingers and checking on
the 10th imitation's 3 other fingers, 5 of 9 held-out imitations exceeded the pooled
prediction at 1e-3 and none exceeded this one. Poor probes: the good table, raised to the 95%
Clopper-Pearson and finger-bootstrap upper bounds of the poor probes' rate, pooled over the
sets (one set holds a few hundred poor probes: too few to bound a rate of 1e-3).

Check: the tables are measured on DB1_B's 10 fingers and checked on DB4_B's 10 other
fingers (a different, synthetic sensor) and their imitations: for each stratum, how many
impostor comparisons reach the score at which the table predicts FMR 1e-3 (the possible band)
and 1e-2, against those rates, with a 95% Clopper-Pearson upper bound on the observed rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from mobileid.eval.bootstrap import RESAMPLES, bootstrap_calibration
from mobileid.eval.finger_contactless import conservative
from mobileid.eval.fingers import Enrolled, FingerEval
from mobileid.eval.tail import tail_bound
from mobileid.finger.nfiq import QUALITY_VERSION
from mobileid.finger.strata import POOR_SHARE, FingerStrata
from mobileid.scoring import Calibration, build_calibration

__all__ = ["ProbeScores", "check_strata", "genuine_reach", "measure_strata", "probe_scores"]

FloatArray = npt.NDArray[np.float64]
CHECK_FMRS = (1e-2, 1e-3)


@dataclass(frozen=True, eq=False)
class ProbeScores:
    """One evaluated set's impostor scores by probe (each pair twice) and genuine scores."""

    name: str
    impostor: FloatArray
    probe_quality: FloatArray  # of the probe of each impostor score
    genuine: FloatArray
    genuine_quality: FloatArray  # the lower quality of each genuine pair
    qualities: FloatArray  # every enrolled print's
    probe_finger: npt.NDArray[np.int64]  # the finger of each impostor score's probe
    other_finger: npt.NDArray[np.int64]  # and of the print it was compared with
    genuine_pairs: int = 0  # every genuine pair of the protocol, a refused print's included


def probe_scores(name: str, enrolled: list[Enrolled], result: FingerEval) -> ProbeScores:
    """Pair ``result``'s scores with their prints' qualities, in ``evaluate``'s pair order."""
    q = [e.template.quality if e.template else math.nan for e in enrolled]
    probe_q: list[float] = []
    gen_q: list[float] = []
    fingers: list[int] = []
    n = len(enrolled)
    for i in range(n):
        for j in range(i + 1, n):
            fi, fj = enrolled[i].file.finger, enrolled[j].file.finger
            if fi == fj:
                gen_q.append(min(q[i], q[j]))
            else:
                probe_q.extend((q[i], q[j]))
                fingers.extend((fi, fj))
    imp = np.repeat(result.impostor_all, 2)
    keep = np.isfinite(imp)
    gen = np.isfinite(result.genuine)
    return ProbeScores(
        name,
        imp[keep],
        np.asarray(probe_q)[keep],
        result.genuine[gen],
        np.asarray(gen_q)[gen],
        np.asarray([x for x in q if not math.isnan(x)]),
        np.asarray(fingers, dtype=np.int64)[keep],
        np.asarray(fingers, dtype=np.int64).reshape(-1, 2)[:, ::-1].ravel()[keep],
        int(result.genuine.size),
    )


def _merge_max(
    base: Calibration, others: Sequence[Calibration], dataset: str, genuine_count: int
) -> Calibration:
    """At every score of any table, the largest of their rates; ``base``'s resolution."""
    tables = (base, *others)
    grid = np.unique(np.concatenate([t.scores for t in tables]))
    fmrs = np.max([[t.fmr(s) for s in grid] for t in tables], axis=0)
    fmrs = np.maximum.accumulate(fmrs[::-1])[::-1]
    # Above the table the rate is 1/impostor_count: the last bound, rounded to a count.
    count = min(base.impostor_count, math.ceil(1.0 / fmrs[-1] - 1e-9))
    return Calibration(
        base.matcher,
        dataset,
        tuple(float(s) for s in grid),
        tuple(float(f) for f in fmrs),
        count,
        genuine_count,
    )


def _bound(d: ProbeScores, keep: npt.NDArray[np.bool_], matcher: str) -> Calibration:
    """The finger-bootstrap 95% upper bound of the rate over ``d``'s comparisons in ``keep``;
    in the far tail, of a generalised Pareto tail (:mod:`mobileid.eval.tail`)."""
    imp, a, b = d.impostor[keep], d.probe_finger[keep], d.other_finger[keep]
    empirical = bootstrap_calibration(imp, a, b, 0, matcher=matcher, dataset=d.name)
    return tail_bound(imp, a, b, empirical)


def _good_table(dev: list[ProbeScores], cut: float, pooled: Calibration) -> Calibration:
    """At every score the largest of the pooled rate and, for each development set (one
    sensor) apart, the finger-bootstrap 95% upper bound of its good probes' rate: a new
    sensor's good prints are held to the worst sensor seen, not to their mixture (pooled,
    the benign imitations diluted the harsh ones)."""
    keep = [d.probe_quality >= cut for d in dev]
    bounds = [_bound(d, k, pooled.matcher) for d, k in zip(dev, keep, strict=True) if k.any()]
    n = sum(int(k.sum()) for k in keep)
    gen = sum(int((d.genuine_quality >= cut).sum()) for d in dev)
    names = ", ".join(d.name for d in dev)
    return _merge_max(
        pooled,
        bounds,
        f"probe prints of quality >= {cut:g} ({QUALITY_VERSION}): at each score the largest "
        f"of the pooled rate ({pooled.dataset}) and, per sensor set, the 95% finger-bootstrap "
        f"upper bound ({RESAMPLES} resamples of the fingers) of that set's rate over its "
        f"impostor comparisons with a good probe ({n} in all: {names})",
        gen,
    )


def measure_strata(dev: list[ProbeScores], pooled: Calibration) -> FingerStrata:
    """The cut (``POOR_SHARE`` quantile of every development print's quality) and the tables."""
    cut = float(np.quantile(np.concatenate([d.qualities for d in dev]), POOR_SHARE))
    good = _good_table(dev, cut, pooled)
    poor = [d.probe_quality < cut for d in dev]
    imp = np.concatenate([d.impostor[k] for d, k in zip(dev, poor, strict=True)])
    ida = np.concatenate([d.probe_finger[k] for d, k in zip(dev, poor, strict=True)])
    idb = np.concatenate([d.other_finger[k] for d, k in zip(dev, poor, strict=True)])
    gen = sum(int((d.genuine_quality < cut).sum()) for d in dev)
    names = ", ".join(d.name for d in dev)
    # Pooled over the sets: one set holds too few poor probes to bound a rate of 1e-3.
    measured = conservative(build_calibration(imp, gen, matcher=pooled.matcher, dataset="poor"))
    boot = bootstrap_calibration(imp, ida, idb, gen, matcher=pooled.matcher, dataset="poor")
    table = _merge_max(
        good,
        [measured, boot],
        f"probe prints of quality < {cut:g} ({QUALITY_VERSION}): at each score the largest of "
        f"the good table's rate, the 95% Clopper-Pearson upper bound and the 95% "
        f"finger-bootstrap upper bound over {imp.size} impostor comparisons with a poor probe "
        f"({names})",
        gen,
    )
    return FingerStrata(pooled.matcher, QUALITY_VERSION, cut, good, table)


def _upper(k: int, n: int) -> float:
    return 1.0 if k >= n else float(stats.beta.ppf(0.95, k + 1, n - k))


def check_strata(strata: FingerStrata, test: list[ProbeScores]) -> dict[str, Any]:
    """Observed against predicted FMR per stratum on ``test`` (other fingers)."""
    out: dict[str, Any] = {"min_good_quality": strata.min_good_quality}
    q = np.concatenate([t.qualities for t in test])
    out["poor_share"] = float((q < strata.min_good_quality).mean())
    imp = np.concatenate([t.impostor for t in test])
    pq = np.concatenate([t.probe_quality for t in test])
    for name, cal in (("good", strata.good), ("poor", strata.poor)):
        scores = imp[(pq < strata.min_good_quality) == (name == "poor")]
        rows = []
        for f in CHECK_FMRS:
            if f < cal.resolution:
                continue
            t = cal.threshold(f)
            k = int((scores >= t).sum())
            n = int(scores.size)
            rows.append(
                {
                    "predicted": f,
                    "threshold": t,
                    "observed": k / n if n else math.nan,
                    "upper95": _upper(k, n) if n else math.nan,
                    "impostors": n,
                }
            )
        out[name] = rows
    return out


def genuine_reach(strata: FingerStrata, d: ProbeScores, fmr: float) -> float:
    """The share of ``d``'s genuine pairs whose score reaches the score at which the table of
    the pair's lower-quality print predicts ``fmr`` (a search by the poorer print of the two);
    a pair with a refused print counts as not reaching it, and so does every pair read from a
    table too small to show ``fmr`` (finer than its resolution: no score can reach it)."""
    if not d.genuine_pairs:
        return math.nan

    def threshold(table: Calibration) -> float:
        return table.threshold_or(fmr, math.inf)

    lines = {"good": threshold(strata.good), "poor": threshold(strata.poor)}
    reached = sum(
        int(score >= lines[strata.stratum(float(quality))])
        for score, quality in zip(d.genuine, d.genuine_quality, strict=True)
    )
    return reached / d.genuine_pairs
