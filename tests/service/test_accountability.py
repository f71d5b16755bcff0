"""Every search states why and leaves one audit entry; training and live data stay apart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mobileid.audit import EventType
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NoFaceFound, NotFound
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.disposition import record_disposition
from mobileid.service.enrol import delete_subject, enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.service.purpose import TRAINING
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

CONSOLE = console_caller()

LIVE = ["Alvaro_Uribe", "Bill_Clinton", "Carlos_Menem"]
RANGE = ["Andre_Agassi", "Ariel_Sharon"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, lfw_dev):
    root = tmp_path_factory.mktemp("acct")
    link_subjects(lfw_dev, root / "live", LIVE, per_subject=2)
    link_subjects(lfw_dev, root / "range", RANGE, per_subject=2)
    settings = replace(Settings(), data_dir=root / "data", workers=1)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    enrol_directory(ctx, CONSOLE, root / "live", gallery="field")
    enrol_directory(ctx, CONSOLE, root / "range", gallery="range", training=True)
    return ctx


def _entries(ctx, event):
    return [e for e in ctx.audit.read() if e.event == event]


def test_enrolment_is_audited_per_subject(ctx):
    """Each enrolled subject has one enrol entry with counts, never biometric data."""
    enrols = _entries(ctx, EventType.ENROL)
    assert len(enrols) == len(LIVE) + len(RANGE)
    assert {e.details["gallery"] for e in enrols} == {"field", "range"}
    assert all(e.details["embeddings_added"] == 2 for e in enrols)
    assert sum(e.details["training"] for e in enrols) == len(RANGE)


def test_a_search_leaves_one_entry_with_its_reason(ctx, lfw_dev):
    """A live search's entry holds purpose, authority, case, galleries and band counts."""
    before = len(_entries(ctx, EventType.SEARCH))
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-7", "Checkpoint 3")
    probe = (lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg").read_bytes()
    result = identify_face(ctx, CONSOLE, probe, reason=reason, galleries=["field"], top=3)
    searches = _entries(ctx, EventType.SEARCH)
    assert len(searches) == before + 1
    d = searches[-1].details
    assert d["search_id"] == result.search_id and searches[-1].outcome == "ok"
    assert (d["purpose"], d["legal_authority"], d["case_number"], d["location"]) == (
        LIVE_PURPOSE,
        "Test Deployment Authority s.1",
        "CASE-7",
        "Checkpoint 3",
    )
    assert d["galleries"] == {"field": 6} and d["training"] is False
    assert d["bands"]["strong"] >= 1 and d["best_band"] == "strong"
    assert sum(d["bands"].values()) == d["candidates"] == 3


def test_refusals_are_audited_too(ctx, fr_samples):
    """No purpose, an unknown purpose and a photo without a face each leave a refused entry."""
    before = len(_entries(ctx, EventType.SEARCH))
    with pytest.raises(InvalidArgument, match="purpose"):
        require_reason(ctx, CONSOLE, None, "CASE-7")
    with pytest.raises(InvalidArgument, match="purpose"):
        require_reason(ctx, CONSOLE, "curiosity", "CASE-7")
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-8")
    wall = (fr_samples / "LICENSE").read_bytes()
    with pytest.raises(Exception, match="image"):
        identify_face(ctx, CONSOLE, wall, reason=reason, galleries=["field"])
    refused = _entries(ctx, EventType.SEARCH)[before:]
    assert [e.outcome for e in refused] == ["refused"] * 3
    assert [e.details["error"] for e in refused] == [
        "invalid_argument",
        "invalid_argument",
        "unsupported_image",
    ]


def test_live_purposes_never_reach_training_galleries_and_back(ctx, lfw_dev):
    """A live purpose cannot search the training range; the training purpose cannot go live."""
    probe = (lfw_dev / "Andre_Agassi" / "Andre_Agassi_0010.jpg").read_bytes()
    live = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-9")
    training = require_reason(ctx, CONSOLE, TRAINING, "TR-001")
    with pytest.raises(NotFound, match="live galleries"):
        identify_face(ctx, CONSOLE, probe, reason=live, galleries=["range"])
    with pytest.raises(NotFound, match="training galleries"):
        identify_face(ctx, CONSOLE, probe, reason=training, galleries=["field"])
    result = identify_face(ctx, CONSOLE, probe, reason=training, galleries=["range"], top=1)
    assert result.candidates[0].name == "Andre Agassi"
    assert _entries(ctx, EventType.SEARCH)[-1].details["training"] is True


def test_disposition_refers_to_a_real_search(ctx, lfw_dev):
    """A disposition is recorded against its search and one of its candidates; unknown
    searches, values and subjects that were not candidates are refused; a second disposition
    supersedes the first explicitly, both kept in the log."""
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-10")
    probe = (lfw_dev / "Carlos_Menem" / "Carlos_Menem_0010.jpg").read_bytes()
    result = identify_face(ctx, CONSOLE, probe, reason=reason, galleries=["field"], top=1)
    mate = result.candidates[0].subject_id
    first = record_disposition(ctx, CONSOLE, result.search_id, "inconclusive", mate)
    entry = first.entry
    assert entry.details["search_id"] == result.search_id
    assert entry.details["best_band"] == "strong" and entry.details["galleries"] == ["field"]
    assert first.supersedes is None and entry.details["supersedes"] is None
    second = record_disposition(ctx, CONSOLE, result.search_id, "confirmed", mate)
    assert second.supersedes == entry.sequence and second.as_json()["current"] is True
    kept = [
        e
        for e in _entries(ctx, EventType.DISPOSITION)
        if e.details["search_id"] == result.search_id
    ]
    assert [(e.details["disposition"], e.details["supersedes"]) for e in kept] == [
        ("inconclusive", None),
        ("confirmed", entry.sequence),
    ]
    other = next(s for s in ctx.gallery.subjects("field") if s.subject_id != mate)
    before = len(ctx.audit.read())
    with pytest.raises(InvalidArgument, match="candidates of search") as err:
        record_disposition(ctx, CONSOLE, result.search_id, "confirmed", other.subject_id)
    assert err.value.field == "subject_id" and len(ctx.audit.read()) == before
    with pytest.raises(NotFound):
        record_disposition(ctx, CONSOLE, "Q000000000000000", "confirmed")
    with pytest.raises(InvalidArgument, match="disposition"):
        record_disposition(ctx, CONSOLE, result.search_id, "guilty")


def test_deletion_is_audited_and_the_chain_verifies(ctx):
    """Deleting a subject writes a delete entry; the whole log still verifies."""
    subject = next(s for s in ctx.gallery.subjects("field") if s.name == "Alvaro Uribe")
    delete_subject(ctx, CONSOLE, subject.subject_id)
    deleted = _entries(ctx, EventType.DELETE)[-1]
    assert deleted.details["subject_id"] == subject.subject_id
    assert deleted.details["embeddings_removed"] == 2
    report = ctx.audit.verify()
    assert report.ok, report


def test_no_face_is_refused_and_audited(ctx):
    """A decodable photo with no face raises NoFaceFound and leaves a refused entry."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 100, dtype=np.uint8)).save(buf, "PNG")
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-11")
    with pytest.raises(NoFaceFound):
        identify_face(ctx, CONSOLE, buf.getvalue(), reason=reason, galleries=["field"])
    last = _entries(ctx, EventType.SEARCH)[-1]
    assert (last.outcome, last.details["error"]) == ("refused", "no_face_found")


def test_changes_to_purposes_and_bands_are_audited(ctx):
    """Editing the purposes file or a band bound is logged before the next search; no change,
    no entry."""
    import json

    def changes():
        kinds = (EventType.PURPOSE_CHANGE, EventType.THRESHOLD_CHANGE)
        return [e for e in ctx.audit.read() if e.event in kinds]

    require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-12")
    before = len(changes())
    require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-13")
    assert len(changes()) == before  # nothing changed, nothing logged
    path = ctx.settings.data_dir / "purposes.json"
    data = json.loads(path.read_text())
    data["purposes"][0]["legal_authority"] = "Amended Authority s.2"
    path.write_text(json.dumps(data))
    ctx.settings = replace(ctx.settings, bands=replace(ctx.settings.bands, strong_fmr=1e-6))
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-14")
    assert reason.legal_authority == "Amended Authority s.2"
    new = changes()[before:]
    assert [e.event for e in new] == [EventType.PURPOSE_CHANGE, EventType.THRESHOLD_CHANGE]
    assert "Amended Authority s.2" in json.dumps(new[0].details)
    assert new[1].details["strong_fmr"] == 1e-6
