"""Quality-stratified face calibration on real lfw-dev faces: strata, tables, splits, files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.eval.face_strata import calibrate_strata, quality_cuts, split_strata, strata_of
from mobileid.eval.faces import EmbeddedSet, calibrate
from mobileid.eval.open_set import open_set_split
from mobileid.eval.splits import identity_splits, subset
from mobileid.face.strata import STRATA, StratifiedCalibration


def test_cuts_are_the_development_quantiles(sample: EmbeddedSet) -> None:
    """Each cut is its measure's tenth on the bad side, so a tenth to three tenths of the
    measured captures are poor, and every measured capture has a stratum."""
    cuts = quality_cuts(sample)
    qs = [q for q, ok in zip(sample.qualities, sample.ok, strict=True) if ok and q]
    assert cuts.min_inter_eye_px == pytest.approx(np.quantile([q.inter_eye_px for q in qs], 0.1))
    assert cuts.max_abs_yaw == pytest.approx(np.quantile([abs(q.yaw) for q in qs], 0.9))
    stratum = strata_of(sample, cuts)
    poor = float(np.mean(stratum[sample.ok] == STRATA.index("poor")))
    assert 0.1 <= poor <= 0.3
    assert np.all(stratum[sample.ok] >= 0)


def test_each_impostor_pair_counts_once_per_probe_end(sample: EmbeddedSet) -> None:
    """The strata's tables hold every impostor comparison twice in all (once with each capture
    as the probe), each table is for the sample's pipeline, and the poor table is the one a
    poor capture is read from."""
    pooled = calibrate(sample, "s", resamples=None)
    strata = calibrate_strata(sample, "s", resamples=None)
    assert sum(t.impostor_count for _, t in strata.tables) == 2 * pooled.impostor_count
    assert {t.matcher for _, t in strata.tables} == {sample.pipeline_id}
    poor_capture = next(q for q in sample.qualities if q and strata.cuts.stratum(q) == "poor")
    assert strata.for_quality(poor_capture) == ("poor", strata.table("poor"))


def test_a_probe_side_offset_is_the_probe_captures_own(sample: EmbeddedSet) -> None:
    """With scores normalised on the probe side, each stratum's table holds the comparisons
    read with its own probe's offset: poor captures losing 1.0 as probes shift the poor
    table by exactly 1.0 and leave the good table as it is (both ends of a pair are a probe
    in turn, so reading one end's offset for both would mix the strata)."""
    plain = calibrate_strata(sample, "s", resamples=None)
    poor = strata_of(sample, plain.cuts) == STRATA.index("poor")
    offsets = (np.where(poor, 1.0, 0.0), np.zeros(len(poor)))
    shifted = calibrate_strata(replace(sample, offsets=offsets), "s", resamples=None)
    for fmr in (0.1, 0.01):
        assert shifted.table("good").threshold(fmr) == pytest.approx(
            plain.table("good").threshold(fmr), abs=1e-9
        )
        assert shifted.table("poor").threshold(fmr) == pytest.approx(
            plain.table("poor").threshold(fmr) - 1.0, abs=1e-6
        )


def test_stratified_file_round_trips_and_refuses_others(
    sample: EmbeddedSet, tmp_path: Path
) -> None:
    """A saved stratified calibration loads equal; a pooled table or a stratum missing is
    refused with the field named."""
    strata = calibrate_strata(sample, "s", resamples=20)
    strata.save(tmp_path / "s.json")
    back = StratifiedCalibration.load(tmp_path / "s.json")
    assert back.cuts == strata.cuts
    assert back.table("poor").threshold(0.01) == strata.table("poor").threshold(0.01)
    pooled = tmp_path / "pooled.json"
    calibrate(sample, "s", resamples=None).save(pooled)
    with pytest.raises(InvalidArgument, match="strata: expected format"):
        StratifiedCalibration.load(pooled)
    data = json.loads((tmp_path / "s.json").read_text())
    del data["strata"]["poor"]
    with pytest.raises(InvalidArgument, match="expected key 'poor'"):
        StratifiedCalibration.from_json(data)


def test_split_check_counts_every_search_in_one_stratum(sample: EmbeddedSet) -> None:
    """Over identity-disjoint splits, the strata's searches add up to all searches of the test
    identities, and each stratum reports band FPIR under both calibrations with bounds."""
    out = split_strata(sample, (1e-2, 1e-1), splits=2, seed=5, resamples=None)
    rows = out["strata"]
    assert set(rows) == set(STRATA)
    expected = 0
    for in_dev in identity_splits(sample.identity, 2, 5):
        test = subset(sample, np.flatnonzero(~in_dev))
        _, probes, _ = open_set_split(test.identity)
        expected += sum(test.qualities[p] is not None for p in probes)
    assert sum(r["nonmated_searches"] + r["mated_searches"] for r in rows.values()) == expected
    for r in rows.values():
        for kind in ("pooled", "strata"):
            got = r[f"strong_fpir_{kind}"]
            assert got is None or 0 <= got <= r[f"strong_fpir_{kind}_upper95"] <= 1


def test_split_check_reads_the_normalised_scores(sample: EmbeddedSet) -> None:
    """With a cohort normalisation as the split's preparation, the check runs on the scores
    the service reads: the same searches in each stratum, other band figures. (The sample is
    too small to also take the cohort out of each split's development people, as
    ``cohort_prepare`` does: its one-image people make a fixed cohort here.)"""
    from mobileid.eval.cohort_eval import cohort_people, with_offsets
    from mobileid.face.cohort import CohortNorm

    norm = CohortNorm(3, 0.5, 0.0)
    cohort = sample.vectors[cohort_people(sample.identity) & sample.ok]

    def prepare(dev: EmbeddedSet, test: EmbeddedSet) -> tuple[EmbeddedSet, EmbeddedSet]:
        return with_offsets(dev, norm, cohort), with_offsets(test, norm, cohort)

    plain = split_strata(sample, (1e-2, 1e-1), splits=2, seed=5, resamples=None)
    normed = split_strata(sample, (1e-2, 1e-1), splits=2, seed=5, resamples=None, prepare=prepare)
    for name in STRATA:
        for key in ("nonmated_searches", "mated_searches"):
            assert normed["strata"][name][key] == plain["strata"][name][key]
    assert any(
        normed["strata"][n][f"possible_{m}_strata"] != plain["strata"][n][f"possible_{m}_strata"]
        for n in STRATA
        for m in ("fpir", "fnir")
    )


def test_missing_quality_measures_are_refused(sample: EmbeddedSet) -> None:
    """A set embedded without quality measures cannot be stratified, and says so."""
    with pytest.raises(InvalidArgument, match="expected quality measures for every image"):
        quality_cuts(replace(sample, qualities=()))
