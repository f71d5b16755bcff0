"""Finger and person (face + finger) practice searches on the training range, over HTTP: scored
like face ones (quality gates, whether the enrolled mate ranked first), kept in the trainee's
record per modality, and counted toward certification.

The range gets chimera subjects, as multimodal evaluations build them: the LFW face images of
Colin Powell (enrolled by the deployment) and the FVC2002 DB1_B prints of finger 101 under
one name, a subject with prints only (finger 102), and one with a face only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mobileid.audit import EventType
from mobileid.service.caller import console_caller
from mobileid.service.enrol import enrol_directory
from mobileid.service.finger_enrol import enrol_fingers
from tests.api.conftest import API, Deployment, assert_problem
from tests.conftest import link_subjects, shared_path

TRAINEE = "trn3"  # entitled to the training gallery "range" only; these tests alone use it


def _db1(finger: int, k: int) -> Path:
    return shared_path("fingerprints", "FVC2002", "DB1_B", f"{finger}_{k}.tif")


@pytest.fixture(scope="module")
def range_with_prints(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("range-prints")
    for name, finger in (("Colin_Powell", 101), ("Print_Only", 102)):
        (root / "prints" / name).mkdir(parents=True)
        for k in (1, 2):
            (root / "prints" / name / f"{finger}_{k}.tif").symlink_to(_db1(finger, k))
    console = console_caller()
    report = enrol_fingers(deployment.ctx, console, root / "prints", gallery="range", training=True)
    assert report.subjects_enrolled == 2 and not report.failures, report
    link_subjects(deployment.lfw, root / "faces", ["Ariel_Sharon"], per_subject=1)
    enrol_directory(deployment.ctx, console, root / "faces", gallery="range", training=True)


def _practice(d: Deployment, route: str, files: list[Any], **form: Any) -> Any:
    data = {"purpose": "training", "case": "TR-P1", **form}
    return d.client.post(f"{API}/searches/{route}", headers=d.headers(TRAINEE), files=files,
                         data=data)  # fmt: skip


def _figures(d: Deployment) -> dict[str, Any]:
    answer = d.client.get(f"{API}/me", headers=d.headers(TRAINEE))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["certification"]["training"])


def _print(finger: int, k: int) -> tuple[str, tuple[str, bytes, str]]:
    return ("images", (f"{finger}_{k}.tif", _db1(finger, k).read_bytes(), "image/tiff"))


def _blank() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 300), 200, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.usefixtures("range_with_prints")
def test_a_finger_practice_search_is_scored_and_counted(deployment: Deployment) -> None:
    """An unseen print of the enrolled finger: the mate ranks first, the gates pass, the answer
    says the range keeps no fingertip photo; a blank print is refused (422) and still counts,
    as a capture that failed the gates; both count toward certification, under "finger"."""
    d = deployment
    before = _figures(d)
    answer = _practice(d, "fingers", [_print(101, 5)], target="Colin Powell")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["candidates"][0]["name"] == "Colin Powell" and body["galleries"] == ["range"]
    score = body["practice"]
    assert (score["modality"], score["mate_rank"], score["mate_first"]) == ("finger", 1, True)
    assert score["quality_passed"] is True and score["problems"] == []
    assert score["reference_photo_url"] is None and "no fingertip photos" in score["good_capture"]

    blank = [("images", ("blank.png", _blank(), "image/png"))]
    refused = _practice(d, "fingers", blank, target="Colin Powell")
    assert_problem(refused, 422, "not_a_fingerprint")
    after = _figures(d)
    assert after["practice_searches"] == before["practice_searches"] + 2
    assert after["quality_passed"] == before["quality_passed"] + 1
    assert after["mate_first"] == before["mate_first"] + 1
    finger = after["by_modality"]["finger"]
    was = before["by_modality"].get("finger", {"practice_searches": 0, "mate_first": 0})
    assert finger["practice_searches"] == was["practice_searches"] + 2
    assert finger["mate_first"] == was["mate_first"] + 1
    assert (
        sum(m["practice_searches"] for m in after["by_modality"].values())
        == (after["practice_searches"])
    )


@pytest.mark.usefixtures("range_with_prints")
def test_a_finger_practice_search_that_misses_the_mate_scores_a_miss(
    deployment: Deployment,
) -> None:
    """The print of the subject with prints only, searched as if it were Colin Powell's: the
    gates pass but the stated mate does not rank first."""
    answer = _practice(deployment, "fingers", [_print(102, 6)], target="Colin Powell")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["candidates"][0]["name"] == "Print Only"
    score = body["practice"]
    assert score["quality_passed"] is True and score["mate_first"] is False
    assert score["mate_rank"] != 1


@pytest.mark.usefixtures("range_with_prints")
def test_a_person_practice_search_shows_a_good_face_capture(deployment: Deployment) -> None:
    """An unseen face photo and an unseen print of the chimera: the mate ranks first on the
    fused list, the gates pass, and the answer points at the subject's reference photo (a good
    face capture of the same person, which the caller may open)."""
    d = deployment
    files = [
        ("face", ("face.jpg", d.photo("Colin_Powell", 3), "image/jpeg")),
        ("fingers", ("101_6.tif", _db1(101, 6).read_bytes(), "image/tiff")),
    ]
    answer = _practice(d, "person", files, target="Colin Powell")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    score = body["practice"]
    assert (score["modality"], score["mate_rank"], score["quality_passed"]) == (
        "face+finger", 1, True,
    )  # fmt: skip
    url = score["reference_photo_url"]
    assert url and "good face capture" in score["good_capture"]
    assert body["candidates"][0]["subject_id"] in url
    assert _figures(d)["by_modality"]["face+finger"]["mate_first"] >= 1


@pytest.mark.usefixtures("range_with_prints")
def test_a_finger_practice_target_needs_enrolled_prints(deployment: Deployment) -> None:
    """A target enrolled by face only cannot be a finger search's mate: 400 naming the target,
    audited, and not counted; a live search may not name a target at all."""
    d = deployment
    before = _figures(d)["practice_searches"]
    seq = d.audit_count()
    refused = _practice(d, "fingers", [_print(101, 7)], target="Ariel Sharon")
    body = assert_problem(refused, 400)
    assert body["field"] == "target" and "enrolled fingerprints" in body["detail"]
    entry = [e for e in d.ctx.audit.read(seq + 1) if e.event == EventType.SEARCH][-1]
    assert entry.outcome == "refused" and entry.details["modality"] == "finger"
    assert _figures(d)["practice_searches"] == before
    live = d.client.post(
        f"{API}/searches/fingers", headers=d.headers("off1"), files=[_print(101, 7)],
        data={"purpose": "lead-check", "case": "CASE-P2", "galleries": ["field"],
              "target": "Colin Powell"},
    )  # fmt: skip
    assert assert_problem(live, 400)["field"] == "target"
