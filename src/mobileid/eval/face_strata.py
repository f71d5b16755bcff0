"""Measuring and checking the quality-dependent face calibration (``mobileid.face.strata``).

:func:`calibrate_strata` measures one table per probe stratum: the impostor comparisons are
taken as ordered (probe, reference) pairs, each unordered pair once per end, and a stratum
keeps those whose probe capture is in it. :func:`split_strata` checks on identity-disjoint
splits whether each stratum's band keeps its promise on new people, beside the pooled table
read for the same searches: for every non-mated search, the stratum of the probe (by the cuts
of the development identities), whether its best score reaches each band's threshold under
either calibration, against the prediction gallery × bound.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.eval.bootstrap import RESAMPLES
from mobileid.eval.faces import EmbeddedSet, calibrate, genuine_pairs, impostor_pairs
from mobileid.eval.open_set import open_set_split
from mobileid.eval.splits import Prepare, clopper_pearson_upper, identity_splits, subset
from mobileid.eval.tail import TailModel, bootstrap_tail
from mobileid.face.strata import POOR_SHARE, STRATA, QualityCuts, StratifiedCalibration
from mobileid.scoring import Calibration, build_calibration

BANDS = ("strong", "possible")


def quality_cuts(data: EmbeddedSet, share: float = POOR_SHARE) -> QualityCuts:
    """Each measure's ``share`` quantile on its bad side, over the captures that enrolled."""
    qs = [q for q, ok in zip(_qualities(data), data.ok, strict=True) if ok and q is not None]
    if len(qs) < 20:
        raise InvalidArgument(
            f"root: expected 20 or more measured captures to place quality cuts, got {len(qs)}",
            field="root",
        )
    return QualityCuts(
        min_inter_eye_px=float(np.quantile([q.inter_eye_px for q in qs], share)),
        min_sharpness=float(np.quantile([q.sharpness for q in qs], share)),
        max_abs_yaw=float(np.quantile([abs(q.yaw) for q in qs], 1.0 - share)),
    )


def strata_of(data: EmbeddedSet, cuts: QualityCuts) -> npt.NDArray[np.int64]:
    """Per image, the index in ``STRATA`` of its stratum; -1 where it was not measured."""
    return np.array(
        [-1 if q is None else STRATA.index(cuts.stratum(q)) for q in _qualities(data)],
        dtype=np.int64,
    )


def calibrate_strata(
    data: EmbeddedSet,
    dataset: str,
    *,
    resamples: int | None = RESAMPLES,
    cuts: QualityCuts | None = None,
    tail: TailModel | None = None,
) -> StratifiedCalibration:
    """One table per probe stratum (module docstring), each by :func:`calibrate`'s method."""
    cuts = cuts or quality_cuts(data)
    stratum = strata_of(data, cuts)
    a, b = impostor_pairs(data.identity)
    keep = data.ok[a] & data.ok[b]
    a, b = a[keep], b[keep]
    # a score normalised on the probe side depends on which end is the probe
    as_probe_a, as_probe_b = data.scores(a, b), data.scores(b, a)
    ga, gb = genuine_pairs(data.identity)
    tables = []
    for k, name in enumerate(STRATA):
        probe_a, probe_b = stratum[a] == k, stratum[b] == k
        scores = np.concatenate([as_probe_a[probe_a], as_probe_b[probe_b]])
        ids_p = data.identity[np.concatenate([a[probe_a], b[probe_b]])]
        ids_r = data.identity[np.concatenate([b[probe_a], a[probe_b]])]
        genuine = int(
            np.sum((stratum[ga] == k) & data.ok[gb]) + np.sum((stratum[gb] == k) & data.ok[ga])
        )
        if scores.size == 0:
            raise InvalidArgument(
                f"root: expected captures in stratum {name!r}, got none", field="root"
            )
        label = f"{dataset}; probe stratum {name}"
        if resamples is None:
            cal = build_calibration(scores, genuine, matcher=data.pipeline_id, dataset=label)
        else:
            cal = bootstrap_tail(
                scores,
                ids_p,
                ids_r,
                genuine,
                matcher=data.pipeline_id,
                dataset=label,
                resamples=resamples,
                tail=tail,
            )
        tables.append((name, cal))
    return StratifiedCalibration(matcher=data.pipeline_id, cuts=cuts, tables=tuple(tables))


def _thresholds(cal: Calibration, bands: tuple[float, float]) -> list[float]:
    return [cal.threshold_or(f, math.inf) for f in bands]


def _one_split(
    dev: EmbeddedSet,
    test: EmbeddedSet,
    bands: tuple[float, float],
    resamples: int | None,
    tail: TailModel | None,
) -> dict[str, np.ndarray]:
    """Per stratum and calibration ("pooled", "strata"): searches, band events (non-mated
    searches reaching the band) and mated misses (mate below the band or not first)."""
    pooled = calibrate(dev, "split", resamples=resamples, tail=tail)
    strata = calibrate_strata(dev, "split", resamples=resamples, tail=tail)
    gallery, probes, mate = open_set_split(test.identity)
    sim = test.search_scores(probes, gallery)
    top = sim.max(axis=1)
    rows = np.arange(probes.size)
    mate_score = np.where(mate >= 0, sim[rows, np.maximum(mate, 0)], -np.inf)
    mate_first = (mate >= 0) & (mate_score >= top)
    stratum = strata_of(test, strata.cuts)[probes]
    thr = {
        "pooled": [_thresholds(pooled, bands)] * len(STRATA),
        "strata": [_thresholds(strata.table(n), bands) for n in STRATA],
    }
    n = len(STRATA)
    out = {"searches": np.zeros((n, 2), np.int64), "gallery": np.array([gallery.size])}
    for kind, per in thr.items():
        events = np.zeros((n, len(BANDS)), np.int64)
        misses = np.zeros((n, len(BANDS)), np.int64)
        for k in range(n):
            nm, mt = (stratum == k) & (mate < 0), (stratum == k) & (mate >= 0)
            out["searches"][k] = nm.sum(), mt.sum()
            for j, t in enumerate(per[k]):
                events[k, j] = int(np.sum(top[nm] >= t))
                misses[k, j] = int(np.sum(~(mate_first[mt] & (mate_score[mt] >= t))))
        out[f"{kind}_events"], out[f"{kind}_misses"] = events, misses
    return out


def split_strata(
    data: EmbeddedSet,
    bands: tuple[float, float],
    *,
    splits: int,
    seed: int,
    resamples: int | None = 100,
    prepare: Prepare | None = None,
    tail: TailModel | None = None,
) -> dict:
    """Per stratum, pooled over ``splits`` identity-disjoint splits: band FPIR observed (95%
    upper bound) under the pooled and the stratified calibration beside the prediction, and
    the share of mated searches whose mate is not first in the band (FNIR at the band)."""
    runs = []
    for in_dev in identity_splits(data.identity, splits, seed):
        dev, test = subset(data, np.flatnonzero(in_dev)), subset(data, np.flatnonzero(~in_dev))
        if prepare is not None:  # e.g. the cohort normalisation: scores as the service reads them
            dev, test = prepare(dev, test)
        runs.append(_one_split(dev, test, bands, resamples, tail))
    total = {k: np.sum([r[k] for r in runs], axis=0) for k in runs[0]}
    predicted = [float(np.mean([r["gallery"][0] for r in runs]) * f) for f in bands]
    out: dict = {"splits": splits, "seed": seed, "strata": {}}
    for k, name in enumerate(STRATA):
        nonmated, mated = (int(x) for x in total["searches"][k])
        row: dict = {"nonmated_searches": nonmated, "mated_searches": mated}
        for j, band in enumerate(BANDS):
            row[f"{band}_fpir_predicted"] = min(1.0, predicted[j])
            for kind in ("pooled", "strata"):
                ev = int(total[f"{kind}_events"][k, j])
                row[f"{band}_fpir_{kind}"] = ev / nonmated if nonmated else None
                row[f"{band}_fpir_{kind}_upper95"] = clopper_pearson_upper(ev, nonmated)
                miss = int(total[f"{kind}_misses"][k, j])
                row[f"{band}_fnir_{kind}"] = miss / mated if mated else None
        out["strata"][name] = row
    return out


def _qualities(data: EmbeddedSet) -> tuple:
    if len(data.qualities) != len(data.paths):
        raise InvalidArgument(
            "data: expected quality measures for every image (embed with need_quality), got "
            f"{len(data.qualities)} of {len(data.paths)}",
            field="data",
        )
    return data.qualities
