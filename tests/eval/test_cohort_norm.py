"""Cohort score normalisation on real lfw-dev faces (the session's small sample,
tests/eval/conftest.py): the terms, the split preparation, and ``eval faces identify
--cohort-norm``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.eval.cohort_eval import build_cohort, cohort_prepare, with_offsets
from mobileid.eval.faces import EmbeddedSet, calibrate, identify
from mobileid.eval.splits import identity_splits, split_identify, subset
from mobileid.face.cohort import SHIPPED, CohortNorm, FaceScoring, cohort_terms
from mobileid.service.face_scoring import load_face_scoring
from tests.conftest import cli_json


def test_a_face_like_the_whole_cohort_pays_for_it(sample: EmbeddedSet) -> None:
    """A hub (the mean of the cohort's faces, close to everyone) gets a higher term than every
    real face, so against the same probe at the same raw cosine it scores lower than a plain
    face once the gallery side is normalised."""
    cohort_people = sample.identity % 2 == 0
    cohort = sample.vectors[cohort_people & sample.ok]
    others = sample.vectors[~cohort_people & sample.ok]
    hub = cohort.mean(axis=0)
    hub /= np.linalg.norm(hub)
    terms = cohort_terms(np.vstack([hub, others]), cohort, top_k=5)
    assert terms[0] > terms[1:].max()
    scoring = FaceScoring(sample.pipeline_id, CohortNorm(5, 0.0, 0.5), cohort)
    probe_loss, gallery_loss = scoring.offsets(np.vstack([hub, others]))
    assert np.all(probe_loss == 0) and gallery_loss == pytest.approx(0.5 * terms)
    # the same raw cosine against the same probe: the hub scores lower than every real face
    assert 0.93 - gallery_loss[0] < (0.93 - gallery_loss[1:]).min()


def test_terms_are_the_mean_of_the_best_cohort_scores(sample: EmbeddedSet) -> None:
    """A term is the mean of a face's k highest cosine scores against the cohort, nothing
    else; a cohort smaller than k is refused."""
    v = sample.vectors[sample.ok]
    cohort, faces = v[:20], v[20:25]
    got = cohort_terms(faces, cohort, top_k=3)
    want = np.sort(faces.astype(np.float64) @ cohort.T.astype(np.float64), axis=1)[:, -3:]
    assert got == pytest.approx(want.mean(axis=1), abs=1e-6)
    with pytest.raises(InvalidArgument, match="at least 30 faces, got 20"):
        cohort_terms(faces, cohort, top_k=30)


def test_cohort_calibration_and_tested_people_never_meet(sample: EmbeddedSet) -> None:
    """In each split the development people with one image make the cohort and the others
    calibrate; the tested people are in neither, and every cohort kind is made."""
    dev_mask = identity_splits(sample.identity, 1, seed=3)[0]
    dev = subset(sample, np.flatnonzero(dev_mask))
    test = subset(sample, np.flatnonzero(~dev_mask))
    calib, tested = cohort_prepare(CohortNorm(3, 0.5, 0.0), "real")(dev, test)
    counts = np.bincount(dev.identity)
    singles = {dev.names[k] for k in np.flatnonzero(counts == 1)}
    assert singles and not singles & set(calib.names)
    assert set(calib.names) == {dev.names[k] for k in np.flatnonzero(counts > 1)}
    assert not (singles | set(calib.names)) & set(tested.names)
    assert calib.offsets is not None and np.all(calib.offsets[1] == 0)
    for source in ("real", "blend", "gaussian"):
        c = build_cohort(dev, source)
        assert c.shape == (int(dev.ok.sum()), 128)
        assert np.linalg.norm(c, axis=1) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InvalidArgument, match="cohort_source"):
        build_cohort(dev, "celebrities")


def test_the_shipped_cohort_pushes_a_hub_probe_down(sample: EmbeddedSet) -> None:
    """With the shipped cohort (lfw-dev's one-image people), a probe that resembles the whole
    cohort (their mean face) loses more than any real face, so at the same raw cosine
    against a gallery face it scores lower; a cohort face is not normalised against itself."""
    scoring = load_face_scoring(Settings(), sample.pipeline_id)
    assert scoring.norm == SHIPPED and scoring.cohort is not None
    hub = scoring.cohort.mean(axis=0)
    hub /= np.linalg.norm(hub)
    probe_loss, gallery_loss = scoring.offsets(np.vstack([hub, sample.vectors[sample.ok]]))
    assert probe_loss[0] > probe_loss[1:].max() and np.all(gallery_loss == 0)
    raw = 0.9
    assert raw - probe_loss[0] < raw - probe_loss[1:].min()
    own = scoring.cohort[:3]
    kept = scoring.terms(own)
    left = scoring.terms(own, leave_out_self=True)
    assert np.all(left < kept)


def test_probe_side_normalisation_keeps_every_ranking(sample: EmbeddedSet) -> None:
    """Normalising the probe side only shifts all of a search's scores alike: rank-1 is that
    of plain cosine, the scores move by exactly the probe's weighted term, and the splits
    report the concentration of false candidates for every line."""
    dev_mask = identity_splits(sample.identity, 1, seed=4)[0]
    cohort = build_cohort(subset(sample, np.flatnonzero(dev_mask)), "real")
    test = subset(sample, np.flatnonzero(~dev_mask))
    norm = CohortNorm(3, 0.5, 0.0)
    shifted = with_offsets(test, norm, cohort)
    plain, _ = identify(test, None, (1e-2, 1e-1))
    moved, _ = identify(shifted, None, (1e-2, 1e-1))
    assert moved["rank1"] == plain["rank1"]
    a, b = np.flatnonzero(test.ok)[:2]
    term = cohort_terms(test.vectors[[a]], cohort, 3)[0]
    assert shifted.scores([a], [b])[0] == pytest.approx(test.scores([a], [b])[0] - 0.5 * term)

    def cal(dev: EmbeddedSet):  # type: ignore[no-untyped-def]
        return calibrate(dev, "dev", resamples=None)

    out = split_identify(
        sample, cal, (1e-2, 1e-1), splits=2, seed=4, prepare=cohort_prepare(norm, "real")
    )
    for key in ("all_fpir_0.01", "nonmated_fpir_0.01", "all_strong", "nonmated_possible"):
        c = out["concentration"][key]
        assert 0 <= c["worst_subject_max"] <= c["false_candidates"]


def test_cli_refuses_a_bad_cohort_option(tmp_path: Path) -> None:
    """``--cohort-norm`` needs K,A,B and --splits; a bad one is refused naming the field,
    before any image is read."""
    root = tmp_path / "empty"
    root.mkdir()
    base = ["eval", "faces", "identify", "--root", str(root), "--data-dir", str(tmp_path / "d")]
    code, out = cli_json(*base, "--splits", "2", "--cohort-norm", "ten")
    assert code == 2 and out["error"]["field"] == "cohort_norm"
    assert "expected K,A,B" in out["error"]["message"]
    code, out = cli_json(*base, "--cohort-norm", "10,0.5,0")
    assert code == 2 and "--splits" in out["error"]["message"]
    code, out = cli_json(*base, "--splits", "2", "--cohort-norm", "10,3,0")
    assert code == 2 and out["error"]["field"] == "probe_weight"
