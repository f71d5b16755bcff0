"""Finger enrolment and 1:N search end to end on real FVC2002 DB1_B prints, audited."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobileid.audit import EventType
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NotFound, PipelineMismatch
from mobileid.finger.errors import NotAFingerprint
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.finger_enrol import print_position
from mobileid.service.fingers import identify_fingers
from mobileid.service.fusion import fuse_fmrs
from mobileid.service.identify import require_reason
from mobileid.service.purpose import TRAINING
from mobileid.types import Band
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

CONSOLE = console_caller()

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
    from mobileid.service.finger_enrol import enrol_fingers

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
    report = enrol_fingers(ctx, CONSOLE, people, gallery="field")
    enrol_fingers(ctx, CONSOLE, root / "range", gallery="range", training=True)
    return ctx, report, people


def _search(ctx, names, **kw):  # type: ignore[no-untyped-def]
    reason = require_reason(
        ctx, CONSOLE, kw.pop("purpose", LIVE_PURPOSE), "CASE-F1", modality="finger"
    )
    images = [_db1(n).read_bytes() for n in names]
    return identify_fingers(ctx, CONSOLE, images, reason=reason, **{"galleries": ["field"], **kw})


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
    result = _search(ctx, ["103_5.tif"], top=3)
    best = result.candidates[0]
    assert best.name == "F103" and best.band is Band.POSSIBLE
    assert best.fmr == pytest.approx(RESOLUTION) and best.matches[0].score > 0.45
    assert all(c.band is Band.NONE for c in result.candidates[1:])
    assert result.thresholds["strong"] is None and result.thresholds["possible"] > 0.08
    assert "human review" in result.notice and result.gallery_sizes == {"field": 8}


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
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-F2", modality="finger")
    with pytest.raises(NotAFingerprint):
        identify_fingers(ctx, CONSOLE, [_png(255)], reason=reason, galleries=["field"])
    with pytest.raises(InvalidArgument, match="purpose"):
        require_reason(ctx, CONSOLE, "curiosity", "CASE-F3", modality="finger")
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


@pytest.fixture(scope="module")
def street(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A gallery of contact prints (two DB1_B fingers) and of photo-enrolled fingertips."""
    from mobileid.service.finger_enrol import enrol_fingers

    root = tmp_path_factory.mktemp("street")
    prints, photos = root / "prints", root / "photos"
    for finger in (101, 102):
        (prints / f"C{finger}").mkdir(parents=True)
        (prints / f"C{finger}" / "right_index.tif").symlink_to(_db1(f"{finger}_1.tif"))
    for name, photo in (("P1", "1_i_1_w_1.jpg"), ("P9", "9_o_2_n_1.jpg")):
        (photos / name).mkdir(parents=True)
        (photos / name / "right_middle.jpg").symlink_to(_photo_path(photo))
    (photos / "Face").mkdir()
    (photos / "Face" / "left_index.jpg").symlink_to(_face_path())
    settings = replace(Settings(), data_dir=root / "data")
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    enrol_fingers(ctx, CONSOLE, prints, gallery="street")
    report = enrol_fingers(ctx, CONSOLE, photos, gallery="street", contactless=True)
    return ctx, report


def _photo_path(name: str) -> Path:
    return shared_path("contactless", "ISPFDv1_samples", name)


def _face_path() -> Path:
    return next(shared_path("faces", "face_recognition_samples").rglob("obama.jpg"))


def _photo_search(ctx, images, case="CASE-P1"):  # type: ignore[no-untyped-def]
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, case, modality="finger")
    return identify_fingers(
        ctx, CONSOLE, images, reason=reason, galleries=["street"], contactless=True
    )


def test_photos_enrol_under_their_own_pipeline(street) -> None:
    """Photos enrol as photo templates with the file name's position; a face is reported."""
    ctx, report = street
    pipe = ctx.finger_pipeline
    assert report.pipeline_id == pipe.contactless_pipeline_id
    assert (report.subjects_enrolled, report.prints_added) == (2, 2)
    assert [(Path(f.path).name, f.code) for f in report.failures] == [
        ("left_index.jpg", "not_a_fingerprint")
    ]
    assert ctx.fingers.count("street", pipe.contactless_pipeline_id) == 2
    assert ctx.fingers.count("street", pipe.pipeline_id) == 2


def test_a_photo_finds_its_finger_among_contact_and_photo_templates(street) -> None:
    """Another photo of an enrolled finger scores it highest; contact prints are searched too
    (mirrored); both calibrations are named and neither can show the strong band.

    Candidates rank by estimated rate, and the photo -> photo table rests on 13 impostor pairs:
    its rates stop at 1/13, so its best match may rank below a contact print it outscores.
    """
    ctx, _ = street
    pipe = ctx.finger_pipeline
    result = _photo_search(ctx, [_photo_path("1_o_1_n_1.jpg").read_bytes()])
    by_name = {c.name: c for c in result.candidates}
    best = max(result.candidates, key=lambda c: c.matches[0].score)
    assert best.name == "P1" and best.matches[0].position == "right_middle"
    assert best.matches[0].pipeline_id == pipe.contactless_pipeline_id
    assert best.matches[0].score > 0.12  # pairs counted by closeness (matcher /3): was 0.35
    photo_cal = ctx.contactless_calibrations[pipe.contactless_pipeline_id]
    assert by_name["P1"].fmr == pytest.approx(photo_cal.resolution)
    assert {c.name for c in result.candidates} >= {"C101", "C102"}  # contact prints reached
    assert result.contactless and result.pipeline_id == pipe.contactless_pipeline_id
    assert result.gallery_sizes == {"street": 4}
    uses = {u.gallery_pipeline_id: u for u in result.calibrations}
    assert set(uses) == {pipe.pipeline_id, pipe.contactless_pipeline_id}
    assert all(u.thresholds["strong"] is None and u.templates == 2 for u in uses.values())
    assert all(u.fmr_resolution == 1 / u.impostor_count for u in uses.values())
    assert "impostor comparisons only" in result.calibration
    assert all(c.band is not Band.STRONG for c in result.candidates)
    assert [p.position for p in result.probes] == ["unknown"]


def test_a_four_finger_photo_searches_with_every_fingertip(street) -> None:
    """A composed right hand gives four probes with positions; each source finger enrolled
    is found by the probe of its position."""
    from tests.finger.test_contactless import RIGHT_POSITIONS, four_finger_photo, jpeg

    ctx, _ = street
    result = _photo_search(ctx, [jpeg(four_finger_photo())], "CASE-P2")
    assert [p.position for p in result.probes] == RIGHT_POSITIONS
    assert [p.finger for p in result.probes] == ["little", "ring", "middle", "index"]
    assert {p.hand for p in result.probes} == {"right"} and result.probes[0].image == 0
    by_name = {c.name: c for c in result.candidates}
    # RIGHT_HAND: 9_o_2 is the little finger (probe 0), 1_i_1 the index (probe 3).
    for name, probe in (("P9", 0), ("P1", 3)):
        best = max(by_name[name].matches, key=lambda m: m.score)
        assert best.probe == probe and best.score > 0.2  # matcher /3 (closeness): was 0.5
    last = ctx.audit.read()[-1]
    assert last.outcome == "ok" and last.details["probes"] == 4 and last.details["contactless"]


@pytest.mark.parametrize("what", ["face", "wall", "blank"])
def test_bad_photos_are_refused_and_audited(street, what: str) -> None:
    """A face, a wall or a blank frame: NotAFingerprint naming the image, audited, no change."""
    ctx, _ = street
    if what == "face":
        data = _face_path().read_bytes()
    else:
        rng = np.random.default_rng(5)
        grey = 150 + (
            rng.normal(0, 8, (480, 640, 3)) if what == "wall" else np.zeros((480, 640, 3))
        )
        buf = io.BytesIO()
        Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(buf, "JPEG")
        data = buf.getvalue()
    before = ctx.fingers.count("street")
    with pytest.raises(NotAFingerprint, match="expected a") as err:
        _photo_search(ctx, [data], "CASE-P3")
    assert err.value.field in ("image", "IMAGE[0]")
    last = ctx.audit.read()[-1]
    assert last.outcome == "refused" and last.details["error"] == "not_a_fingerprint"
    assert last.details["field"] == err.value.field  # which photo, as the answer says
    assert last.details["contactless"] is True and ctx.fingers.count("street") == before


def test_photo_probes_are_refused_without_their_calibrations(street) -> None:
    """With no photo calibration for this pipeline, a photo search is refused and audited."""
    ctx, _ = street
    saved = ctx._contactless_calibrations
    ctx._contactless_calibrations = {}
    try:
        with pytest.raises(PipelineMismatch, match="not calibrated"):
            _photo_search(ctx, [_photo_path("1_o_1_n_1.jpg").read_bytes()], "CASE-P4")
    finally:
        ctx._contactless_calibrations = saved
    assert ctx.audit.read()[-1].outcome == "refused"


def test_shipped_contactless_calibrations_fit_the_pipelines(street) -> None:
    """Both shipped photo calibrations name the current pipelines (rebuild them with
    ``mobileid eval fingers-contactless`` when this fails) and cannot show the strong band."""
    ctx, _ = street
    pipe = ctx.finger_pipeline
    cals = ctx.contactless_calibrations
    cpid = pipe.contactless_pipeline_id
    assert set(cals) == {f"{cpid} -> {pipe.pipeline_id}", cpid}
    for cal in cals.values():
        assert cal.resolution > 1e-5 and "impostor comparisons only" in cal.dataset
        with pytest.raises(InvalidArgument, match="resolution"):
            cal.threshold(1e-5)


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
    assert 0.08 < cal.threshold(1e-3) < 0.3  # pairs counted by closeness: 0.10 (count: 0.25)
    with pytest.raises(InvalidArgument, match="resolution"):
        cal.threshold(1e-5)


def test_a_poor_probe_reads_its_own_stratum_table(enrolled) -> None:
    """A clear print is read from the good table, a wet synthetic print from the poor one; the
    answer and the audit entry name each probe's stratum and quality."""
    from mobileid.eval.finger_sensors import imitate_bytes

    ctx, _, _ = enrolled
    wet = imitate_bytes(
        shared_path("fingerprints", "FVC2002", "DB4_B", "105_3.tif").read_bytes(), "wet"
    )
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-F9", modality="finger")
    images = [_db1("103_5.tif").read_bytes(), wet]
    result = identify_fingers(ctx, CONSOLE, images, reason=reason, galleries=["field"])
    assert [p.calibration_stratum for p in result.probes] == ["good", "poor"]
    good, poor = ctx.finger_calibration_for(100.0)[1], ctx.finger_calibration_for(0.0)[1]
    # The poor table starts from the good one: never a lower rate. (The good table is held to
    # the worst imitated sensor, which today already covers the poor probes' bound.)
    grid = [i / 200 for i in range(201)]
    assert all(poor.fmr(x) >= good.fmr(x) * (1 - 1e-9) for x in grid)
    for c in result.candidates:
        for m in c.matches:
            assert m.fmr == pytest.approx((poor if m.probe == 1 else good).fmr(m.score), rel=1e-3)
    assert result.candidates[0].name == "F103"
    entry = [e for e in ctx.audit.read() if e.event == EventType.SEARCH][-1].details
    assert entry["calibration_strata"] == ["good", "poor"]
    assert entry["probe_quality"] == [p.quality for p in result.probes]
