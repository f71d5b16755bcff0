"""The mobileid command: stable interfaces, JSON on stdout, exit codes for errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

WHY = ["--purpose", LIVE_PURPOSE, "--case", "CASE-0001"]

PEOPLE = ["Alejandro_Toledo", "Alvaro_Uribe", "Andre_Agassi", "Bill_Clinton"]
SINGLES = ["AJ_Cook", "AJ_Lamas", "Aaron_Guiel", "Aaron_Patterson"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def people(tmp_path_factory, lfw_dev) -> Path:
    root = tmp_path_factory.mktemp("cli")
    link_subjects(lfw_dev, root / "people", PEOPLE, per_subject=3)
    link_subjects(lfw_dev, root / "people", SINGLES, per_subject=1)
    return root


@pytest.fixture(scope="module")
def enrolled_data(people, tmp_path_factory) -> str:
    """A data dir with the people enrolled in the default gallery."""
    data = tmp_path_factory.mktemp("enrolled")
    write_purposes(data)
    assert main(["enroll", "faces", str(people / "people"), "--data-dir", str(data)]) == 0
    return str(data)


def test_enrol_identify_list_show_delete(capsys, people, lfw_dev, tmp_path):
    """The documented commands work together and print parseable JSON."""
    write_purposes(tmp_path / "data")
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, err = run(capsys, "enroll", "faces", str(people / "people"), *data, "--json")
    assert code == 0, err
    assert json.loads(out)["images_added"] == 16
    assert "enrol:" in err  # progress on stderr

    probe = lfw_dev / "Andre_Agassi" / "Andre_Agassi_0010.jpg"
    code, out, _ = run(capsys, "identify", "face", str(probe), "--top", "3", "--json", *data, *WHY)
    result = json.loads(out)
    assert code == 0
    assert next(c["name"] for c in result["candidates"]) == "Andre Agassi"
    first = result["candidates"][0]
    assert {"subject_id", "name", "gallery", "score", "fmr", "band"} <= first.keys()
    assert first["band"] == "strong" and len(result["candidates"]) == 3
    assert result["pipeline_id"] and "human review" in result["notice"]

    code, out, _ = run(capsys, "subjects", "list", "--json", *data)
    subjects = json.loads(out)["subjects"]
    assert code == 0 and len(subjects) == 8
    sid = next(s["subject_id"] for s in subjects if s["name"] == "Andre Agassi")
    code, out, _ = run(capsys, "subjects", "show", sid, "--json", *data)
    assert json.loads(out)["embeddings"] == 3
    code, out, _ = run(capsys, "subjects", "delete", sid, *data)
    assert code == 0 and "deleted" in out
    code, out, err = run(capsys, "subjects", "show", sid, "--json", *data)
    assert code == 5 and json.loads(out)["error"]["code"] == "not_found"

    code, out, _ = run(capsys, "identify", "face", str(probe), "--json", *data, *WHY)
    assert json.loads(out)["candidates"][0]["name"] != "Andre Agassi"


@pytest.mark.parametrize(
    ("content", "code", "error"),
    [
        (None, 2, "invalid_argument"),
        (b"hello, this is text", 3, "unsupported_image"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x02\0\0\0", 3, "corrupt_image"),
    ],
)
def test_errors_have_exit_codes_and_json(capsys, tmp_path, enrolled_data, content, code, error):
    """Missing, non-image and broken files exit non-zero with a stable error code."""
    path = tmp_path / "probe.jpg"
    if content is not None:
        path.write_bytes(content)
    got, out, err = run(
        capsys, "identify", "face", str(path), "--json", "--data-dir", enrolled_data, *WHY
    )
    assert got == code
    assert json.loads(out)["error"]["code"] == error
    assert "mobileid: error:" in err


def test_no_face_exits_4_with_advice(capsys, tmp_path, enrolled_data):
    """A photo without a face exits 4 and says what to do."""
    import numpy as np
    from PIL import Image

    path = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 400, 3), 90, dtype=np.uint8)).save(path)
    got, _out, err = run(capsys, "identify", "face", str(path), "--data-dir", enrolled_data, *WHY)
    assert got == 4 and "move closer" in err


def test_unknown_gallery_exits_5(capsys, enrolled_data, lfw_dev):
    """Searching a gallery that does not exist names the galleries that do."""
    probe = lfw_dev / "Andre_Agassi" / "Andre_Agassi_0010.jpg"
    got, out, _ = run(
        capsys,
        "identify",
        "face",
        str(probe),
        "--gallery",
        "nope",
        "--json",
        *WHY,
        "--data-dir",
        enrolled_data,
    )
    assert got == 5 and "default" in json.loads(out)["error"]["message"]


def test_eval_faces_identify_and_verify_with_report(capsys, people, tmp_path):
    """Both face protocols print the documented JSON keys and write an HTML report."""
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = run(
        capsys,
        "eval",
        "faces",
        "identify",
        "--root",
        str(people / "people"),
        "--json",
        "--report",
        str(tmp_path / "rep"),
        *data,
    )
    m = json.loads(out)
    assert code == 0
    for key in (
        "rank1",
        "fnir_at_fpir_0.01",
        "fnir_at_fpir_0.001",
        "gallery_size",
        "mated_probes",
        "nonmated_probes",
        "fte_rate",
        "pipeline_id",
        "band_fpir",
        "band_fpir_predicted",
    ):
        assert key in m, key
    assert (m["gallery_size"], m["mated_probes"], m["nonmated_probes"]) == (4, 8, 4)
    assert m["rank1"] == 1.0 and m["fte_rate"] == 0.0
    assert (tmp_path / "rep" / "index.html").exists() and (tmp_path / "rep" / "cmc.png").exists()

    code, out, _ = run(
        capsys, "eval", "faces", "verify", "--root", str(people / "people"), "--json", *data
    )
    v = json.loads(out)
    assert code == 0
    assert v["genuine_pairs"] == 12 and v["impostor_pairs"] == 16 * 15 // 2 - 12
    for key in ("accuracy", "tar_at_far_1e-3", "eer", "fte_rate", "pipeline_id"):
        assert key in v
    assert v["eer"] < 0.1


def test_eval_verify_with_an_lfw_pairs_file(capsys, people, tmp_path):
    """An LFW-format pairs file is read and its pairs scored; a bad line is refused."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "2\t2\nAndre_Agassi\t1\t2\nBill_Clinton\t1\t3\nAJ_Cook\t1\tAJ_Lamas\t1\n"
        "Alvaro_Uribe\t1\tBill_Clinton\t2\n"
        "Alejandro_Toledo\t2\t3\nAlvaro_Uribe\t1\t2\nAaron_Guiel\t1\tAndre_Agassi\t3\n"
        "Aaron_Patterson\t1\tAlvaro_Uribe\t3\n"
    )
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = run(
        capsys,
        "eval",
        "faces",
        "verify",
        "--root",
        str(people / "people"),
        "--pairs",
        str(pairs),
        "--json",
        *data,
    )
    v = json.loads(out)
    assert code == 0 and v["folds"] == 2 and v["genuine_pairs"] == 4 and v["impostor_pairs"] == 4
    assert v["accuracy"] == 1.0
    pairs.write_text("1\t1\nAndre_Agassi\tone\t2\n")
    code, out, _ = run(
        capsys,
        "eval",
        "faces",
        "verify",
        "--root",
        str(people / "people"),
        "--pairs",
        str(pairs),
        "--json",
        *data,
    )
    assert code == 2 and "pairs line 2" in json.loads(out)["error"]["message"]


def test_search_disposition_audit_and_oversight(capsys, enrolled_data, lfw_dev):
    """A search, its disposition, an intact audit chain and the oversight report agree."""
    data = ["--data-dir", enrolled_data]
    probe = lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg"
    code, out, _ = run(capsys, "identify", "face", str(probe), "--json", *data, *WHY)
    search_id = json.loads(out)["search_id"]
    code, out, _ = run(capsys, "disposition", search_id, "not_a_match", "--json", *data)
    assert code == 0 and json.loads(out)["disposition"] == "not_a_match"
    code, out, _ = run(capsys, "audit", "verify", "--json", *data)
    assert code == 0 and json.loads(out)["ok"] is True
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    code, out, _ = run(
        capsys,
        "report",
        "oversight",
        "--from",
        str(today - timedelta(days=1)),
        "--to",
        str(today + timedelta(days=1)),
        "--json",
        *data,
    )
    report = json.loads(out)
    assert code == 0 and report["chain"]["ok"] is True
    assert report["searches"]["per_purpose"][LIVE_PURPOSE]["live"] >= 1
    assert report["dispositions"]["recorded"]["not_a_match"] >= 1


def test_identify_without_a_purpose_is_refused(capsys, enrolled_data, lfw_dev):
    """Leaving out --purpose or --case exits 2 before any search, naming the field."""
    probe = lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg"
    code, out, _ = run(
        capsys,
        "identify",
        "face",
        str(probe),
        "--json",
        "--data-dir",
        enrolled_data,
        "--case",
        "C-123",
    )
    assert code == 2 and json.loads(out)["error"]["field"] == "purpose"
    code, out, _ = run(
        capsys,
        "identify",
        "face",
        str(probe),
        "--json",
        "--data-dir",
        enrolled_data,
        "--purpose",
        LIVE_PURPOSE,
    )
    assert code == 2 and json.loads(out)["error"]["field"] == "case_number"
