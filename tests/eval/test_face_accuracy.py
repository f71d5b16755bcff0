"""Conservative calibration, false-candidate concentration and identity-disjoint splits on real
lfw-dev faces (a small sample, embedded once per session: tests/eval/conftest.py)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from mobileid.cli.main import main
from mobileid.eval.bootstrap import bootstrap_calibration
from mobileid.eval.concentration import false_candidates_by_subject
from mobileid.eval.faces import EmbeddedSet, calibrate, impostor_pairs
from mobileid.eval.open_set import distractor_split, open_set_split
from mobileid.eval.report import write_report
from mobileid.eval.splits import (
    clopper_pearson_upper,
    identity_splits,
    split_identify,
    subset,
)
from mobileid.scoring import build_calibration
from tests.conftest import cli_json, link_subjects
from tests.eval.conftest import MANY, SINGLES


def test_bootstrap_bound_lies_above_the_in_sample_curve(sample: EmbeddedSet) -> None:
    """The identity-bootstrap table never promises a lower FMR than the in-sample curve, and
    promises a higher one in the tail, where few people decide the rate."""
    empirical = calibrate(sample, "sample", resamples=None)
    conservative = calibrate(sample, "sample", resamples=200)
    assert conservative.impostor_count == empirical.impostor_count
    at = np.array(empirical.scores)
    cons = np.array([conservative.fmr(s) for s in at])
    emp = np.array([empirical.fmr(s) for s in at])
    assert np.all(cons >= emp)
    tail = emp <= 0.01
    assert np.all(cons[tail] > emp[tail])
    assert conservative.fmr(1.0) == empirical.fmr(1.0) == 1.0 / empirical.impostor_count
    assert conservative.threshold(0.01) > empirical.threshold(0.01)


def test_bootstrap_of_independent_people_stays_close_to_the_curve() -> None:
    """With one impostor pair per pair of people (no clusters), the bound stays within a small
    factor of the empirical rate where hundreds of pairs decide it."""
    rng = np.random.default_rng(3)
    a, b = np.triu_indices(400, k=1)
    scores = rng.normal(size=a.size)
    cal = bootstrap_calibration(scores, a, b, 0, matcher="m", dataset="d", resamples=100)
    emp = build_calibration(scores, 0, matcher="m", dataset="d")
    s = emp.threshold(0.01)
    assert emp.fmr(s) <= cal.fmr(s) < 1.3 * emp.fmr(s)


def test_a_hub_face_draws_the_false_candidates(sample: EmbeddedSet, tmp_path: Path) -> None:
    """A gallery face made to resemble everyone (the mean of all faces) is the worst subject,
    the counts add up to the false comparisons above the threshold, and the report names it."""
    gallery, probes, mate = open_set_split(sample.identity)
    g = sample.vectors[gallery].astype(np.float64)
    hub = sample.vectors[sample.ok].mean(axis=0)
    g[0] = hub / np.linalg.norm(hub)
    sim = sample.vectors[probes] @ g.T
    names = [f"s{i}" for i in range(g.shape[0])]
    t = float(np.quantile(sim, 0.9))
    got = false_candidates_by_subject(sim, mate, names, {"t": t})["t"]
    false = sim.copy()
    rows = np.flatnonzero(mate >= 0)
    false[rows, mate[rows]] = -np.inf
    assert got["false_candidates"] == int((false >= t).sum())
    assert got["worst"][0]["subject"] == "s0"
    assert got["max_rate"] > 2 * got["mean_rate"]
    page = write_report(tmp_path, "t", {"false_candidates_by_subject": {"t": got}})
    assert "<td>s0</td>" in page.read_text(encoding="utf-8")


def test_splits_are_identity_disjoint_and_report_every_band(sample: EmbeddedSet) -> None:
    """Each split's development and test images share no identity and cover the set; the
    report carries band FPIR observed, its upper bound and the prediction for each band."""
    masks = identity_splits(sample.identity, 3, seed=5)
    assert len(masks) == 3 and len({m.tobytes() for m in masks}) == 3
    for dev in masks:
        assert not set(sample.identity[dev]) & set(sample.identity[~dev])
        assert abs(len(set(sample.identity[dev])) - (MANY + SINGLES) / 2) <= 1
    seen: list[int] = []

    def cal(dev: EmbeddedSet):  # type: ignore[no-untyped-def]
        seen.append(len(dev.names))
        return calibrate(dev, "dev", resamples=None)

    out = split_identify(sample, cal, (1e-2, 1e-1), splits=3, seed=5)
    assert seen == [(MANY + SINGLES) // 2] * 3
    for band in ("strong", "possible"):
        assert 0 <= out["band_fpir"][band] <= out["band_fpir_upper95"][band] <= 1
        assert out["band_fpir_predicted"][band] > 0
    assert 0 < out["rank1"] <= 1 and len(out["band_fpir_events"]["strong"]) == 3


def test_subset_renumbers_identities(sample: EmbeddedSet) -> None:
    """A subset keeps each image's own name and vector under renumbered identities."""
    pick = np.flatnonzero(sample.identity % 2 == 1)
    part = subset(sample, pick)
    assert part.identity.min() == 0 and len(part.names) == part.identity.max() + 1
    for i, j in enumerate(pick):
        assert part.names[part.identity[i]] == sample.names[sample.identity[j]]
        assert np.array_equal(part.vectors[i], sample.vectors[j])


def test_clopper_pearson_upper_bound() -> None:
    """The exact upper bound: 3/n for no events in n (rule of three), above the rate else."""
    assert clopper_pearson_upper(0, 1000) == pytest.approx(0.002991, rel=1e-3)
    assert 0.01 < clopper_pearson_upper(10, 1000) < 0.02
    assert clopper_pearson_upper(5, 5) == 1.0


def test_impostor_sampling_is_unchanged_by_a_subset(sample: EmbeddedSet) -> None:
    """Impostor pairs of a subset are exactly the cross-identity pairs within it."""
    part = subset(sample, np.arange(10))
    a, b = impostor_pairs(part.identity)
    assert np.all(part.identity[a] != part.identity[b])
    n = part.identity.size
    same = sum(int(c) * (int(c) - 1) // 2 for c in np.bincount(part.identity))
    assert a.size == n * (n - 1) // 2 - same


def test_distractor_split_enrols_singletons_and_leaves_them_out_of_their_own_search(
    sample: EmbeddedSet,
) -> None:
    """With the one-image people enrolled, the mated searches are those of the plain protocol,
    every person is in the gallery once, and each one-image person searches as a stranger
    with their own gallery image named for the search to leave out."""
    gallery, probes, mate = open_set_split(sample.identity)
    wide, w_probes, w_mate, own = distractor_split(sample.identity)
    assert gallery.size == MANY and wide.size == MANY + SINGLES
    assert sorted(sample.identity[wide]) == list(range(len(sample.names)))
    assert list(w_probes[w_mate >= 0]) == list(probes[mate >= 0])
    assert [sample.identity[gallery[c]] for c in mate[mate >= 0]] == [
        sample.identity[wide[c]] for c in w_mate[w_mate >= 0]
    ]
    strangers = w_probes[w_mate < 0]
    assert list(strangers) == list(probes[mate < 0]) and strangers.size == SINGLES
    assert list(wide[own[w_mate < 0]]) == list(strangers)  # their own image, left out
    assert (own[w_mate >= 0] == -1).all()


def test_splits_with_distractors_keep_the_plain_figures_and_search_a_larger_gallery(
    sample: EmbeddedSet,
) -> None:
    """``distractors`` adds the larger gallery's figures and leaves the plain ones as they
    were; more candidates can only push a mate down, and the strangers are the same people."""

    def cal(dev: EmbeddedSet):  # type: ignore[no-untyped-def]
        return calibrate(dev, "dev", resamples=None)

    plain = split_identify(sample, cal, (1e-2, 1e-1), splits=3, seed=5)
    both = split_identify(sample, cal, (1e-2, 1e-1), splits=3, seed=5, distractors=True)
    wide = both.pop("singletons_enrolled")
    assert both == plain
    assert wide["gallery_size"] == (MANY + SINGLES) / 2
    assert wide["rank1"] <= plain["rank1"]
    assert wide["nonmated_probes"] == plain["nonmated_probes"]
    assert "leave-one-out" in wide["nonmated_searches"]
    assert wide["band_fpir_predicted"]["strong"] > plain["band_fpir_predicted"]["strong"]


def test_cli_distractors_report_the_larger_gallery(tmp_path: Path, lfw_dev: Path) -> None:
    """``eval faces identify --splits K --distractors singletons`` answers the larger gallery's
    figures beside the plain ones, in the JSON and the HTML report, on real faces; without
    --splits it is refused, naming the field, before any image is read."""
    folders = sorted(p for p in lfw_dev.iterdir() if p.is_dir())
    # enough captures in any development half for the quality strata's cuts (20)
    many = [p.name for p in folders if len(list(p.iterdir())) >= 3][:16]
    singles = [p.name for p in folders if len(list(p.iterdir())) == 1][:4]
    root = tmp_path / "people"
    link_subjects(lfw_dev, root, many, per_subject=3)
    link_subjects(lfw_dev, root, singles, per_subject=1)
    base = ["eval", "faces", "identify", "--root", str(root), "--data-dir", str(tmp_path / "d")]
    code, out = cli_json(*base, "--distractors", "singletons")
    assert code == 2 and out["error"]["field"] == "distractors"
    assert "--splits" in out["error"]["message"]
    report = tmp_path / "report"
    code, out = cli_json(
        *base,
        "--splits",
        "2",
        "--resamples",
        "0",
        "--distractors",
        "singletons",
        "--report",
        str(report),
    )
    assert code == 0
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "identity_disjoint.singletons_enrolled.rank1" in page
    split = out["identity_disjoint"]
    wide = split["singletons_enrolled"]
    assert wide["gallery_size"] == 10 > split["gallery_size"]
    assert wide["nonmated_probes"] == split["nonmated_probes"]
    assert 0 <= wide["rank1"] <= split["rank1"]
    # as text, every nested figure is a line named by its path, as in the report; no
    # Python dictionary is printed whole (the faces are cached by the JSON run)
    shown = io.StringIO()
    argv = [*base, "--splits", "2", "--resamples", "0", "--distractors", "singletons"]
    with contextlib.redirect_stdout(shown):
        assert main(argv) == 0
    lines = dict(line.strip().split(": ", 1) for line in shown.getvalue().splitlines())
    assert float(lines["identity_disjoint.singletons_enrolled.rank1"]) == pytest.approx(
        wide["rank1"], abs=1e-3
    )
    assert lines["identity_disjoint.gallery_size"] == str(split["gallery_size"])
    assert "{'" not in shown.getvalue()
