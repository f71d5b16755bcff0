"""Enrolment and identification end to end on real LFW photos, embedded gallery."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from mobileid.config import Settings
from mobileid.errors import CorruptImage, NotFound, UnsupportedImage
from mobileid.face.strata import StratifiedCalibration
from mobileid.service.calibration_files import shipped_face_strata
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.types import Band
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

CONSOLE = console_caller()

PEOPLE = [
    "Alejandro_Toledo",
    "Alvaro_Uribe",
    "Andre_Agassi",
    "Ariel_Sharon",
    "Bill_Clinton",
    "Carlos_Menem",
]


def _reason(ctx):
    return require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-0001")


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, lfw_dev):
    """Three images of each of six people, plus a broken and a non-image file."""
    root = tmp_path_factory.mktemp("enrol")
    link_subjects(lfw_dev, root / "people", PEOPLE, per_subject=3)
    (root / "people" / "Bill_Clinton" / "notes.jpg").write_text("not a photo")
    truncated = (lfw_dev / "Carlos_Menem" / "Carlos_Menem_0010.jpg").read_bytes()[:3000]
    (root / "people" / "Carlos_Menem" / "cut.jpg").write_bytes(truncated)
    settings = replace(Settings(), data_dir=root / "data", workers=2)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    report = enrol_directory(ctx, CONSOLE, root / "people", gallery="field")
    return ctx, report, root


def test_enrolment_reports_bad_images_and_keeps_the_good(enrolled):
    """Bad files are reported with their reason; every subject is enrolled with its good images."""
    ctx, report, _ = enrolled
    assert report.subjects_enrolled == 6
    assert report.images_added == 18
    codes = sorted(f.code for f in report.failures)
    assert codes == ["corrupt_image", "unsupported_image"]
    assert {s.name for s in ctx.gallery.subjects("field")} == {p.replace("_", " ") for p in PEOPLE}
    assert all(s.embeddings == 3 for s in ctx.gallery.subjects("field"))


def test_re_running_enrolment_skips_what_is_enrolled(enrolled):
    """A second run embeds nothing new and changes nothing."""
    ctx, _, root = enrolled
    before = ctx.gallery.count("field")
    again = enrol_directory(ctx, CONSOLE, root / "people", gallery="field")
    assert again.images_added == 0 and again.images_skipped == 18
    assert ctx.gallery.count("field") == before


def test_identify_finds_the_person_from_an_unseen_photo(enrolled, lfw_dev):
    """A photo not used at enrolment ranks its person first, in the strong band."""
    ctx, _, _ = enrolled
    probe = (lfw_dev / "Ariel_Sharon" / "Ariel_Sharon_0010.jpg").read_bytes()
    result = identify_face(ctx, CONSOLE, probe, reason=_reason(ctx), galleries=["field"], top=3)
    best = result.candidates[0]
    assert best.name == "Ariel Sharon"
    assert best.band is Band.STRONG and best.fmr <= 1e-5
    assert result.candidates[1].score < best.score
    assert best.pipeline_id == result.pipeline_id == ctx.pipeline.pipeline_id
    assert "human review" in result.notice
    assert result.thresholds["strong"] > result.thresholds["possible"]
    assert result.gallery_sizes == {"field": 18}


def test_a_person_who_is_not_enrolled_gets_no_strong_candidate(enrolled, lfw_dev):
    """Searching someone outside the gallery returns candidates, none of them strong."""
    ctx, _, _ = enrolled
    probe = (lfw_dev / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    result = identify_face(ctx, CONSOLE, probe, reason=_reason(ctx), galleries=["field"], top=6)
    assert len(result.candidates) == 6
    assert all(c.band is not Band.STRONG for c in result.candidates)
    assert all(c.name != "Colin Powell" for c in result.candidates)


def _shrunk(data: bytes, factor: float) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        small = img.resize((round(img.width * factor), round(img.height * factor)), Image.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def test_a_poor_capture_is_judged_by_its_own_stratum(enrolled, lfw_dev):
    """A sharp frontal photo is read from the good stratum's table; the same photo at 3/4 size
    (inter-eye distance under the poor cut, still above the refusal gate) from the poor one,
    whose thresholds the answer carries, and the audit entry names the stratum."""
    ctx, _, _ = enrolled
    data = (lfw_dev / "Ariel_Sharon" / "Ariel_Sharon_0010.jpg").read_bytes()
    strata = next(
        s
        for s in map(StratifiedCalibration.load, shipped_face_strata())
        if s.matcher == ctx.pipeline.pipeline_id
    )
    for probe, stratum in ((data, "good"), (_shrunk(data, 0.75), "poor")):
        result = identify_face(ctx, CONSOLE, probe, reason=_reason(ctx), galleries=["field"], top=1)
        assert result.calibration_stratum == stratum
        table = strata.table(stratum)
        assert result.thresholds["strong"] == table.threshold(1e-5)
        assert result.candidates[0].fmr == pytest.approx(
            table.fmr(result.candidates[0].score), rel=1e-4
        )
        assert result.candidates[0].name == "Ariel Sharon"
        entry = [e for e in ctx.audit.read() if e.details.get("search_id") == result.search_id]
        assert entry[-1].details["calibration_stratum"] == stratum


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", UnsupportedImage),
        (b"%PDF-1.4\n%...", UnsupportedImage),
        (b"\xff\xd8\xff\xe0" + b"\0" * 64, CorruptImage),
    ],
)
def test_bad_probe_is_refused_and_changes_nothing(enrolled, data, error):
    """Broken probes raise their specific error; the gallery is unchanged."""
    ctx, _, _ = enrolled
    before = (ctx.gallery.count("field"), len(ctx.gallery.subjects()))
    with pytest.raises(error):
        identify_face(ctx, CONSOLE, data, reason=_reason(ctx), galleries=["field"])
    assert (ctx.gallery.count("field"), len(ctx.gallery.subjects())) == before


def test_unknown_gallery_is_not_found(enrolled, lfw_dev):
    """Naming a gallery that does not exist is refused before any work."""
    ctx, _, _ = enrolled
    with pytest.raises(NotFound, match="gallery"):
        identify_face(ctx, CONSOLE, b"whatever", reason=_reason(ctx), galleries=["nope"])


def test_a_subject_with_no_usable_image_is_not_enrolled(tmp_path, lfw_dev):
    """A folder whose every file fails leaves no subject behind."""
    (tmp_path / "people" / "Nobody").mkdir(parents=True)
    (tmp_path / "people" / "Nobody" / "a.jpg").write_text("text")
    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data", workers=1))
    report = enrol_directory(ctx, CONSOLE, tmp_path / "people")
    assert report.subjects_failed == ["Nobody"] and report.subjects_enrolled == 0
    assert ctx.gallery.subjects() == []


def test_enrol_directory_must_hold_subject_folders(tmp_path: Path):
    """An empty or missing directory is a clear argument error."""
    from mobileid.errors import InvalidArgument

    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data"))
    with pytest.raises(InvalidArgument, match="DIR: expected"):
        enrol_directory(ctx, CONSOLE, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgument, match="found none"):
        enrol_directory(ctx, CONSOLE, tmp_path / "empty")
