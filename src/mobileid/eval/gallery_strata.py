"""A calibration conditioned on the gallery face's cohort term, measured on identity-disjoint
splits (``eval faces identify --splits K --gallery-strata Q``).

A gallery face whose cohort term ``m`` is high resembles many people, and draws false
candidates in many searches. Here such a face (a *hub*: ``m`` at or above the ``1 - Q``
quantile of the development faces' terms) gets its own table: in each split, the development
impostor comparisons, taken as ordered (probe, gallery) pairs (each unordered pair once per
end), are split by the gallery face's stratum, and each stratum's table is measured with the
identity-bootstrap bound. A candidate is read with its own stratum's table, so a hub needs a
higher score to reach a band. Set beside it, on the same splits, the shipped scoring alone
(one pooled table). A search is a false positive of a band when any non-mate passes its own
threshold. FNIR at a fixed FPIR moves one threshold: the plain faces' ``t``, the hubs'
``t + d``, with ``d`` the gap between the two tables at the plain table's rate at ``t``
(held at its value at the coarser table's resolution below it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.eval.cohort_eval import build_cohort, cohort_people
from mobileid.eval.concentration import false_candidates_by_subject
from mobileid.eval.faces import EmbeddedSet, calibrate, impostor_pairs
from mobileid.eval.open_set import open_set_split
from mobileid.eval.splits import BANDS, clopper_pearson_upper, identity_splits, subset
from mobileid.eval.tail import TailModel, bootstrap_tail
from mobileid.face.cohort import SHIPPED, CohortNorm, cohort_terms
from mobileid.scoring import Calibration, build_calibration

KINDS = ("shipped", "gallery_strata")  # one pooled table; a table per gallery stratum
FPIR_POINTS = (0.01, 0.001)
GRID = 4000  # thresholds swept for FNIR at a fixed FPIR
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GalleryStrata:
    """One split's development fit: the hub cut on the cohort term, and a table per stratum."""

    cut: float
    plain: Calibration
    hub: Calibration

    def thresholds(self, terms: FloatArray, fmr: float) -> FloatArray:
        """Each gallery face's threshold at ``fmr`` (inf where its table cannot show it)."""
        t = [_threshold(self.plain, fmr), _threshold(self.hub, fmr)]
        return np.where(terms >= self.cut, t[1], t[0])


def check_share(share: float) -> float:
    """``--gallery-strata Q``: the share of development faces called hubs, 0.01..0.5."""
    if not 0.01 <= share <= 0.5:
        raise InvalidArgument(
            f"gallery_strata: expected a share of hub faces in 0.01..0.5, got {share!r}",
            field="gallery_strata",
        )
    return share


def fit_gallery_strata(
    dev: EmbeddedSet,
    terms: FloatArray,
    share: float,
    resamples: int | None,
    tail: TailModel | None = None,
) -> GalleryStrata:
    """The hub cut (the ``1 - share`` quantile of ``terms`` over ``dev``'s enrolled faces) and
    one table per gallery stratum from ``dev``'s impostor pairs (module docstring; with
    ``tail``, each table bounded by the GPD tail as well, as ``--tail`` bounds the others)."""
    cut = float(np.quantile(terms[dev.ok], 1.0 - check_share(share)))
    a, b = impostor_pairs(dev.identity)
    keep = dev.ok[a] & dev.ok[b]
    probe, gallery = np.concatenate([a[keep], b[keep]]), np.concatenate([b[keep], a[keep]])
    scores = dev.scores(probe, gallery)
    tables = []
    for name, side in (("plain", terms[gallery] < cut), ("hub", terms[gallery] >= cut)):
        label = f"split; gallery stratum {name}"
        ids_p, ids_g = dev.identity[probe[side]], dev.identity[gallery[side]]
        if resamples is None:
            cal = build_calibration(scores[side], 0, matcher=dev.pipeline_id, dataset=label)
        else:
            cal = bootstrap_tail(
                scores[side],
                ids_p,
                ids_g,
                0,
                matcher=dev.pipeline_id,
                dataset=label,
                resamples=resamples,
                tail=tail,
            )
        tables.append(cal)
    return GalleryStrata(cut, tables[0], tables[1])


def _threshold(cal: Calibration, fmr: float) -> float:
    return cal.threshold_or(fmr, math.inf)


def _gap(fit: GalleryStrata, t: FloatArray) -> FloatArray:
    """Per plain threshold ``t``, the hubs' extra margin (module docstring)."""
    floor = max(fit.plain.resolution, fit.hub.resolution)
    out = np.empty_like(t)
    for i, s in enumerate(t):
        f = max(fit.plain.fmr(float(s)), floor)
        out[i] = fit.hub.threshold(f) - fit.plain.threshold(f)
    return out


def _fnir_at_fpir(
    sim: FloatArray,
    mate: npt.NDArray[np.int64],
    hub: npt.NDArray[np.bool_],
    gap: FloatArray,
    grid: FloatArray,
) -> dict[str, float]:
    """FNIR at each FPIR point when plain faces need ``grid[i]`` and hubs ``grid[i] + gap[i]``:
    a mated search is a hit when its mate is first and passes its own threshold."""
    nm, md = mate < 0, mate >= 0
    top_plain = sim[:, ~hub].max(axis=1, initial=-np.inf)
    top_hub = sim[:, hub].max(axis=1, initial=-np.inf)
    fp = (top_plain[nm, None] >= grid) | (top_hub[nm, None] >= grid + gap)
    fpir = fp.mean(axis=0)
    rows = np.flatnonzero(md)
    ms = sim[rows, mate[rows]]
    first = _first(sim, mate)
    need = grid[None, :] + np.where(hub[mate[rows]], 1.0, 0.0)[:, None] * gap[None, :]
    fnir = 1.0 - (first[:, None] & (ms[:, None] >= need)).mean(axis=0)
    out = {}
    for point in FPIR_POINTS:
        ok = np.flatnonzero(fpir <= point)  # fpir falls as the threshold rises
        out[f"fnir_at_fpir_{point:g}"] = float(fnir[ok[0]]) if ok.size else 1.0
    return out


def _first(sim: FloatArray, mate: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per mated search, whether its mate is first as ``identification_metrics`` ranks: a tie
    ranks ahead of the mate, and a mate that failed to enrol is never found."""
    rows = np.flatnonzero(mate >= 0)
    ms = sim[rows, mate[rows]]
    return np.isfinite(ms) & ((sim[rows] >= ms[:, None]).sum(axis=1) == 1)


def _split(
    dev: EmbeddedSet,
    test: EmbeddedSet,
    norm: CohortNorm,
    share: float,
    bands: tuple[float, float],
    resamples: int | None,
    tail: TailModel | None,
) -> dict:
    """One split: the cohort from the development people with one image (as
    ``--cohort-norm``), the tables from the others, the search on the tested people."""
    in_cohort = cohort_people(dev.identity)
    cohort = build_cohort(subset(dev, np.flatnonzero(in_cohort)), "real")
    calib = subset(dev, np.flatnonzero(~in_cohort))
    m_dev, m_test = (cohort_terms(d.vectors, cohort, norm.top_k) for d in (calib, test))
    calib, test = _scored(calib, norm, m_dev), _scored(test, norm, m_test)
    pooled = calibrate(calib, "split", resamples=resamples, tail=tail)
    fit = fit_gallery_strata(calib, m_dev, share, resamples, tail)
    gallery, probes, mate = open_set_split(test.identity)
    search = _Search(
        sim=test.search_scores(probes, gallery),
        mate=mate,
        names=[test.names[int(test.identity[g])] for g in gallery],
        hub=m_test[gallery] >= fit.cut,
    )
    finite = search.sim[np.isfinite(search.sim)]
    grid = np.linspace(finite.min(), finite.max() + 1e-6, GRID)
    out: dict = {
        "gallery": int(gallery.size),
        "nonmated": int(np.sum(mate < 0)),
        "mated": int(np.sum(mate >= 0)),
        "rank1": float(search.first.mean()) if search.first.size else 0.0,
        "hub_share_gallery": float(search.hub.mean()),
        "possible_threshold": {
            "plain": _threshold(fit.plain, bands[1]),
            "hub": _threshold(fit.hub, bands[1]),
        },
    }
    flat = {
        b: np.full(gallery.size, _threshold(pooled, f)) for b, f in zip(BANDS, bands, strict=True)
    }
    out["shipped"] = search.read(flat, np.zeros(GRID), grid)
    own = {b: fit.thresholds(m_test[gallery], f) for b, f in zip(BANDS, bands, strict=True)}
    out["gallery_strata"] = search.read(own, _gap(fit, grid), grid)
    return out


@dataclass(frozen=True, eq=False)
class _Search:
    """One split's searches: probes × gallery scores, each probe's mate column (or -1), the
    gallery subjects' names, and which gallery faces are hubs."""

    sim: FloatArray
    mate: npt.NDArray[np.int64]
    names: list[str]
    hub: npt.NDArray[np.bool_]

    @property
    def first(self) -> npt.NDArray[np.bool_]:
        """Per mated search, whether its mate is first."""
        return _first(self.sim, self.mate)

    def read(self, per: dict[str, FloatArray], gap: FloatArray, grid: FloatArray) -> dict:
        """The searches read with a threshold per gallery face and band (``per``)."""
        row: dict = _fnir_at_fpir(self.sim, self.mate, self.hub, gap, grid)
        rows = np.flatnonzero(self.mate >= 0)
        for band, thr in per.items():
            over = self.sim - thr[None, :]
            row[f"{band}_events"] = int(np.sum(over[self.mate < 0].max(axis=1) >= 0))
            row[f"{band}_mated_hits"] = int(np.sum(self.first & (over[rows, self.mate[rows]] >= 0)))
            # over all searches (a found mate's list included), and over strangers' only
            row[f"{band}_all"] = false_candidates_by_subject(
                over, self.mate, self.names, {band: 0.0}, worst=5
            )[band]
            nm = self.mate < 0
            row[f"{band}_nonmated"] = false_candidates_by_subject(
                over[nm], self.mate[nm], self.names, {band: 0.0}, worst=5
            )[band]
        return row


def _scored(data: EmbeddedSet, norm: CohortNorm, terms: FloatArray) -> EmbeddedSet:
    return replace(data, offsets=(norm.probe_weight * terms, norm.gallery_weight * terms))


def split_gallery_strata(
    data: EmbeddedSet,
    bands: tuple[float, float],
    *,
    splits: int,
    seed: int,
    share: float,
    norm: CohortNorm = SHIPPED,
    resamples: int | None = 100,
    tail: TailModel | None = None,
) -> dict:
    """Pooled over ``splits`` identity-disjoint splits, the shipped scoring's one table beside
    a table per gallery stratum (module docstring), every table with the ``tail`` bound if
    given."""
    check_share(share)
    runs = []
    for in_dev in identity_splits(data.identity, splits, seed):
        dev, test = subset(data, np.flatnonzero(in_dev)), subset(data, np.flatnonzero(~in_dev))
        runs.append(_split(dev, test, norm, share, bands, resamples, tail))
    out: dict = {
        "splits": splits,
        "seed": seed,
        "hub_share": share,
        "scoring": norm.label,
        "tail": tail.label if tail is not None else None,
        "rank1": float(np.mean([r["rank1"] for r in runs])),
        "hub_share_of_gallery": float(np.mean([r["hub_share_gallery"] for r in runs])),
        "possible_threshold": {
            s: float(np.mean([r["possible_threshold"][s] for r in runs])) for s in ("plain", "hub")
        },
    }
    for kind in KINDS:
        out[kind] = _pooled([r[kind] for r in runs], runs, bands)
    return out


def _pooled(rows: list[dict], runs: list[dict], bands: tuple[float, float]) -> dict:
    searches = sum(r["nonmated"] for r in runs)
    mated = sum(r["mated"] for r in runs)
    out: dict = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k.startswith("fnir")}
    for band, bound in zip(BANDS, bands, strict=True):
        events = sum(r[f"{band}_events"] for r in rows)
        out[band] = {
            "fpir": events / searches,
            "fpir_upper95": clopper_pearson_upper(events, searches),
            "fpir_predicted": float(np.mean([min(1.0, r["gallery"] * bound) for r in runs])),
            "fnir": 1.0 - sum(r[f"{band}_mated_hits"] for r in rows) / max(mated, 1),
            "concentration_all": _concentration([r[f"{band}_all"] for r in rows]),
            "concentration_nonmated": _concentration([r[f"{band}_nonmated"] for r in rows]),
        }
    return out


def _concentration(per: list[dict]) -> dict:
    """Pooled over splits: false candidates, the worst subject's count (largest over splits
    and on average), subjects that drew any (on average), and the worst 5's share of all."""
    tops = [s["worst"][0]["false_candidates"] if s["worst"] else 0 for s in per]
    total = sum(s["false_candidates"] for s in per)
    five = sum(w["false_candidates"] for s in per for w in s["worst"][:5])
    return {
        "false_candidates": int(total),
        "worst_subject_max": int(max(tops)),
        "worst_subject_mean": float(np.mean(tops)),
        "subjects_hit_mean": float(np.mean([s["subjects_hit"] for s in per])),
        "worst5_share": five / total if total else None,
    }
