"""Which gallery subjects attract false candidates, and how unevenly.

A band that holds on average can still fail for part of the population: a gallery face that
resembles many people becomes a false candidate in many searches. For each threshold this
counts, per gallery subject, the searches in which it was a false candidate (a probe of
someone else scoring ``>=`` the threshold against it, at any rank: an officer sees the whole
list), and sets the worst subjects beside the average.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

WORST = 10


def false_candidates_by_subject(
    sim: npt.NDArray[np.float64],
    mate: npt.NDArray[np.int64],
    names: list[str],
    thresholds: dict[str, float],
    worst: int = WORST,
) -> dict[str, dict]:
    """Per threshold: false candidates in all, subjects that drew any, the per-subject rate
    (false candidacies / searches) on average and at worst, the share drawn by the worst 1% of
    subjects, and the ``worst`` subjects by name. ``sim`` is probes × gallery, ``mate`` the
    mate's column or -1, ``names`` one per gallery column."""
    false = np.array(sim, dtype=np.float64, copy=True)
    rows = np.flatnonzero(mate >= 0)
    false[rows, mate[rows]] = -np.inf  # a mate is never a false candidate
    searches = false.shape[0]
    out: dict[str, dict] = {}
    for label, t in thresholds.items():
        hits = (false >= t).sum(axis=0) if math.isfinite(t) else np.zeros(false.shape[1], int)
        out[label] = _summary(hits, searches, names, t, worst)
    return out


def _summary(
    hits: npt.NDArray[np.int64], searches: int, names: list[str], t: float, worst: int
) -> dict:
    total = int(hits.sum())
    order = np.argsort(-hits, kind="stable")
    top1pct = max(1, math.ceil(0.01 * hits.size))
    rate = hits / max(searches, 1)
    mean = float(rate.mean()) if hits.size else 0.0
    return {
        "threshold": t,
        "false_candidates": total,
        "subjects_hit": int((hits > 0).sum()),
        "mean_rate": mean,
        "max_rate": float(rate.max()) if hits.size else 0.0,
        "max_over_mean": float(rate.max() / mean) if mean > 0 else None,
        "worst_1pct_share": float(hits[order[:top1pct]].sum() / total) if total else None,
        "worst": [
            {"subject": names[c], "false_candidates": int(hits[c]), "rate": float(rate[c])}
            for c in order[:worst]
            if hits[c] > 0
        ],
    }
