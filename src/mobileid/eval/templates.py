"""Multi-image subject templates measured on identity-disjoint splits (``eval faces identify
--splits K --templates N``).

Each gallery subject (a tested person with two or more images) enrols its first
``min(N, images - 1)`` images, so that at least one is left to search with; the rest are mated
probes, and the people with a single image are the non-mated probes (with N = 1 this is the
protocol of :func:`mobileid.eval.open_set.open_set_split`). Four readings of the same split:

- ``single_image``: the subject's first image only (as with N = 1, on the same probes);
- ``best_image``: one comparison per enrolled image, the subject's best one counts (what the
  gallery does today when a subject has several images);
- ``template``: one comparison per subject, against the unit mean of its enrolled vectors;
- ``template_own_table``: the same scores read with a table of template scores
  (:func:`mobileid.eval.template_scores.template_table`), measured on the development people
  as the single-image one is.

All are scored with the split's cohort normalisation (the cohort and the calibration from
the development people, as ``--cohort-norm``) and, but for the last, read with the split's
single-image table. The band prediction counts the comparisons a search makes: a subject
with ``n`` images is ``n`` comparisons for ``best_image``, one for a template. Whether that table is
conservative for templates is measured directly: the rate of impostor comparisons (a probe
against another subject's image, or against another subject's template) reaching each band's
threshold, beside the band's bound.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.eval import metrics as m
from mobileid.eval.cohort_eval import build_cohort, cohort_people, with_offsets
from mobileid.eval.concentration import false_candidates_by_subject
from mobileid.eval.faces import EmbeddedSet, calibrate
from mobileid.eval.splits import (
    BANDS,
    clopper_pearson_upper,
    identity_splits,
    pooled_concentration,
    subset,
)
from mobileid.eval.tail import TailModel
from mobileid.eval.template_scores import (
    Enrolment,
    Reading,
    enrol_up_to,
    image_scores,
    template_scores,
    template_table,
)
from mobileid.face.cohort import SHIPPED, CohortNorm
from mobileid.scoring import Calibration

READINGS = ("single_image", "best_image", "template", "template_own_table")
TAIL_FMR = 1e-2  # a lower line where impostors are many, beside the two bands' thresholds
MAX_PER_SUBJECT = 20
FloatArray = npt.NDArray[np.float64]


def check_per_subject(n: int) -> int:
    """``--templates N``: images enrolled per gallery subject, 1..MAX_PER_SUBJECT."""
    if not 1 <= n <= MAX_PER_SUBJECT:
        raise InvalidArgument(
            f"templates: expected images per subject in 1..{MAX_PER_SUBJECT}, got {n}",
            field="templates",
        )
    return n


def _read(reading: Reading, enrol: Enrolment, lines: dict[str, float]) -> dict:
    """One reading of one split: identification figures, band events, impostor tail and the
    false candidates per subject."""
    ident = m.identification_metrics(reading.sim, enrol.mate, fpir_points=(0.01, 0.001))
    nm = enrol.mate < 0
    thresholds = {"fpir_0.01": ident.threshold_at_fpir[0.01], **lines}
    out: dict = {
        "rank1": ident.rank1,
        "fnir_at_fpir_0.01": ident.fnir_at_fpir[0.01],
        "fnir_at_fpir_0.001": ident.fnir_at_fpir[0.001],
        "comparisons": reading.comparisons,
        "impostor_comparisons": int(reading.impostors.size),
        "fpir_events": {b: int(np.sum(ident.nonmated_top >= lines[b])) for b in BANDS},
        "mated_hits": {b: int(np.sum(ident.mated_top >= lines[b])) for b in BANDS},
        "tail_events": {k: int(np.sum(reading.impostors >= t)) for k, t in lines.items()},
        "all": false_candidates_by_subject(reading.sim, enrol.mate, enrol.names, thresholds),
        "nonmated": false_candidates_by_subject(
            reading.sim[nm], enrol.mate[nm], enrol.names, thresholds
        ),
    }
    return out


def _split(
    dev: EmbeddedSet,
    test: EmbeddedSet,
    per_subject: int,
    norm: CohortNorm,
    source: str,
    bands: tuple[float, float],
    resamples: int | None,
    tail: TailModel | None,
) -> dict:
    """One split: cohort and single-image table from the development people (as
    ``--cohort-norm``), the three readings on the tested people."""
    in_cohort = cohort_people(dev.identity)
    cohort = build_cohort(subset(dev, np.flatnonzero(in_cohort)), source)
    calib = with_offsets(subset(dev, np.flatnonzero(~in_cohort)), norm, cohort)
    test = with_offsets(test, norm, cohort)
    cal = calibrate(calib, "development identities of the split", resamples=resamples, tail=tail)
    lines = _lines(cal, bands)
    table = template_table(calib, per_subject, norm, cohort, resamples, tail)
    own = _lines(table, bands)
    enrol = enrol_up_to(test, per_subject)
    tmpl = template_scores(test, enrol, norm, cohort)
    sizes = [g.size for g in enrol.images]
    read = {
        "single_image": _read(image_scores(test, enrol, first_only=True), enrol, lines),
        "best_image": _read(image_scores(test, enrol, first_only=False), enrol, lines),
        "template": _read(tmpl, enrol, lines),
        "template_own_table": _read(tmpl, enrol, own),
    }
    return {
        "subjects": len(sizes),
        "images": int(sum(sizes)),
        "multi_image_subjects": int(sum(s > 1 for s in sizes)),
        "mated": int(np.sum(enrol.mate >= 0)),
        "nonmated": int(np.sum(enrol.mate < 0)),
        "thresholds": lines,
        "template_thresholds": own,
        "template_table_comparisons": table.impostor_count,
        **read,
    }


def _lines(cal: Calibration, bands: tuple[float, float]) -> dict[str, float]:
    """The table's score at each band's bound and at TAIL_FMR (inf where it cannot show it)."""
    return {
        name: cal.threshold_or(f, math.inf)
        for name, f in zip((*BANDS, "fmr_0.01"), (*bands, TAIL_FMR), strict=True)
    }


def split_templates(
    data: EmbeddedSet,
    bands: tuple[float, float],
    *,
    splits: int,
    seed: int,
    per_subject: int,
    norm: CohortNorm = SHIPPED,
    source: str = "real",
    resamples: int | None = 100,
    tail: TailModel | None = None,
) -> dict:
    """Pooled over ``splits`` identity-disjoint splits, the three readings (module
    docstring), every table with the ``tail`` bound if given."""
    check_per_subject(per_subject)
    runs = []
    for in_dev in identity_splits(data.identity, splits, seed):
        dev, test = subset(data, np.flatnonzero(in_dev)), subset(data, np.flatnonzero(~in_dev))
        runs.append(_split(dev, test, per_subject, norm, source, bands, resamples, tail))
    out: dict = {
        "splits": splits,
        "seed": seed,
        "per_subject": per_subject,
        "scoring": norm.label,
        "cohort_source": source,
        "tail": tail.label if tail is not None else None,
        "gallery_subjects": float(np.mean([r["subjects"] for r in runs])),
        "gallery_images": float(np.mean([r["images"] for r in runs])),
        "multi_image_subjects": float(np.mean([r["multi_image_subjects"] for r in runs])),
        "mated_probes": int(sum(r["mated"] for r in runs)),
        "nonmated_probes": int(sum(r["nonmated"] for r in runs)),
    }
    out["template_table_comparisons"] = float(
        np.mean([r["template_table_comparisons"] for r in runs])
    )
    for key in ("thresholds", "template_thresholds"):
        # a table too small to show a band's bound has no threshold for it (inf): counted
        got = {k: [r[key][k] for r in runs] for k in runs[0][key]}
        out[key] = {k: _mean_of_finite(v) for k, v in got.items()}
        out[f"{key}_unreachable"] = {
            k: sum(not math.isfinite(x) for x in v) for k, v in got.items()
        }
    for name in READINGS:
        out[name] = _pooled(runs, name, bands)
    return out


def _pooled(runs: list[dict], name: str, bands: tuple[float, float]) -> dict:
    rows = [r[name] for r in runs]
    searches = sum(r["nonmated"] for r in runs)
    mated = sum(r["mated"] for r in runs)
    out: dict = {
        k: float(np.mean([row[k] for row in rows]))
        for k in ("rank1", "fnir_at_fpir_0.01", "fnir_at_fpir_0.001")
    }
    out["comparisons_per_search"] = float(np.mean([row["comparisons"] for row in rows]))
    out["band_fpir"], out["band_fpir_upper95"], out["band_fpir_predicted"] = {}, {}, {}
    out["band_fnir"], out["impostor_fmr"] = {}, {}
    for band, bound in zip(BANDS, bands, strict=True):
        events = sum(row["fpir_events"][band] for row in rows)
        out["band_fpir"][band] = events / searches
        out["band_fpir_upper95"][band] = clopper_pearson_upper(events, searches)
        # the comparisons a search makes × the band's bound, weighted by the split's searches
        pred = sum(
            min(1.0, row["comparisons"] * bound) * r["nonmated"]
            for r, row in zip(runs, rows, strict=True)
        )
        out["band_fpir_predicted"][band] = pred / searches
        out["band_fnir"][band] = 1.0 - sum(row["mated_hits"][band] for row in rows) / mated
    pairs = sum(row["impostor_comparisons"] for row in rows)
    for line, bound in zip((*BANDS, "fmr_0.01"), (*bands, TAIL_FMR), strict=True):
        events = sum(row["tail_events"][line] for row in rows)
        out["impostor_fmr"][line] = {
            "bound": bound,
            "events": events,
            "comparisons": pairs,
            "fmr": events / pairs,
            "upper95": clopper_pearson_upper(events, pairs),
        }
    out["concentration"] = {
        f"{kind}_{line}": pooled_concentration([row[kind][line] for row in rows])
        for kind in ("all", "nonmated")
        for line in ("fpir_0.01", *BANDS)
    }
    return out


def _mean_of_finite(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None
