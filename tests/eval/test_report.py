"""The evaluation report: real PNG plots, metrics.json and an index.html that links them."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from mobileid import NOTICE
from mobileid.errors import InvalidArgument
from mobileid.eval.metrics import identification_metrics
from mobileid.eval.report import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert len(data) > 5000, f"{path.name} is suspiciously small ({len(data)} bytes)"


def test_verification_report(tmp_path: Path) -> None:
    """DET and score plots are PNGs; the HTML links them and shows metrics, pipeline and notice."""
    rng = np.random.default_rng(2)
    genuine = np.append(rng.normal(0.7, 0.1, 300), -math.inf)  # one failed enrolment
    impostor = rng.normal(0.2, 0.1, 20_000)
    metrics = {
        "eer": 0.01234,
        "accuracy": 0.9938,
        "pipeline_id": "face/dlib-resnet-v1",
        "band_fpir": {"strong": 0.0, "possible": 0.004},
        "not_measured": math.nan,
    }
    index = write_report(
        tmp_path / "out",
        "Face verification <dev>",
        metrics,
        genuine=genuine,
        impostor=impostor,
        thresholds={"strong": 0.6, "possible": 0.5},
    )
    assert index == tmp_path / "out" / "index.html"
    _assert_png(index.parent / "det.png")
    _assert_png(index.parent / "scores.png")
    assert not (index.parent / "cmc.png").exists()
    page = index.read_text(encoding="utf-8")
    for text in ('src="det.png"', 'src="scores.png"', "0.01234", "0.9938", "band_fpir.possible"):
        assert text in page
    assert "face/dlib-resnet-v1" in page and NOTICE in page
    assert "Face verification &lt;dev&gt;" in page
    saved = json.loads((index.parent / "metrics.json").read_text(encoding="utf-8"))
    assert saved["eer"] == 0.01234 and saved["not_measured"] is None
    assert saved["band_fpir"] == {"strong": 0.0, "possible": 0.004}


def test_identification_report(tmp_path: Path) -> None:
    """An identification report has DET (FPIR vs FNIR), score and CMC plots, all linked."""
    rng = np.random.default_rng(4)
    scores = rng.normal(0, 1, (80, 50))
    mate = np.where(np.arange(80) < 50, np.arange(80), -1)
    scores[np.arange(50), np.arange(50)] += 3.0
    scores[0] = -math.inf  # a mated probe that failed to enrol
    ident = identification_metrics(scores, mate)
    metrics = {"rank1": ident.rank1, "fnir_at_fpir_0.01": ident.fnir_at_fpir[0.01]}
    index = write_report(tmp_path, "Face identification", metrics, ident=ident)
    for name in ("det.png", "scores.png", "cmc.png"):
        _assert_png(tmp_path / name)
        assert f'src="{name}"' in index.read_text(encoding="utf-8")
    assert f"{ident.rank1:.6g}" in index.read_text(encoding="utf-8")


def test_report_leaves_pyplot_alone(tmp_path: Path) -> None:
    """Writing a report does not import pyplot (so it never switches the caller's backend)."""
    had_pyplot = "matplotlib.pyplot" in sys.modules
    write_report(tmp_path, "t", {"eer": 0.0}, genuine=[0.9, 0.8], impostor=[0.1, 0.2])
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules


def test_report_without_scores_still_writes_metrics(tmp_path: Path) -> None:
    """With metrics only, index.html and metrics.json are written and no image is linked."""
    index = write_report(tmp_path, "t", {"fte_rate": 0.02})
    assert "<img" not in index.read_text(encoding="utf-8")
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8")) == {"fte_rate": 0.02}


def test_report_needs_both_score_sets(tmp_path: Path) -> None:
    """Genuine scores without impostor scores are an invalid argument."""
    with pytest.raises(InvalidArgument) as info:
        write_report(tmp_path, "t", {}, genuine=[0.9])
    assert info.value.field == "impostor"


def test_report_shows_an_empty_map(tmp_path: Path) -> None:
    """A metric whose value is an empty map (no enrolment failures) is a row saying "none"."""
    index = write_report(tmp_path, "t", {"failed_to_enrol": {}, "fte_rate": 0.0})
    page = index.read_text(encoding="utf-8")
    assert "<tr><th>failed_to_enrol</th><td>none</td></tr>" in page


def test_report_shows_rows_of_a_list_as_json(tmp_path: Path) -> None:
    """A list of records (render ranks) shows each as JSON, not as Python's repr."""
    ranks = [{"render": "s1_0.png", "rank": 1}, {"render": "s1_22.png", "rank": 2}]
    page = write_report(tmp_path, "t", {"render_ranks": ranks, "none_yet": []}).read_text()
    assert "{&quot;render&quot;: &quot;s1_0.png&quot;, &quot;rank&quot;: 1}, {" in page
    assert "&#x27;" not in page
    assert "<tr><th>none_yet</th><td>none</td></tr>" in page


def test_report_says_why_a_band_has_no_line(tmp_path: Path) -> None:
    """A band the calibration cannot resolve gets one line saying why; a resolved one a row."""
    from mobileid.eval.report import band_lines
    from mobileid.scoring import build_calibration

    rng = np.random.default_rng(5)
    impostor = rng.normal(0.2, 0.1, 2_880)  # an FVC "B" set's cross-finger impostors
    cal = build_calibration(impostor, 280, matcher="m", dataset="d")
    lines, unshown = band_lines(cal, {"strong": 1e-5, "possible": 1e-3})
    assert set(lines) == {"possible"} and set(unshown) == {"strong"}
    page = write_report(
        tmp_path, "t", {}, genuine=[0.9], impostor=impostor, thresholds=lines, unshown=unshown
    ).read_text(encoding="utf-8")
    said = "No strong-band line: 2,880 impostor comparisons resolve FMR down to 3.5e-04 only"
    assert page.count(said) == 1 and "<tr><th>possible</th>" in page


def test_cmc_rank_axis_has_whole_ranks(tmp_path: Path) -> None:
    """A short CMC curve (five ranks) puts ticks on whole ranks only."""
    from mobileid.eval.report import _cmc

    fig = _cmc(np.array([0.6, 0.7, 0.8, 0.85, 0.9]))
    fig.savefig(tmp_path / "cmc.png", format="png")  # ticks are placed when drawn
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)
