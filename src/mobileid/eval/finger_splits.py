"""Check the finger strata construction on fingers and a sensor it was not fitted on.

One split draws ``fit_fingers`` of the development set's fingers; for each imitated sensor in
turn (held out), the strata are measured (:func:`mobileid.eval.finger_strata.measure_strata`)
on the other sets' comparisons among the drawn fingers (the pooled table from the first set,
as captured) and checked on the held-out set's comparisons among the remaining fingers: no
finger and no sensor of the check was seen by the fit. Each held-out sensor's figures are
summed over the splits, with a 95% Clopper-Pearson upper bound on the observed rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.eval.finger_strata import (
    CHECK_FMRS,
    ProbeScores,
    _upper,
    check_strata,
    measure_strata,
)
from mobileid.finger.strata import FingerStrata
from mobileid.scoring import Calibration, build_calibration

__all__ = ["SplitRow", "draw_splits", "split_check", "split_table", "subset"]

SPLIT_SEED = 7
Measure = Callable[[list[ProbeScores], Calibration], FingerStrata]


@dataclass(frozen=True)
class SplitRow:
    """One held-out sensor at one predicted rate, summed over the splits (good probes)."""

    held_out: str
    predicted: float
    impostors: int
    false_matches: int
    upper95: float
    unresolved: int  # splits whose table could not reach ``predicted`` (too few impostors)

    @property
    def observed(self) -> float:
        return self.false_matches / self.impostors if self.impostors else float("nan")


def subset(d: ProbeScores, fingers: npt.ArrayLike) -> ProbeScores:
    """``d``'s impostor comparisons between two of ``fingers`` (both prints of a pair stay)."""
    keep = np.isin(d.probe_finger, fingers) & np.isin(d.other_finger, fingers)
    return replace(
        d,
        impostor=d.impostor[keep],
        probe_quality=d.probe_quality[keep],
        probe_finger=d.probe_finger[keep],
        other_finger=d.other_finger[keep],
    )


def draw_splits(
    fingers: npt.ArrayLike, splits: int, fit_fingers: int, seed: int = SPLIT_SEED
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """``splits`` random (fit, check) partitions of ``fingers``, ``fit_fingers`` to fit."""
    rng = np.random.default_rng(seed)
    all_fingers = np.unique(np.asarray(fingers, dtype=np.int64))
    out = []
    for _ in range(splits):
        fit = np.sort(rng.choice(all_fingers, fit_fingers, replace=False))
        out.append((fit, np.setdiff1d(all_fingers, fit)))
    return out


def split_check(
    dev: list[ProbeScores],
    *,
    splits: int,
    fit_fingers: int,
    matcher: str,
    measure: Measure = measure_strata,
    seed: int = SPLIT_SEED,
) -> list[SplitRow]:
    """Rows per held-out set (``dev[1:]``; ``dev[0]`` gives the pooled table) and rate."""
    fingers = np.unique(dev[0].probe_finger)
    if splits < 1 or len(dev) < 3 or not 1 < fit_fingers < fingers.size - 1:
        raise InvalidArgument(
            f"splits, fit_fingers: expected >= 1 splits of 2..{fingers.size - 2} fingers over "
            f">= 3 sets, got {splits} of {fit_fingers} over {len(dev)}",
            field="splits",
        )
    sums: dict[tuple[str, float], list[int]] = {}
    for fit, rest in draw_splits(fingers, splits, fit_fingers, seed):
        for held in dev[1:]:
            sets = [subset(d, fit) for d in dev if d is not held]
            # Every pair is in the impostor scores twice, once for each print as probe.
            pooled = build_calibration(sets[0].impostor[::2], 1, matcher=matcher, dataset="fit")
            strata = measure(sets, pooled)
            check = check_strata(strata, [subset(held, rest)])["good"]
            for f in CHECK_FMRS:
                row = next((r for r in check if r["predicted"] == f), None)
                acc = sums.setdefault((held.name, f), [0, 0, 0])
                if row is None:
                    acc[2] += 1
                    continue
                acc[0] += row["impostors"]
                acc[1] += round(row["observed"] * row["impostors"])
    for f in CHECK_FMRS:  # every held-out set together: a bound tight enough to test 1e-3
        acc = [sum(v[i] for (_, g), v in sums.items() if g == f) for i in range(3)]
        sums[("~ every held-out set", f)] = acc
    return [
        SplitRow(name, f, n, k, _upper(k, n) if n else float("nan"), u)
        for (name, f), (n, k, u) in sorted(sums.items())
    ]


def split_table(rows: list[SplitRow]) -> str:
    """``rows`` as a fixed-width text table, one line a held-out set and rate."""
    out = [
        f"{'held out':<24} {'predicted':>9} {'observed':>9} {'upper95':>9} "
        f"{'false/impostors':>16} {'over':>4} {'unresolved':>10}"
    ]
    for r in rows:
        over = "yes" if r.observed > r.predicted else "no"
        out.append(
            f"{r.held_out:<24} {r.predicted:>9.0e} {r.observed:>9.2e} {r.upper95:>9.2e} "
            f"{f'{r.false_matches}/{r.impostors}':>16} {over:>4} {r.unresolved:>10}"
        )
    return "\n".join(out)
