"""The oversight report on a log written by real commands (enrolment, live searches, a refused
search, dispositions), not by the scenario: every figure checked against what was done."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, link_subjects, shared_path, write_purposes


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else {}


def test_the_report_counts_what_real_commands_did(
    tmp_path: Path, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three live searches (one refused: no face), two dispositions: the report's searches,
    refusals, cases, bands and dispositions equal what the commands did and answered."""
    people = link_subjects(lfw_dev, tmp_path / "people", ["Bill_Clinton", "Carlos_Menem"], 2)
    d = ["--data-dir", str(tmp_path / "data")]
    write_purposes(tmp_path / "data")
    assert _run(capsys, "enroll", "faces", str(people), *d)[0] == 0
    probes = [
        (lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg", "OV-001", "confirmed"),
        (lfw_dev / "Carlos_Menem" / "Carlos_Menem_0005.jpg", "OV-002", "not_a_match"),
    ]
    bands, tops = [], []
    for probe, case, disposition in probes:
        why = ["--purpose", LIVE_PURPOSE, "--case", case]
        code, answer = _run(capsys, "identify", "face", str(probe), *why, *d)
        assert code == 0, answer
        top = answer["candidates"][0]
        bands.append((top["band"], disposition))
        tops.append(top["subject_id"])
        ruling = [answer["search_id"], disposition, "--subject", top["subject_id"]]
        assert _run(capsys, "disposition", *ruling, *d)[0] == 0
    print_not_face = shared_path("fingerprints", "FVC2002", "DB1_B", "101_1.tif")
    why = ["--purpose", LIVE_PURPOSE, "--case", "OV-003"]
    assert _run(capsys, "identify", "face", str(print_not_face), *why, *d)[0] == 4
    today = datetime.now(UTC).date()
    window = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
    code, report = _run(capsys, "report", "oversight", *window, *d)
    assert code == 0 and report["chain"]["ok"] is True
    s = report["searches"]
    assert (s["total"], s["live"], s["training"]) == (3, 3, 0)
    assert s["by_outcome"] == {"ok": 2, "refused": 1}
    assert s["refusal_reasons"] == {"no_face_found": 1}
    assert s["distinct_cases"] == 3
    assert s["per_modality"] == {"face": {"live": 3, "training": 0}}
    assert s["per_purpose"] == {LIVE_PURPOSE: {"live": 3, "training": 0}}
    dispositions = report["dispositions"]
    assert dispositions["recorded"] == {
        "confirmed": 1, "not_a_match": 1, "inconclusive": 0, "no_action": 0,
    }  # fmt: skip
    for band, disposition in bands:
        assert dispositions["by_best_band"][band][disposition] >= 1
    judged = sum(1 for band, _ in bands if band == "strong")
    assert dispositions["strong_then_not_a_match"]["strong_searches"] == judged
    by_subject = dispositions["by_subject"]  # the second search's first candidate was ruled out
    assert by_subject["judged_not_a_match"] == 1
    assert [r["subject_id"] for r in by_subject["most_often_not_a_match"]] == [tops[1]]
