"""Multi-image subject templates on real lfw-dev faces (the session's small sample,
tests/eval/conftest.py): the enrolment, the three readings, the splits' figures, the option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobileid.eval.cohort_eval import build_cohort, with_offsets
from mobileid.eval.faces import EmbeddedSet
from mobileid.eval.open_set import open_set_split
from mobileid.eval.report import write_report
from mobileid.eval.splits import identity_splits, subset
from mobileid.eval.tail import TailModel
from mobileid.eval.template_scores import enrol_up_to, image_scores, template_scores
from mobileid.eval.templates import READINGS, split_templates
from mobileid.face.cohort import CohortNorm, cohort_terms
from tests.conftest import cli_json

NORM = CohortNorm(3, 0.5, 0.0)  # the sample's cohort holds a few faces only


def test_enrolment_leaves_each_subject_a_probe(sample: EmbeddedSet) -> None:
    """Up to N images per subject, never all of them: with N = 1 it is the open-set split;
    with N = 2 the sample's three-image people enrol two and search with the third; with N = 9
    still two; single-image people are searched for, never enrolled."""
    gallery, probes, mate = open_set_split(sample.identity)
    one = enrol_up_to(sample, 1)
    assert [int(g[0]) for g in one.images] == gallery.tolist()
    assert one.probes.tolist() == probes.tolist() and one.mate.tolist() == mate.tolist()
    for n in (2, 9):
        enrol = enrol_up_to(sample, n)
        assert {g.size for g in enrol.images} == {2}
        for c, g in enumerate(enrol.images):
            own = enrol.probes[enrol.mate == c]
            assert own.size == 1 and set(sample.identity[[*g, *own]]) == {sample.identity[g[0]]}
        singles = np.bincount(sample.identity)[sample.identity[enrol.probes]] == 1
        assert np.all((enrol.mate < 0) == singles)


def test_best_image_andtemplate_scores(sample: EmbeddedSet) -> None:
    """Best image: the subject's best normalised score over its images; template: the probe
    against the unit mean of the subject's vectors less the same probe term. The template
    scores a mate at least the mean of its two image cosines (the mean of two unit vectors
    is no longer than one)."""
    dev_mask = identity_splits(sample.identity, 1, seed=3)[0]
    cohort = build_cohort(subset(sample, np.flatnonzero(dev_mask)), "real")
    test = with_offsets(subset(sample, np.flatnonzero(~dev_mask)), NORM, cohort)
    enrol = enrol_up_to(test, 2)
    best = image_scores(test, enrol, first_only=False)
    tmpl = template_scores(test, enrol, NORM, cohort)
    assert best.comparisons == 2 * tmpl.comparisons == 2 * len(enrol.images)
    p, (a, b) = enrol.probes[0], enrol.images[0]
    assert best.sim[0, 0] == pytest.approx(max(test.scores([p, p], [a, b])))
    mean = test.vectors[a].astype(np.float64) + test.vectors[b]
    term = 0.5 * cohort_terms(test.vectors[[p]], cohort, 3)[0]
    want = float(test.vectors[p] @ (mean / np.linalg.norm(mean))) - term
    assert tmpl.sim[0, 0] == pytest.approx(want, abs=1e-5)
    for c, (a, b) in enumerate(enrol.images):
        (row,) = np.flatnonzero(enrol.mate == c)
        cosines = test.vectors[enrol.probes[row]] @ test.vectors[[a, b]].T
        probe_term = test.offsets[0][enrol.probes[row]]  # type: ignore[index]
        assert tmpl.sim[row, c] + probe_term >= cosines.mean() - 1e-6
    # every probe against every other subject's images, or templates
    others = sum(int(sum(g.size for k, g in enumerate(enrol.images) if k != c)) for c in enrol.mate)
    assert best.impostors.size == others
    assert tmpl.impostors.size == sum(len(enrol.images) - (c >= 0) for c in enrol.mate)


def test_splits_report_the_three_readings(sample: EmbeddedSet) -> None:
    """Pooled over splits: each reading's rank-1 and FNIR at FPIR, each band's FPIR within
    its bound beside a prediction that counts the comparisons a search makes (two per subject
    for the best image, one per template), the impostor tail at each line and the
    concentration of false candidates; the template read with its own table as well."""
    out = split_templates(
        sample, (1e-2, 1e-1), splits=2, seed=4, per_subject=2, norm=NORM, resamples=20
    )
    assert out["per_subject"] == 2 and out["gallery_images"] == 2 * out["gallery_subjects"]
    assert out["multi_image_subjects"] == out["gallery_subjects"] > 0
    rows = {k: out[k] for k in READINGS}
    assert rows["best_image"]["comparisons_per_search"] == out["gallery_images"]
    assert rows["template"]["comparisons_per_search"] == out["gallery_subjects"]
    assert rows["single_image"]["comparisons_per_search"] == out["gallery_subjects"]
    for name, row in rows.items():
        assert 0 < row["rank1"] <= 1, name
        assert 0 <= row["fnir_at_fpir_0.01"] <= row["fnir_at_fpir_0.001"] <= 1
        for band in ("strong", "possible"):
            assert 0 <= row["band_fpir"][band] <= row["band_fpir_upper95"][band] <= 1
        strong, possible = (row["impostor_fmr"][b] for b in ("strong", "possible"))
        assert strong["events"] <= possible["events"] and strong["comparisons"] > 0
        assert 0 <= possible["fmr"] <= possible["upper95"] <= 1 and possible["bound"] == 1e-1
        c = row["concentration"]["all_possible"]
        assert 0 <= c["worst_subject_max"] <= c["false_candidates"]
    assert rows["best_image"]["band_fpir_predicted"]["strong"] == pytest.approx(
        2 * rows["template"]["band_fpir_predicted"]["strong"]
    )
    single, best, tmpl, own = (rows[k]["impostor_fmr"]["possible"] for k in READINGS)
    assert best["comparisons"] > single["comparisons"] == tmpl["comparisons"]
    # the same template scores read with a table of template scores: only the lines move
    assert own["comparisons"] == tmpl["comparisons"]
    assert rows["template_own_table"]["rank1"] == rows["template"]["rank1"]
    assert out["template_table_comparisons"] > 0
    assert set(out["template_thresholds"]) == set(out["thresholds"])


def test_tail_reaches_the_template_tables(sample: EmbeddedSet) -> None:
    """With a GPD tail both tables of each split (single image, templates) are never more
    lenient than without it, the searches are the same, and the answer names the tail."""
    common = dict(splits=2, seed=4, per_subject=2, norm=NORM, resamples=20)
    boot = split_templates(sample, (1e-2, 1e-1), **common)  # type: ignore[arg-type]
    gpd = split_templates(sample, (1e-2, 1e-1), tail=TailModel(0.05, 10), **common)  # type: ignore[arg-type]
    assert boot["tail"] is None and gpd["tail"] == "gpd:0.05,10"
    for key in ("thresholds", "template_thresholds"):
        for line, t in boot[key].items():
            if t is not None and gpd[key][line] is not None:
                assert gpd[key][line] >= t - 1e-9, (key, line)
    for name in READINGS:
        assert gpd[name]["rank1"] == boot[name]["rank1"]


def test_report_shows_the_readings_side_by_side(sample: EmbeddedSet, tmp_path: Path) -> None:
    """The HTML report gives the four readings one table, each row with its own rank-1 and
    band figures; a run without --templates has no such table."""
    out = split_templates(
        sample, (1e-2, 1e-1), splits=2, seed=4, per_subject=2, norm=NORM, resamples=20
    )
    page = write_report(tmp_path / "t", "t", {"identity_disjoint": {"templates": out}}).read_text(
        encoding="utf-8"
    )
    table = page[page.index("<h2>Multi-image templates") :]
    table = table[: table.index("</table>")]
    assert table.count("<tr><td>") == len(READINGS)
    for name, label in (("single_image", "first image"), ("template_own_table", "its own table")):
        row = table[table.index(label) :].split("</tr>")[0]
        assert f"{100 * out[name]['rank1']:.2f}%" in row
        fpir = out[name]["band_fpir"]["possible"]
        assert f"{100 * fpir:.2f}% (" in row
    plain = write_report(tmp_path / "p", "p", {"identity_disjoint": {}}).read_text()
    assert "Multi-image templates" not in plain


def test_cli_refuses_a_bad_templates_option(tmp_path: Path) -> None:
    """``--templates`` needs 1..20 images per subject and --splits; a bad one is refused
    naming the field, before any image is read."""
    root = tmp_path / "empty"
    root.mkdir()
    base = ["eval", "faces", "identify", "--root", str(root), "--data-dir", str(tmp_path / "d")]
    code, out = cli_json(*base, "--splits", "2", "--templates", "0")
    assert code == 2 and out["error"]["field"] == "templates"
    assert "1..20, got 0" in out["error"]["message"]
    code, out = cli_json(*base, "--templates", "2")
    assert code == 2 and "--splits" in out["error"]["message"]
