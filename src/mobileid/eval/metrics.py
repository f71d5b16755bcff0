"""Evaluation metrics computed from similarity scores (higher = more alike).

Verification, at a threshold ``t`` (a comparison is accepted when its score is ``>= t``):

- FAR = FMR = fraction of impostor scores ``>= t``; FRR = FNMR = fraction of genuine scores
  ``< t``; TAR = 1 - FRR.
- A capture that failed to enrol is scored ``-inf``: a genuine pair with such a capture is
  rejected at every finite threshold, so it counts as a miss. ``nan`` and ``+inf`` are refused.

Open-set identification (NIST FRVT definitions, rank 1): a search returns the gallery ranked by
score. FPIR(t) is the fraction of non-mated searches whose top score is ``>= t``; FNIR(t) is the
fraction of mated searches whose mate is NOT both the rank-1 candidate and scored ``>= t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument

FloatArray = npt.NDArray[np.float64]


def roc(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(thresholds, far, frr)`` at every distinct score and just above the highest one.

    Thresholds ascend, so ``far`` falls from 1 to 0 and ``frr`` rises to 1. Both rates are step
    functions that change only at a score, so these points hold every (FAR, FRR) pair reachable.
    """
    gen, imp = np.sort(_scores("genuine", genuine)), np.sort(_scores("impostor", impostor))
    union = np.unique(np.concatenate([gen, imp]))
    thresholds = np.append(union, np.nextafter(union[-1], math.inf))
    far = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size
    frr = np.searchsorted(gen, thresholds, side="left") / gen.size
    return thresholds, far, frr


def eer(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> float:
    """Equal error rate: where FAR and FRR cross, interpolated linearly between ROC points."""
    _, far, frr = roc(genuine, impostor)
    d = far - frr  # non-increasing, from 1 down to -1
    i = int(np.argmax(d <= 0))
    if d[i] == 0 or i == 0:
        return float(far[i])
    a = d[i - 1] / (d[i - 1] - d[i])
    return float(far[i - 1] + a * (far[i] - far[i - 1]))


def tar_at_far(genuine: npt.ArrayLike, impostor: npt.ArrayLike, far: float) -> float:
    """The largest TAR over thresholds whose FAR is ``<= far``.

    With too few impostors to measure ``far`` (``far < 1/len(impostor)``), this is the TAR just
    above the highest impostor score (FAR 0): an optimistic figure, so report the impostor count.
    """
    target = _rate("far", far)
    _, far_c, frr_c = roc(genuine, impostor)
    return float(1.0 - frr_c[far_c <= target].min())


def fnmr_at_fmr(genuine: npt.ArrayLike, impostor: npt.ArrayLike, fmr: float) -> float:
    """The lowest FNMR with FMR ``<= fmr`` (FVC's FMR100 at 0.01 and FMR1000 at 0.001)."""
    target = _rate("fmr", fmr)
    _, far_c, frr_c = roc(genuine, impostor)
    return float(frr_c[far_c <= target].min())


def zero_fmr(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> float:
    """FVC's ZeroFMR: the lowest FNMR at which no impostor is accepted (FMR = 0)."""
    return fnmr_at_fmr(genuine, impostor, 0.0)


def best_accuracy(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> tuple[float, float]:
    """``(accuracy, threshold)`` maximising (TP + TN) / (all pairs).

    Any threshold between the chosen score and the next lower one classifies the same way; the
    midpoint is returned so that it generalises to unseen scores (the LFW protocol applies it to
    another fold). Ties go to the lowest threshold.
    """
    gen, imp = _scores("genuine", genuine), _scores("impostor", impostor)
    thresholds, far, frr = roc(gen, imp)
    correct = gen.size * (1.0 - frr) + imp.size * (1.0 - far)
    k = int(np.argmax(correct))
    t = float(thresholds[k])
    if 0 < k < thresholds.size - 1 and math.isfinite(thresholds[k - 1]):
        t = float((thresholds[k - 1] + thresholds[k]) / 2.0)
    return float(correct[k] / (gen.size + imp.size)), t


def kfold_accuracy(
    scores: npt.ArrayLike, is_genuine: npt.ArrayLike, folds: npt.ArrayLike
) -> tuple[float, float, FloatArray]:
    """LFW protocol: ``(mean, std, per_fold)`` accuracy over the folds.

    For each fold the threshold is the :func:`best_accuracy` threshold of the other folds, and
    the accuracy is that of this fold's pairs at it. ``std`` is the population standard
    deviation (ddof=0) of the per-fold accuracies.
    """
    s = _scores("scores", scores)
    truth = np.asarray(is_genuine, dtype=bool).ravel()
    fold = np.asarray(folds).ravel()
    if truth.size != s.size or fold.size != s.size:
        raise InvalidArgument(
            f"is_genuine, folds: expected {s.size} values each (one per score), "
            f"got {truth.size} and {fold.size}",
            field="folds",
        )
    ids = np.unique(fold)
    if ids.size < 2:
        raise InvalidArgument(
            f"folds: expected >= 2 distinct fold ids, got {ids.size}", field="folds"
        )
    per_fold = np.empty(ids.size)
    for j, fid in enumerate(ids):
        train, test = fold != fid, fold == fid
        if truth[train].all() or not truth[train].any():
            raise InvalidArgument(
                f"folds: expected genuine and impostor pairs outside fold {fid}, got one kind",
                field="folds",
            )
        _, t = best_accuracy(s[train & truth], s[train & ~truth])
        per_fold[j] = np.mean((s[test] >= t) == truth[test])
    return float(per_fold.mean()), float(per_fold.std()), per_fold


@dataclass(frozen=True, eq=False)
class IdentificationMetrics:
    """Open-set identification results (module docstring: FPIR, FNIR at rank 1).

    ``mated_top``: per mated search, the mate's score when the mate is the rank-1 candidate,
    else ``-inf`` (a miss at every threshold; a failed enrolment is one too). ``nonmated_top``:
    per non-mated search, its top score (``-inf`` when it returned nothing). ``cmc[r-1]``: the
    fraction of mated searches whose mate is within rank ``r``; ties with the mate rank ahead of
    it, so ties never help. ``threshold_at_fpir[f]`` is the threshold that gave
    ``fnir_at_fpir[f]``: the smallest with FPIR ``<= f``.
    """

    rank1: float
    cmc: FloatArray
    fnir_at_fpir: dict[float, float]
    threshold_at_fpir: dict[float, float]
    mated_top: FloatArray
    nonmated_top: FloatArray
    gallery_size: int

    @property
    def mated_probes(self) -> int:
        return int(self.mated_top.size)

    @property
    def nonmated_probes(self) -> int:
        return int(self.nonmated_top.size)

    def fpir(self, threshold: float) -> float:
        """Fraction of non-mated searches whose top score is ``>= threshold``."""
        return float(np.mean(self.nonmated_top >= threshold))

    def fnir(self, threshold: float) -> float:
        """Fraction of mated searches not returning the mate at rank 1 scored ``>= threshold``."""
        return _fnir(self.mated_top, threshold)

    def det_curve(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(thresholds, fpir, fnir)`` at every distinct finite top score and just above."""
        tops = np.concatenate([self.mated_top, self.nonmated_top])
        union = np.unique(tops[np.isfinite(tops)])
        if union.size == 0:
            union = np.zeros(1)
        thresholds = np.append(union, np.nextafter(union[-1], math.inf))
        nm = np.sort(self.nonmated_top)
        fpir = (nm.size - np.searchsorted(nm, thresholds, side="left")) / nm.size
        hits = np.sort(self.mated_top[np.isfinite(self.mated_top)])
        found = hits.size - np.searchsorted(hits, thresholds, side="left")
        fnir = 1.0 - found / self.mated_top.size
        return thresholds, fpir, fnir


def identification_metrics(
    scores: npt.ArrayLike,
    mate: npt.ArrayLike,
    fpir_points: tuple[float, ...] = (0.01, 0.001),
    max_rank: int = 20,
) -> IdentificationMetrics:
    """Rank-1 rate, CMC and FNIR at FPIR from a probe × gallery similarity matrix.

    ``mate[p]`` is the gallery column of probe ``p``'s mate, or -1 for a non-mated probe. A
    probe that failed to enrol is a row of ``-inf``. For each ``f`` in ``fpir_points`` the
    threshold is the smallest with FPIR ``<= f`` (just above the ``floor(f*N)+1``-th highest
    non-mated top score, for N non-mated searches).
    """
    sim, mates = _matrix(scores, mate)
    if max_rank < 1:
        raise InvalidArgument(f"max_rank: expected >= 1, got {max_rank}", field="max_rank")
    is_mated = mates >= 0
    rows = np.flatnonzero(is_mated)
    mate_score = sim[rows, mates[rows]]
    # Ties rank ahead of the mate; a -inf mate score (failed enrolment) is never found.
    rank = np.where(np.isfinite(mate_score), (sim[rows] >= mate_score[:, None]).sum(1), np.inf)
    cmc = np.array([np.mean(rank <= r) for r in range(1, max_rank + 1)])
    mated_top = np.where(rank == 1, mate_score, -np.inf)
    nonmated_top = sim[~is_mated].max(axis=1)
    thresholds = {
        float(f): _threshold_at_fpir(nonmated_top, _rate("fpir_points", f)) for f in fpir_points
    }
    return IdentificationMetrics(
        rank1=float(cmc[0]),
        cmc=cmc,
        fnir_at_fpir={f: _fnir(mated_top, t) for f, t in thresholds.items()},
        threshold_at_fpir=thresholds,
        mated_top=mated_top,
        nonmated_top=nonmated_top,
        gallery_size=int(sim.shape[1]),
    )


def _fnir(mated_top: FloatArray, threshold: float) -> float:
    hit = np.isfinite(mated_top) & (mated_top >= threshold)
    return float(1.0 - np.mean(hit))


def _threshold_at_fpir(nonmated_top: FloatArray, fpir: float) -> float:
    """Smallest threshold with at most ``floor(fpir*N)`` non-mated top scores ``>=`` it."""
    n = nonmated_top.size
    allowed = math.floor(fpir * n)
    while (allowed + 1) / n <= fpir:  # guard the float product (0.29 * 100 = 28.99...)
        allowed += 1
    if allowed >= n:
        return -math.inf
    desc = np.sort(nonmated_top)[::-1]
    return float(np.nextafter(desc[allowed], math.inf))


def _scores(name: str, values: npt.ArrayLike) -> FloatArray:
    """A non-empty 1-D float array; ``-inf`` (failed enrolment) allowed, ``nan``/``+inf`` not."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise InvalidArgument(f"{name}: expected at least one score, got none", field=name)
    bad = np.isnan(a) | (a == math.inf)
    if bad.any():
        raise InvalidArgument(
            f"{name}: expected finite scores or -inf (failed enrolment), "
            f"got {int(bad.sum())} nan/+inf",
            field=name,
        )
    return a


def _rate(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InvalidArgument(f"{name}: expected a rate in [0, 1], got {value!r}", field=name)
    return v


def _matrix(scores: npt.ArrayLike, mate: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    sim = np.asarray(scores, dtype=np.float64)
    mates = np.asarray(mate).astype(np.int64).ravel()
    if sim.ndim != 2 or sim.shape[1] == 0 or sim.shape[0] != mates.size:
        raise InvalidArgument(
            f"scores: expected a (probes, gallery) matrix with one row per mate entry "
            f"({mates.size}), got shape {sim.shape}",
            field="scores",
        )
    _scores("scores", sim)
    if np.any((mates < -1) | (mates >= sim.shape[1])):
        raise InvalidArgument(
            f"mate: expected a gallery column in [0, {sim.shape[1] - 1}] or -1, "
            f"got {sorted(set(mates[(mates < -1) | (mates >= sim.shape[1])].tolist()))[:5]}",
            field="mate",
        )
    if not (mates >= 0).any() or (mates >= 0).all():
        raise InvalidArgument(
            f"mate: expected mated and non-mated probes, got {int((mates >= 0).sum())} mated "
            f"of {mates.size}",
            field="mate",
        )
    return sim, mates
