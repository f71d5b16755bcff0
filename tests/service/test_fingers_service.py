"""Finger enrolment and 1:N search end to end on real FVC2002 DB1_B prints, audited."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobileid.audit import EventType
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NotFound, PipelineMismatch
from mobileid.finger.errors import NotAFingerprint
from mobileid.service.context import open_context
from mobileid.service.fingers import fuse_fmrs, identify_fingers, print_position
from mobileid.service.identify import require_reason
from mobileid.service.purpose import TRAINING
from mobileid.types import Band
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

RESOLUTION = 1 / 2880  # the shipped finger calibration's smallest rate


def _db1(name: str) -> Path:
    return shared_path("fingerprints", "FVC2002", "DB1_B", name)


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 300), value, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Three FVC-named fingers and one position-named, 2 impressions each; bad prints too."""
    from mobileid.service.fingers import enrol_fingers

    root = tmp_path_factory.mktemp("fingers")
    people = root / "people"
    for finger in (101, 102, 103):
        (people / f"F{finger}").mkdir(parents=True)
        for k in (1, 2):
            (people / f"F{finger}" / f"{finger}_{k}.tif").symlink_to(_db1(f"{finger}_{k}.tif"))
    (people / "F105").mkdir()
    (people / "F105" / "right_index.tif").symlink_to(_db1("105_1.tif"))
    (people / "F105" / "right_index_2.tif").symlink_to(_db1("105_2.tif"))
    (people / "F101" / "101_9.png").write_text("not a print")
    (people / "F102" / "right_thumb.png").write_bytes(_png(255))
    (people / "F103" / "thumb.tif").symlink_to(_db1("103_3.tif"))
    (people / "Blank").mkdir()
    (people / "Blank" / "left_index.png").write_bytes(_png(128))
    (root / "range" / "R106").mkdir(parents=True)
    (root / "range" / "R106" / "106_1.tif").symlink_to(_db1("106_1.tif"))
    settings = replace(Settings(), data_dir=root / "data")
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    report = enrol_fingers(ctx, people, gallery="field")
    enrol_fingers(ctx, root / "range", gallery="range", training=True)
    return ctx, report, people


def _search(ctx, names, **kw):  # type: ignore[no-untyped-def]
    reason = require_reason(ctx, kw.pop("purpose", LIVE_PURPOSE), "CASE-F1", modality="finger")
    images = [_db1(n).read_bytes() for n in names]
    return identify_fingers(ctx, images, reason=reason, **{"galleries": ["field"], **kw})


def test_bad_prints_are_reported_and_skipped(enrolled) -> None:
    """Each bad print is reported with its reason; subjects keep their good prints."""
    ctx, report, _ = enrolled
    assert (report.subjects_enrolled, report.prints_added) == (4, 8)
    codes = {Path(f.path).name: f.code for f in report.failures}
    assert codes == {
        "101_9.png": "unsupported_image",
        "right_thumb.png": "not_a_fingerprint",
        "thumb.tif": "invalid_argument",
        "left_index.png": "not_a_fingerprint",
    }
    assert report.subjects_failed == ["Blank"]
    assert ctx.fingers.count("field") == 8
    f105 = next(s for s in ctx.gallery.subjects("field") if s.name == "F105")
    assert ctx.fingers.positions(f105.subject_id) == {"right_index": 2}


def test_enrolment_is_audited_per_subject_without_templates(enrolled) -> None:
    """One enrol entry per subject, with counts only; the audit chain verifies."""
    ctx, _, _ = enrolled
    enrols = [e for e in ctx.audit.read() if e.event == EventType.ENROL]
    assert len(enrols) == 5
    assert sorted(e.details["templates_added"] for e in enrols) == [1, 2, 2, 2, 2]
    assert all(e.details["modality"] == "finger" for e in enrols)
    assert [e.details["training"] for e in enrols].count(True) == 1
    assert ctx.audit.verify().ok


def test_unseen_impression_ranks_its_finger_first(enrolled) -> None:
    """An impression not enrolled finds its finger at rank 1, possible band, never strong."""
    ctx, _, _ = enrolled
    start = time.perf_counter()
    result = _search(ctx, ["103_5.tif"], top=3)
    elapsed = time.perf_counter() - start
    best = result.candidates[0]
    assert best.name == "F103" and best.band is Band.POSSIBLE
    assert best.fmr == pytest.approx(RESOLUTION) and best.matches[0].score > 0.45
    assert all(c.band is Band.NONE for c in result.candidates[1:])
    assert result.thresholds["strong"] is None and result.thresholds["possible"] > 0.3
    assert "human review" in result.notice and result.gallery_sizes == {"field": 8}
    assert elapsed < 10.0


def test_several_probes_fuse_per_subject(enrolled) -> None:
    """Two impressions of a position-named finger fuse into one candidate with two matches."""
    ctx, _, _ = enrolled
    result = _search(ctx, ["105_4.tif", "105_5.tif"])
    best = result.candidates[0]
    assert best.name == "F105" and [m.position for m in best.matches] == ["right_index"] * 2
    assert best.band is Band.POSSIBLE and best.score > 6.0
    assert len(result.probes) == 2


def test_a_finger_not_enrolled_gets_no_possible_candidate(enrolled) -> None:
    """A print of a finger nobody enrolled leaves every candidate in the none band."""
    ctx, _, _ = enrolled
    result = _search(ctx, ["108_3.tif"])
    assert result.candidates and all(c.band is Band.NONE for c in result.candidates)


def test_searches_are_audited_and_refusals_too(enrolled) -> None:
    """An ok search and a refused one each leave one entry with the reason and the error."""
    ctx, _, _ = enrolled
    result = _search(ctx, ["101_6.tif"])
    reason = require_reason(ctx, LIVE_PURPOSE, "CASE-F2", modality="finger")
    with pytest.raises(NotAFingerprint):
        identify_fingers(ctx, [_png(255)], reason=reason, galleries=["field"])
    with pytest.raises(InvalidArgument, match="purpose"):
        require_reason(ctx, "curiosity", "CASE-F3", modality="finger")
    searches = [e for e in ctx.audit.read() if e.event == EventType.SEARCH][-3:]
    ok, refused, no_reason = (e.details for e in searches)
    assert ok["search_id"] == result.search_id and ok["modality"] == "finger"
    assert ok["galleries"] == {"field": 8} and ok["pipeline_id"] == result.pipeline_id
    assert ok["best_band"] == "possible" and sum(ok["bands"].values()) == ok["candidates"]
    assert ok["legal_authority"] == "Test Deployment Authority s.1"
    assert [e.outcome for e in searches] == ["ok", "refused", "refused"]
    assert (refused["error"], no_reason["error"]) == ("not_a_fingerprint", "invalid_argument")
    assert ctx.audit.verify().ok


def test_training_and_live_stay_apart(enrolled) -> None:
    """Live purposes cannot reach the training gallery, nor training purposes the live one."""
    ctx, _, _ = enrolled
    with pytest.raises(NotFound, match="live galleries"):
        _search(ctx, ["106_3.tif"], galleries=["range"])
    with pytest.raises(NotFound, match="training galleries"):
        _search(ctx, ["106_3.tif"], purpose=TRAINING)
    result = _search(ctx, ["106_3.tif"], purpose=TRAINING, galleries=["range"])
    assert result.candidates[0].name == "R106"


def test_contactless_probes_are_refused_without_a_calibration(enrolled) -> None:
    """A fingertip photo is refused (and audited) until contactless scores are calibrated."""
    ctx, _, _ = enrolled
    photo = sorted(shared_path("contactless", "ISPFDv1_samples").iterdir())[0].read_bytes()
    reason = require_reason(ctx, LIVE_PURPOSE, "CASE-F4", modality="finger")
    with pytest.raises(PipelineMismatch, match="not calibrated"):
        identify_fingers(ctx, [photo], reason=reason, galleries=["field"], contactless=True)
    assert ctx.audit.read()[-1].outcome == "refused"


def test_file_names_give_positions() -> None:
    """Position names (optionally _k) and FVC NNN_k are read; anything else is refused."""
    assert print_position(Path("left_little_3.png")) == "left_little"
    assert print_position(Path("101_2.tif")) == "unknown"
    with pytest.raises(InvalidArgument, match="expected a file named"):
        print_position(Path("index.png"))


def test_fusion_keeps_weak_evidence_weak() -> None:
    """One piece passes unchanged; two weak pieces never become strong; the floor holds."""
    assert fuse_fmrs([2e-3], 1e-6)[0] == pytest.approx(2e-3)
    two_possible, evidence = fuse_fmrs([1e-3, 1e-3], 1e-7)
    assert evidence == pytest.approx(6.0) and two_possible >= 1e-4
    assert fuse_fmrs([1e-2, 1e-2], 1e-7)[0] > 1e-3  # two "none" stay none
    assert fuse_fmrs([1e-6, 1.0], 1e-7)[0] > 1e-6  # a probe with no match weakens
    assert fuse_fmrs([RESOLUTION] * 4, RESOLUTION)[0] == pytest.approx(RESOLUTION)
    with pytest.raises(InvalidArgument):
        fuse_fmrs([], 1e-7)


def test_shipped_calibration_supports_the_possible_band_only(enrolled) -> None:
    """The shipped table fits the pipeline, resolves 1e-3 and cannot show 1e-5."""
    ctx, _, _ = enrolled
    cal = ctx.finger_calibration
    assert cal.matcher == ctx.finger_pipeline.pipeline_id
    assert cal.impostor_count == 2880 and cal.resolution == pytest.approx(RESOLUTION)
    assert 0.3 < cal.threshold(1e-3) < 0.6
    with pytest.raises(InvalidArgument, match="resolution"):
        cal.threshold(1e-5)


def test_face_and_finger_fuse_per_subject_without_inflating_weak_evidence() -> None:
    """Face and finger evidence of one subject add up; two none-band pieces never reach strong."""
    from mobileid.config import BandParams
    from mobileid.service.fingers import FingerCandidate, fuse_modalities
    from mobileid.types import Candidate

    def face(sid: str, fmr: float) -> Candidate:
        return Candidate(sid, sid, "g", 0.9, fmr, Band.NONE, "face/x")

    def finger(sid: str, fmr: float) -> FingerCandidate:
        return FingerCandidate(sid, sid, "g", 1.0, fmr, Band.NONE, "finger/x", "", ())

    fused = fuse_modalities(
        [face("A", 2e-3), face("B", 1e-6), face("C", 5e-3)],
        [finger("A", 3e-3), finger("C", RESOLUTION), finger("D", 0.5)],
        floor=1 / 3_000_000,
        bands=BandParams(),
    )
    by = {c.subject_id: c for c in fused}
    assert fused[0].subject_id == "B" and by["B"].band is Band.STRONG  # face alone stands
    assert by["B"].fmr == 1e-6 and by["B"].finger_fmr is None
    assert by["A"].band is Band.POSSIBLE and by["A"].fmr >= 2e-4  # two none-band pieces
    assert by["C"].band is Band.POSSIBLE and by["D"].face_fmr is None
