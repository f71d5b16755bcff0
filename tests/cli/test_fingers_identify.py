"""``mobileid enroll fingers`` and ``mobileid identify finger``: exit codes and JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes
from tests.finger.test_contactless import RIGHT_POSITIONS, four_finger_photo, jpeg, photo_path

KEYS = {"search_id", "modality", "purpose", "legal_authority", "case_number", "training",
        "candidates", "pipeline_id", "notice", "galleries", "gallery_sizes", "probes",
        "thresholds", "fmr_bounds", "fmr_resolution", "expected_false_candidates",
        "fusion_rule", "calibration", "contactless", "calibrations",
        "refused_fingertips"}  # fmt: skip
CANDIDATE = {"subject_id", "name", "gallery", "score", "fmr", "band", "pipeline_id", "source",
             "matches", "rank"}  # fmt: skip


def _db1(name: str) -> Path:
    return shared_path("fingerprints", "FVC2002", "DB1_B", name)


def test_enrol_then_identify_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Enrolment reports counts; a search prints one JSON object with the stable keys."""
    for finger, position in ((104, "left_thumb"), (107, "right_middle")):
        (tmp_path / "in" / f"P{finger}").mkdir(parents=True)
        (tmp_path / "in" / f"P{finger}" / f"{position}.tif").symlink_to(_db1(f"{finger}_1.tif"))
    data = ["--data-dir", str(tmp_path / "data")]
    write_purposes(tmp_path / "data")
    assert main(["enroll", "fingers", str(tmp_path / "in"), "--json", *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["subjects_enrolled"], report["prints_added"], report["failures"]) == (2, 2, [])
    search = ["identify", "finger", str(_db1("104_3.tif")), "--purpose", LIVE_PURPOSE]
    assert main([*search, "--case", "CASE-C1", "--top", "2", "--json", *data]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() == KEYS and out["modality"] == "finger"
    assert out["candidates"][0].keys() == CANDIDATE
    best = out["candidates"][0]
    assert (best["name"], best["band"], best["rank"]) == ("P104", "possible", 1)
    assert best["matches"][0]["position"] == "left_thumb"
    assert out["thresholds"]["strong"] is None and "human review" in out["notice"]
    assert out["gallery_sizes"] == {"default": 2}


def test_identify_without_a_case_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A search without a case number exits 2 with a JSON error naming the field."""
    write_purposes(tmp_path / "data")
    argv = ["identify", "finger", str(_db1("104_3.tif")), "--purpose", LIVE_PURPOSE, "--json"]
    assert main([*argv, "--case", "", "--data-dir", str(tmp_path / "data")]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "case_number"


def test_photos_enrol_and_a_hand_photo_searches_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--contactless``: photos enrol; a four-finger photo searches with each fingertip and
    the JSON gives each probe's position and each calibration's limits (no strong band)."""
    (tmp_path / "in" / "P1").mkdir(parents=True)
    (tmp_path / "in" / "P1" / "right_index.jpg").symlink_to(photo_path("1_i_1_w_1.jpg"))
    data = ["--data-dir", str(tmp_path / "data")]
    write_purposes(tmp_path / "data")
    enrol = ["enroll", "fingers", str(tmp_path / "in"), "--contactless", "--json", *data]
    assert main(enrol) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["prints_added"], report["failures"]) == (1, [])
    assert report["pipeline_id"].startswith("finger/contactless-")
    hand = tmp_path / "hand.jpg"
    hand.write_bytes(jpeg(four_finger_photo()))
    search = ["identify", "finger", str(hand), "--contactless", "--purpose", LIVE_PURPOSE]
    assert main([*search, "--case", "CASE-C2", "--json", *data]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() == KEYS and out["contactless"] is True
    assert [p["position"] for p in out["probes"]] == RIGHT_POSITIONS
    assert "right hand" in out["probes"][0]["positions"]
    assert out["thresholds"]["strong"] is None
    assert len(out["calibrations"]) == 2
    assert all(c["thresholds"]["strong"] is None for c in out["calibrations"])
    assert all("impostor comparisons only" in c["dataset"] for c in out["calibrations"])
    best = out["candidates"][0]
    strongest = max(best["matches"], key=lambda m: m["score"])
    assert best["name"] == "P1" and strongest["probe"] == 3  # the index fingertip
    assert best["band"] != "strong"


def test_a_face_photo_is_refused_as_a_fingertip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A face photo given as a fingertip photo exits 4 with a JSON error naming the image."""
    write_purposes(tmp_path / "data")
    (tmp_path / "in" / "P104").mkdir(parents=True)
    (tmp_path / "in" / "P104" / "left_thumb.tif").symlink_to(_db1("104_1.tif"))
    assert (
        main(["enroll", "fingers", str(tmp_path / "in"), "--data-dir", str(tmp_path / "data")]) == 0
    )
    capsys.readouterr()
    face = next(shared_path("faces", "face_recognition_samples").rglob("obama.jpg"))
    argv = ["identify", "finger", str(face), "--contactless", "--purpose", LIVE_PURPOSE]
    assert main([*argv, "--case", "CASE-C3", "--json", "--data-dir", str(tmp_path / "data")]) == 4
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["code"], error["field"]) == ("not_a_fingerprint", "IMAGE[0]")
    assert error["message"].startswith("IMAGE[0]: expected a ")
