"""``mobileid identify person``: a face and a print searched together; JSON shape, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

KEYS = {"search_id", "modality", "purpose", "legal_authority", "case_number", "training",
        "candidates", "notice", "galleries", "fmr_bounds", "fmr_resolution", "fusion_rule",
        "face", "finger"}  # fmt: skip
CANDIDATE = {"subject_id", "name", "gallery", "fmr", "band", "evidence", "face_fmr",
             "finger_fmr", "source", "rank"}  # fmt: skip


def _lfw(person: str, k: int) -> Path:
    return shared_path("faces", "lfw-dev", person, f"{person}_{k:04d}.jpg")


def _db1(name: str) -> Path:
    return shared_path("fingerprints", "FVC2002", "DB1_B", name)


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Two subjects with a face and a finger each (chimeras of LFW and FVC2002 DB1_B)."""
    for subject, person, finger in (("P1", "Aaron_Peirsol", 104), ("P2", "Abdullah_Gul", 107)):
        (tmp_path / "faces" / subject).mkdir(parents=True)
        (tmp_path / "faces" / subject / "1.jpg").symlink_to(_lfw(person, 1))
        (tmp_path / "prints" / subject).mkdir(parents=True)
        (tmp_path / "prints" / subject / "right_index.tif").symlink_to(_db1(f"{finger}_1.tif"))
    args = ["--data-dir", str(tmp_path / "data")]
    write_purposes(tmp_path / "data")
    assert main(["enroll", "faces", str(tmp_path / "faces"), "--json", *args]) == 0
    assert main(["enroll", "fingers", str(tmp_path / "prints"), "--json", *args]) == 0
    capsys.readouterr()
    return args


def test_face_and_print_give_one_fused_json_answer(
    data: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["identify", "person", "--face", str(_lfw("Aaron_Peirsol", 2))]
    argv += ["--finger", str(_db1("104_4.tif")), "--purpose", LIVE_PURPOSE, "--case", "C-9"]
    assert main([*argv, "--json", *data]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() == KEYS and out["modality"] == "face+finger"
    best = out["candidates"][0]
    assert best.keys() == CANDIDATE and (best["name"], best["rank"]) == ("P1", 1)
    assert best["face_fmr"] is not None and best["finger_fmr"] is not None
    assert best["fmr"] <= min(best["face_fmr"], best["finger_fmr"])
    assert out["face"]["pipeline_id"].startswith("face/")
    assert out["finger"]["pipeline_id"].startswith("finger/")
    assert "human review" in out["notice"]
    assert main(["audit", "show", "--json", *data]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    searches = [e for e in entries if e["event"] == "search"]
    assert [e["details"]["modality"] for e in searches] == ["face+finger"]


def test_a_face_photo_given_as_a_print_is_refused_with_its_field(
    data: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["identify", "person", "--face", str(_lfw("Aaron_Peirsol", 2))]
    argv += ["--finger", str(_lfw("Abdullah_Gul", 2)), "--purpose", LIVE_PURPOSE, "--case", "C-10"]
    assert main([*argv, "--json", *data]) == 4
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "FINGER[0]" and error["code"] == "not_a_fingerprint"
