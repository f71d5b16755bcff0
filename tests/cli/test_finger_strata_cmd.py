"""``mobileid eval fingers-strata --report``: the HTML page names the pipeline, one row a figure."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from mobileid.cli.finger_strata_cmd import _write_report, add_finger_strata_parser
from mobileid.eval.finger_splits import SplitRow


def test_report_option_is_parsed() -> None:
    """``--report OUTDIR``, ``--splits N``, ``--fit-fingers K`` reach the handler's arguments
    (absent: None, 0 splits, 7 fingers)."""
    parser = argparse.ArgumentParser(prog="mobileid")
    ev = parser.add_subparsers(dest="command").add_parser("eval").add_subparsers(dest="what")
    add_finger_strata_parser(ev, argparse.ArgumentParser(add_help=False))
    base = ["eval", "fingers-strata", "--root", "r", "--pooled", "p.json"]
    assert parser.parse_args(base).report is None
    assert parser.parse_args([*base, "--report", "out"]).report == Path("out")
    assert (parser.parse_args(base).splits, parser.parse_args(base).fit_fingers) == (0, 7)
    args = parser.parse_args([*base, "--splits", "4", "--fit-fingers", "6"])
    assert (args.splits, args.fit_fingers) == (4, 6)


def test_strata_report_names_the_pipeline_and_shows_each_check_row(tmp_path: Path) -> None:
    """Each checked stratum's row (and split check row) per predicted FMR is a table row;
    metrics.json keeps it."""
    row = {"predicted": 0.001, "threshold": 0.41, "observed": 0.0, "upper95": 2.7e-4}
    report = {
        "pipeline_id": "finger/contact-test/1",
        "min_good_quality": 55.0,
        "check": {"poor_share": 0.2, "good": [row], "poor": []},
        "sets": {"DB1_B as captured": {"eer": 0.0036, "failed": {}}},
        "split_check": [
            asdict(SplitRow("DB1_B faint", 0.001, 1456, 0, 2.06e-3, 0)) | {"observed": 0.0}
        ],
    }
    _write_report(tmp_path, report)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<code>finger/contact-test/1</code>" in page
    assert "<tr><th>check.good.at FMR 0.001.upper95</th><td>0.00027</td></tr>" in page
    assert "<tr><th>check.poor</th><td>none</td></tr>" in page
    assert "<tr><th>sets.DB1_B as captured.eer</th><td>0.0036</td></tr>" in page
    assert "<th>split_check.DB1_B faint at FMR 0.001.upper95</th>" in page
    saved = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert saved["check"]["good"]["at FMR 0.001"]["observed"] == 0.0
