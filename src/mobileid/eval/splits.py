"""Identity-disjoint splits: calibrate on some people, search for the others, many times.

A calibration measured on the people it is then tested on hides what matters in the field:
how the bands behave on strangers. Each split draws a ``dev_fraction`` of the identities at
random (seeded); everything learned (the linear adaptation, when the pipeline has one, and the
calibration) is learned on their images only, and the open-set protocol runs on the images of
the other identities. Reported, averaged over splits: rank-1 and FNIR at FPIR 0.01 / 0.001;
pooled over splits: band FPIR observed (with a one-sided 95% Clopper-Pearson upper bound)
beside the prediction, and the per-comparison false-match rate on the new people at each
band's threshold beside the band's bound. The same search can appear in several splits, so the
pooled bounds are narrower than independent data would give: read them with the per-split
counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.stats import beta  # type: ignore[import-untyped]

from mobileid.errors import InvalidArgument
from mobileid.eval.faces import EmbeddedSet, calibrate, identify, impostor_pairs
from mobileid.eval.metrics import kfold_accuracy
from mobileid.eval.open_set import NON_MATED
from mobileid.eval.tail import TailModel
from mobileid.scoring import Calibration

BANDS = ("strong", "possible")
Calibrate = Callable[[EmbeddedSet], Calibration]
# what is learned on a split's development half and applied to both halves before the
# calibration and the search (the cohort normalisation); returns (dev, test)
Prepare = Callable[[EmbeddedSet, EmbeddedSet], tuple[EmbeddedSet, EmbeddedSet]]


def clopper_pearson_upper(events: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a binomial rate (exact, Clopper-Pearson)."""
    if trials <= 0 or events >= trials:
        return 1.0
    return float(beta.ppf(confidence, events + 1, trials - events))


def subset(data: EmbeddedSet, images: npt.NDArray[np.int64]) -> EmbeddedSet:
    """The images ``images`` of ``data``, identities renumbered from 0 in order."""
    kept, identity = np.unique(data.identity[images], return_inverse=True)
    return replace(
        data,
        paths=[data.paths[i] for i in images],
        identity=identity.astype(np.int64),
        names=[data.names[k] for k in kept],
        vectors=data.vectors[images],
        ok=data.ok[images],
        qualities=tuple(data.qualities[i] for i in images) if data.qualities else (),
        offsets=None
        if data.offsets is None
        else (data.offsets[0][images], data.offsets[1][images]),
    )


@dataclass(frozen=True)
class SplitCounts:
    """One split's figures: identification metrics and the events behind the band checks."""

    metrics: dict
    fpir_events: dict[str, int]
    fmr_events: dict[str, int]
    impostor_pairs: int


def identity_splits(
    identity: npt.NDArray[np.int64], splits: int, seed: int, dev_fraction: float = 0.5
) -> list[npt.NDArray[np.bool_]]:
    """Per split, which images belong to the development identities (the rest are tested)."""
    if splits < 1:
        raise InvalidArgument(f"splits: expected >= 1, got {splits}", field="splits")
    if not 0.1 <= dev_fraction <= 0.9:
        raise InvalidArgument(
            f"dev_fraction: expected 0.1..0.9, got {dev_fraction!r}", field="dev_fraction"
        )
    rng = np.random.default_rng(seed)
    people = np.unique(identity)
    take = round(dev_fraction * people.size)
    return [np.isin(identity, rng.permutation(people)[:take]) for _ in range(splits)]


def split_identify(
    data: EmbeddedSet,
    calibrate: Calibrate,
    bands: tuple[float, float],
    *,
    splits: int,
    seed: int,
    dev_fraction: float = 0.5,
    prepare: Prepare | None = None,
    distractors: bool = False,
) -> dict:
    """Run ``splits`` identity-disjoint splits and aggregate them (module docstring); with
    ``distractors``, the same searches again with each tested half's one-image people enrolled
    too, read with the same calibration (``singletons_enrolled``)."""
    runs, wide = [], []
    for in_dev in identity_splits(data.identity, splits, seed, dev_fraction):
        dev = subset(data, np.flatnonzero(in_dev))
        test = subset(data, np.flatnonzero(~in_dev))
        if prepare is not None:
            dev, test = prepare(dev, test)
        cal = calibrate(dev)
        runs.append(_one_split(test, cal, bands))
        if distractors:
            wide.append(_one_split(test, cal, bands, distractors=True))
    out = _aggregate(runs, bands, splits, seed, dev_fraction)
    if distractors:
        out["singletons_enrolled"] = _aggregate(wide, bands, splits, seed, dev_fraction)
        out["singletons_enrolled"]["nonmated_searches"] = NON_MATED
    return out


def _one_split(
    test: EmbeddedSet, cal: Calibration, bands: tuple[float, float], distractors: bool = False
) -> SplitCounts:
    metrics, ident = identify(test, cal, bands, distractors=distractors)
    a, b = impostor_pairs(test.identity)
    imp = test.scores(a, b)
    fpir_events, fmr_events = {}, {}
    for name in BANDS:
        t = metrics["band_thresholds"][name]
        fpir_events[name] = int(np.sum(ident.nonmated_top >= t))
        fmr_events[name] = int(np.sum(imp >= t))
    return SplitCounts(metrics, fpir_events, fmr_events, int(imp.size))


def _aggregate(
    runs: list[SplitCounts], bands: tuple[float, float], splits: int, seed: int, frac: float
) -> dict:
    def mean(key: str) -> float:
        return float(np.mean([r.metrics[key] for r in runs]))

    searches = [r.metrics["nonmated_probes"] for r in runs]
    n_searches, n_pairs = sum(searches), sum(r.impostor_pairs for r in runs)
    out: dict = {
        "splits": splits,
        "seed": seed,
        "dev_fraction": frac,
        "rank1": mean("rank1"),
        "rank1_std": float(np.std([r.metrics["rank1"] for r in runs])),
        "fnir_at_fpir_0.01": mean("fnir_at_fpir_0.01"),
        "fnir_at_fpir_0.001": mean("fnir_at_fpir_0.001"),
        "gallery_size": mean("gallery_size"),
        "nonmated_probes": n_searches,
        "band_fpir": {},
        "band_fpir_upper95": {},
        "band_fpir_predicted": {},
        "band_fpir_events": {},
        "splits_above_prediction": {},
        "band_fmr_new_people": {},
        "band_fmr_upper95": {},
        "band_fmr_bound": {},
    }
    for name, bound in zip(BANDS, bands, strict=True):
        events = sum(r.fpir_events[name] for r in runs)
        predicted = [r.metrics["band_fpir_predicted"][name] for r in runs]
        observed = [r.metrics["band_fpir"][name] for r in runs]
        out["band_fpir"][name] = events / n_searches
        out["band_fpir_upper95"][name] = clopper_pearson_upper(events, n_searches)
        out["band_fpir_predicted"][name] = float(np.dot(predicted, searches) / n_searches)
        out["band_fpir_events"][name] = [r.fpir_events[name] for r in runs]
        out["splits_above_prediction"][name] = int(
            sum(o > p for o, p in zip(observed, predicted, strict=True))
        )
        fmr_events = sum(r.fmr_events[name] for r in runs)
        out["band_fmr_new_people"][name] = fmr_events / n_pairs
        out["band_fmr_upper95"][name] = clopper_pearson_upper(fmr_events, n_pairs)
        out["band_fmr_bound"][name] = bound
    worst = [r.metrics["false_candidates_by_subject"]["fpir_0.01"] for r in runs]
    out["false_candidates_at_fpir_0.01"] = {
        "max_over_mean": _mean_of(w["max_over_mean"] for w in worst),
        "worst_1pct_share": _mean_of(w["worst_1pct_share"] for w in worst),
        "subjects_hit": _mean_of(w["subjects_hit"] for w in worst),
    }
    out["concentration"] = {
        f"{searches}_{line}": pooled_concentration([r.metrics[key][line] for r in runs])
        for searches, key in (
            ("all", "false_candidates_by_subject"),
            ("nonmated", "false_candidates_nonmated"),
        )
        for line in ("fpir_0.01", *BANDS)
    }
    return out


def pooled_concentration(per_split: list[dict]) -> dict:
    """Pooled over splits: false candidates in all, the worst subject's count (the largest
    over splits, and on average), its share of its split's false candidates, and how many
    subjects drew any (on average)."""
    tops = [s["worst"][0]["false_candidates"] if s["worst"] else 0 for s in per_split]
    totals = [s["false_candidates"] for s in per_split]
    return {
        "false_candidates": int(sum(totals)),
        "worst_subject_max": int(max(tops)),
        "worst_subject_mean": float(np.mean(tops)),
        "worst_subject_share": _mean_of(t / n for t, n in zip(tops, totals, strict=True) if n),
        "subjects_hit_mean": float(np.mean([s["subjects_hit"] for s in per_split])),
    }


def _mean_of(values: object) -> float | None:
    got = [float(v) for v in values if v is not None]  # type: ignore[attr-defined]
    return float(np.mean(got)) if got else None


def split_report(
    data: EmbeddedSet,
    bands: tuple[float, float],
    splits: int,
    seed: int,
    resamples: int | None,
    prepare: Prepare | None = None,
    tail: TailModel | None = None,
    distractors: bool = False,
) -> dict:
    """:func:`split_identify` with the shipped method: each split's calibration is measured on
    its development identities the way ``eval faces calibrate`` measures the shipped one (with
    ``tail``, the GPD tail bound as well: ``mobileid.eval.tail``)."""

    def cal(dev: EmbeddedSet) -> Calibration:
        return calibrate(dev, "development identities of the split", resamples=resamples, tail=tail)

    out = split_identify(
        data, cal, bands, splits=splits, seed=seed, prepare=prepare, distractors=distractors
    )
    out["calibration"] = (
        f"identity-bootstrap 95% upper bound ({resamples} resamples)"
        if resamples
        else "in-sample empirical curve"
    )
    if tail is not None and resamples:
        out["calibration"] += f"; GPD tail (top {tail.top:g}, above {tail.few} scores)"
    return out


def split_verify(data: EmbeddedSet, *, folds: int = 10, per_fold: int = 300, seed: int) -> dict:
    """Verification the way LFW's View 2 measures it, on identity-disjoint folds of ``data``:
    each fold holds ``per_fold`` genuine pairs (a random person with two or more images,
    then two of their images) and ``per_fold`` impostor pairs (two images of two random people
    of the fold); each fold's threshold is the best one on the other folds."""
    if folds < 2:
        raise InvalidArgument(f"folds: expected >= 2, got {folds}", field="folds")
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(np.unique(data.identity)), folds)
    images = {int(k): np.flatnonzero(data.identity == k) for k in np.unique(data.identity)}
    a: list[int] = []
    b: list[int] = []
    fold_of: list[int] = []
    for f, people in enumerate(groups):
        multi = [int(p) for p in people if images[int(p)].size >= 2]
        if not multi or people.size < 2:
            raise InvalidArgument(
                f"folds: expected each of {folds} folds to hold a person with 2 or more images "
                f"and 2 or more people, got a fold of {people.size} without",
                field="folds",
            )
        for _ in range(per_fold):
            i, j = rng.choice(images[int(rng.choice(multi))], 2, replace=False)
            p, q = rng.choice(people, 2, replace=False)
            a += [int(i), int(rng.choice(images[int(p)]))]
            b += [int(j), int(rng.choice(images[int(q)]))]
            fold_of += [f, f]
    truth = np.tile([True, False], len(a) // 2)
    acc, std, _ = kfold_accuracy(data.scores(a, b), truth, np.array(fold_of))
    return {"accuracy": acc, "accuracy_std": std, "folds": folds, "pairs": len(a), "seed": seed}
