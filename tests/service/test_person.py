"""Face and fingerprints searched together: one audit entry, evidence fused per subject.

The subjects are chimeras, as multimodal evaluations build them from single-modality sets:
the LFW face images of one identity and the FVC2002 DB1_B prints of one finger enrolled under
one folder name. Nothing else is attached to them.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobileid.audit import EventType
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NoFaceFound
from mobileid.finger.errors import NotAFingerprint
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.finger_enrol import enrol_fingers
from mobileid.service.finger_search import FingerCandidate
from mobileid.service.identify import require_reason
from mobileid.service.person import fuse_modalities, identify_person
from mobileid.types import Band, Candidate
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

CONSOLE = console_caller()

FACES = {"P1": "Aaron_Peirsol", "P2": "Abdullah_Gul", "P3": "Adrien_Brody"}
FINGERS = {"P1": 101, "P2": 102, "P4": 103}  # P3 has no prints, P4 no face


def _lfw(person: str, k: int) -> Path:
    return shared_path("faces", "lfw-dev", person, f"{person}_{k:04d}.jpg")


def _db1(finger: int, k: int) -> Path:
    return shared_path("fingerprints", "FVC2002", "DB1_B", f"{finger}_{k}.tif")


def _grey(value: int, size: int = 300) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("person")
    for subject, person in FACES.items():
        (root / "faces" / subject).mkdir(parents=True)
        for k in (1, 2):
            (root / "faces" / subject / f"{k}.jpg").symlink_to(_lfw(person, k))
    for subject, finger in FINGERS.items():
        (root / "prints" / subject).mkdir(parents=True)
        for k in (1, 2):
            (root / "prints" / subject / f"{finger}_{k}.tif").symlink_to(_db1(finger, k))
    settings = replace(Settings(), data_dir=root / "data")
    write_purposes(settings.data_dir)
    context = open_context(settings)
    enrol_directory(context, CONSOLE, root / "faces", gallery="field")
    enrol_fingers(context, CONSOLE, root / "prints", gallery="field")
    return context


def _search(ctx, face: bytes, fingers: list[bytes], **kw):  # type: ignore[no-untyped-def]
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-P1", modality="face+finger")
    return identify_person(ctx, CONSOLE, face, fingers, reason=reason, galleries=["field"], **kw)


def _searches(ctx) -> list:  # type: ignore[no-untyped-def]
    return [e for e in ctx.audit.read() if e.event == EventType.SEARCH]


def test_face_and_finger_of_one_subject_fuse_into_one_lead(ctx) -> None:  # type: ignore[no-untyped-def]
    before = len(_searches(ctx))
    result = _search(ctx, _lfw(FACES["P1"], 3).read_bytes(), [_db1(101, 5).read_bytes()])
    best = result.candidates[0]
    subjects = {s.subject_id: s.name for s in ctx.gallery.subjects("field")}
    assert subjects[best.subject_id] == "P1"
    assert best.face_fmr is not None and best.finger_fmr is not None
    # both pieces count, and the fused rate is never claimed below the finest resolution
    assert best.fmr <= min(best.face_fmr, best.finger_fmr)
    assert best.fmr >= result.fmr_resolution
    pieces = -np.log10(best.face_fmr) - np.log10(best.finger_fmr)
    assert best.evidence == pytest.approx(pieces, abs=1e-4)
    assert best.band is not Band.NONE
    # a subject with prints only keeps its finger piece alone
    p4 = [c for c in result.candidates if subjects[c.subject_id] == "P4"]
    assert all(c.face_fmr is None and c.fmr == c.finger_fmr for c in p4)
    entries = _searches(ctx)[before:]
    assert len(entries) == 1  # one request, one entry
    d = entries[0].details
    assert d["modality"] == "face+finger" and d["search_id"] == result.search_id
    assert d["pipeline_id"]["face"].startswith("face/")
    assert d["pipeline_id"]["finger"].startswith("finger/")
    assert d["best_band"] == best.band.value and d["purpose"] == LIVE_PURPOSE


def test_conflicting_face_and_finger_give_no_one_a_boost(ctx) -> None:  # type: ignore[no-untyped-def]
    """P1's face with P2's print: each subject gets one piece, neither gets both."""
    result = _search(ctx, _lfw(FACES["P1"], 3).read_bytes(), [_db1(102, 6).read_bytes()])
    subjects = {s.subject_id: s.name for s in ctx.gallery.subjects("field")}
    by_name = {subjects[c.subject_id]: c for c in result.candidates}
    p1, p2 = by_name["P1"], by_name["P2"]
    face_only = result.face.candidates[0]
    assert subjects[face_only.subject_id] == "P1"
    assert p1.fmr >= face_only.fmr  # P1's weak print score adds nothing that beats its face
    assert p2.fmr >= min(c.fmr for c in result.fingers.candidates)
    # P2 has only a print that is not the probe's finger: never near the strong band. (P1's
    # face alone is strong, 4.5e-7; fused with a print of another finger it is weaker, as
    # checked above: 8.7e-7 on matcher /3, so no bound of 1e-6 applies to P1.)
    assert p2.fmr > 1e-6


@pytest.mark.parametrize(
    ("face", "finger", "error", "field"),
    [
        (_grey(120, 400), None, NoFaceFound, None),
        (None, _grey(255), NotAFingerprint, "FINGER[0]"),
    ],
    ids=["no-face", "blank-print"],
)
def test_an_unusable_capture_refuses_the_whole_search(  # type: ignore[no-untyped-def]
    ctx, face, finger, error, field
) -> None:
    before = len(_searches(ctx))
    face = face if face is not None else _lfw(FACES["P1"], 3).read_bytes()
    finger = finger if finger is not None else _db1(101, 5).read_bytes()
    with pytest.raises(error) as info:
        _search(ctx, face, [finger])
    if field:
        assert info.value.field == field
    entries = _searches(ctx)[before:]
    assert [e.outcome for e in entries] == ["refused"]
    assert entries[0].details["error"] == info.value.code
    assert entries[0].details.get("field") == info.value.field  # FACE, or which FINGER


def test_no_prints_is_a_clear_error(ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match=r"FINGER: expected 1\.\.10 prints, got 0"):
        _search(ctx, _lfw(FACES["P1"], 3).read_bytes(), [])


def test_two_none_band_pieces_stay_out_of_the_strong_band() -> None:
    """Face and finger evidence of one subject add up; two weak pieces never reach strong."""
    from mobileid.config import BandParams

    def face(sid: str, fmr: float) -> Candidate:
        return Candidate(sid, sid, "g", 0.9, fmr, Band.NONE, "face/x")

    def finger(sid: str, fmr: float) -> FingerCandidate:
        return FingerCandidate(sid, sid, "g", 1.0, fmr, Band.NONE, "finger/x", "", ())

    resolution = 1 / 2880
    fused = fuse_modalities(
        [face("A", 2e-3), face("B", 1e-6), face("C", 5e-3)],
        [finger("A", 3e-3), finger("C", resolution), finger("D", 0.5)],
        floor=1 / 3_000_000,
        bands=BandParams(),
    )
    by = {c.subject_id: c for c in fused}
    assert fused[0].subject_id == "B" and by["B"].band is Band.STRONG  # face alone stands
    assert by["B"].fmr == 1e-6 and by["B"].finger_fmr is None
    assert by["A"].band is Band.POSSIBLE and by["A"].fmr >= 2e-4  # two none-band pieces
    assert by["C"].band is Band.POSSIBLE and by["D"].face_fmr is None
