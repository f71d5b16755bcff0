"""A calibration per gallery stratum of the cohort term, on real lfw-dev faces (the session's
small sample, tests/eval/conftest.py): the fit, the splits' figures, and the option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobileid.eval.cohort_eval import build_cohort, cohort_people
from mobileid.eval.faces import EmbeddedSet
from mobileid.eval.gallery_strata import KINDS, fit_gallery_strata, split_gallery_strata
from mobileid.eval.splits import subset
from mobileid.eval.tail import TailModel
from mobileid.face.cohort import CohortNorm, cohort_terms
from tests.conftest import cli_json

NORM = CohortNorm(3, 0.5, 0.0)  # the sample's cohort holds a few faces only


def test_a_hub_face_needs_a_higher_score(sample: EmbeddedSet) -> None:
    """Gallery faces at or above the cut (the top quarter of terms) get a table whose
    threshold is higher than the other faces' at every rate both can show, and a face reads
    the table of its own stratum."""
    singles = cohort_people(sample.identity)
    cohort = build_cohort(subset(sample, np.flatnonzero(singles)), "real")
    calib = subset(sample, np.flatnonzero(~singles))
    terms = cohort_terms(calib.vectors, cohort, NORM.top_k)
    fit = fit_gallery_strata(calib, terms, 0.25, resamples=None)
    assert fit.cut == pytest.approx(np.quantile(terms[calib.ok], 0.75))
    floor = max(fit.plain.resolution, fit.hub.resolution)
    for fmr in np.logspace(-1, np.log10(floor), 6):
        assert fit.hub.threshold(fmr) > fit.plain.threshold(fmr)
    got = fit.thresholds(np.array([fit.cut - 0.01, fit.cut]), 0.05)
    assert got.tolist() == [fit.plain.threshold(0.05), fit.hub.threshold(0.05)]


def test_tail_bounds_each_gallery_stratum(sample: EmbeddedSet) -> None:
    """``--tail`` reaches the gallery strata's tables too: each stratum's table is then never
    more lenient than its bootstrap bound alone, and somewhere in the far tail stricter."""
    singles = cohort_people(sample.identity)
    cohort = build_cohort(subset(sample, np.flatnonzero(singles)), "real")
    calib = subset(sample, np.flatnonzero(~singles))
    terms = cohort_terms(calib.vectors, cohort, NORM.top_k)
    boot = fit_gallery_strata(calib, terms, 0.25, resamples=50)
    gpd = fit_gallery_strata(calib, terms, 0.25, resamples=50, tail=TailModel(0.05, 10))
    for name in ("plain", "hub"):
        b, g = getattr(boot, name), getattr(gpd, name)
        assert "GPD tail" in g.dataset and "GPD tail" not in b.dataset
        grid = np.linspace(0.0, 1.0, 201)
        assert all(g.fmr(s) >= b.fmr(s) * (1 - 1e-9) for s in grid)
        assert any(g.fmr(s) > b.fmr(s) * (1 + 1e-6) for s in grid)


def test_splits_report_both_readings_alike(sample: EmbeddedSet) -> None:
    """Over identity-disjoint splits both the one pooled table and the table per gallery
    stratum report FNIR at FPIR, each band's FPIR within its bound and the concentration of
    false candidates, and the possible band lists at least the strong band's candidates."""
    out = split_gallery_strata(
        sample, (1e-2, 1e-1), splits=2, seed=4, share=0.25, norm=NORM, resamples=20
    )
    assert out["splits"] == 2 and out["hub_share"] == 0.25 and 0 < out["rank1"] <= 1
    assert out["tail"] is None
    assert set(out["possible_threshold"]) == {"plain", "hub"}
    assert 0 < out["hub_share_of_gallery"] < 1
    for kind in KINDS:
        row = out[kind]
        assert 0 <= row["fnir_at_fpir_0.01"] <= row["fnir_at_fpir_0.001"] <= 1
        for band in ("strong", "possible"):
            b = row[band]
            assert 0 <= b["fpir"] <= b["fpir_upper95"] <= 1
            for c in (b["concentration_all"], b["concentration_nonmated"]):
                assert 0 <= c["worst_subject_max"] <= c["false_candidates"]
                assert c["worst_subject_mean"] <= c["worst_subject_max"]
                assert c["worst5_share"] is None or 0 < c["worst5_share"] <= 1
            assert (
                b["concentration_nonmated"]["false_candidates"]
                <= b["concentration_all"]["false_candidates"]
            )
        strong, possible = (row[b]["concentration_all"] for b in ("strong", "possible"))
        assert possible["false_candidates"] >= strong["false_candidates"]


def test_cli_refuses_a_bad_share(tmp_path: Path) -> None:
    """``--gallery-strata`` needs a share in 0.01..0.5 and --splits; a bad one is refused
    naming the field, before any image is read."""
    root = tmp_path / "empty"
    root.mkdir()
    base = ["eval", "faces", "identify", "--root", str(root), "--data-dir", str(tmp_path / "d")]
    code, out = cli_json(*base, "--splits", "2", "--gallery-strata", "0.9")
    assert code == 2 and out["error"]["field"] == "gallery_strata"
    assert "0.01..0.5, got 0.9" in out["error"]["message"]
    code, out = cli_json(*base, "--gallery-strata", "0.1")
    assert code == 2 and "--splits" in out["error"]["message"]
