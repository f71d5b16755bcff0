"""At enrolment, pairs of subjects whose faces reach the strong band are reported: LFW files
one photo under two names (Andrew_Caldecott, Andrew_Gilligan), and enrolling the second finds
the first; distinct people, and a subject's own faces, are not reported. At search time, a
strong candidate carries the same pairs (``lookalikes``), shown and audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mobileid.cli.render import enrol_report
from mobileid.cli.render import identify_result as identify_text
from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.oversight import build_report
from mobileid.service.answers import enrol_json, identify_json, person_json
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.disposition import record_disposition
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.service.person import identify_person
from mobileid.types import Band
from tests.conftest import LIVE_PURPOSE, link_subjects, shared_path, write_purposes

CONSOLE = console_caller()
PEOPLE = ["Alvaro_Uribe", "Andre_Agassi", "Bill_Clinton", "Carlos_Menem", "Andrew_Caldecott"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, lfw_dev):
    """Five people (up to three photos each) enrolled, then the one photo of Andrew_Gilligan,
    then the first folder again."""
    root = tmp_path_factory.mktemp("lookalikes")
    first = link_subjects(lfw_dev, root / "first", PEOPLE, per_subject=3)
    second = link_subjects(lfw_dev, root / "second", ["Andrew_Gilligan"])
    write_purposes(root / "data")
    ctx = open_context(replace(Settings(), data_dir=root / "data", workers=1))
    try:
        reports = [enrol_directory(ctx, CONSOLE, folder) for folder in (first, second, first)]
        names = {s.name: s.subject_id for s in ctx.gallery.subjects()}
        yield reports, names, ctx
    finally:
        ctx.close()


def test_distinct_people_and_a_subjects_own_faces_are_not_reported(runs) -> None:
    reports, _, _ = runs
    assert reports[0].subjects_enrolled == 5 and reports[0].images_added >= 13
    assert reports[0].lookalikes == []


def test_the_second_name_of_one_photo_is_reported_against_the_first(runs, capsys) -> None:
    reports, names, _ = runs
    (pair,) = reports[1].lookalikes
    assert (pair.subject_id, pair.other_subject_id) == (
        names["Andrew Gilligan"], names["Andrew Caldecott"],
    )  # fmt: skip
    assert pair.other_name == "Andrew Caldecott" and pair.fmr <= 1e-5
    assert enrol_json(reports[1])["lookalikes"][0]["other_name"] == "Andrew Caldecott"
    enrol_report(reports[1], as_json=False)
    out = capsys.readouterr().out
    assert "reach the strong band against each other, to review (1)" in out
    assert "Andrew Caldecott" in out


def test_faces_already_enrolled_are_not_compared_again(runs) -> None:
    reports, _, _ = runs
    assert reports[2].images_added == 0 and reports[2].lookalikes == []


def _search(ctx, lfw_dev, person: str, image: int):  # type: ignore[no-untyped-def]
    probe = (lfw_dev / person / f"{person}_{image:04d}.jpg").read_bytes()
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-LOOK")
    return identify_face(ctx, CONSOLE, probe, reason=reason)


def test_a_strong_candidate_names_the_subject_it_resembles(runs, lfw_dev, capsys) -> None:
    """The photo filed under both names: each name is a strong candidate and names the other
    as its look-alike, in the answer and in the search's audit entry."""
    _, names, ctx = runs
    result = _search(ctx, lfw_dev, "Andrew_Gilligan", 1)
    first, second = result.candidates[:2]
    assert {first.subject_id, second.subject_id} == {
        names["Andrew Gilligan"], names["Andrew Caldecott"],
    }  # fmt: skip
    assert first.band == second.band == Band.STRONG
    assert [r.subject_id for r in first.lookalikes] == [second.subject_id]
    assert [r.subject_id for r in second.lookalikes] == [first.subject_id]
    assert first.lookalikes[0].name == second.name and first.lookalikes[0].fmr <= 1e-5
    assert all(c.lookalikes == () for c in result.candidates[2:])  # not strong: not checked
    answer = identify_json(result)["candidates"][0]["lookalikes"][0]
    assert answer["subject_id"] == second.subject_id and answer["name"] == second.name
    identify_text(result, as_json=False)
    assert f"resembles {second.name} ({second.subject_id}) as strongly" in capsys.readouterr().out
    entry = list(ctx.audit.read())[-1]
    assert entry.details["lookalike_ids"] == [
        {"subject_id": second.subject_id, "of": first.subject_id},
        {"subject_id": first.subject_id, "of": second.subject_id},
    ]


def test_a_strong_candidate_without_a_look_alike_names_none(runs, lfw_dev) -> None:
    """A photo of Bill_Clinton not enrolled: he is the strong first candidate, and none of the
    other four people reaches the strong band against his faces."""
    _, _, ctx = runs
    result = _search(ctx, lfw_dev, "Bill_Clinton", 4)
    first = result.candidates[0]
    assert first.name == "Bill Clinton" and first.band == Band.STRONG
    assert first.lookalikes == ()
    assert list(ctx.audit.read())[-1].details["lookalike_ids"] == []


def test_a_person_search_shows_the_face_candidates_look_alikes(runs, lfw_dev) -> None:
    """A face and a fingerprint searched at once: the face part's strong candidates name their
    look-alikes as a face search does, and the entry names them too."""
    _, names, ctx = runs
    face = (lfw_dev / "Andrew_Gilligan" / "Andrew_Gilligan_0001.jpg").read_bytes()
    finger = shared_path("fingerprints", "FVC2002", "DB1_B", "101_1.tif").read_bytes()
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-LOOK", modality="face+finger")
    result = identify_person(ctx, CONSOLE, face, [finger], reason=reason)
    gilligan = next(c for c in result.face.candidates if c.name == "Andrew Gilligan")
    assert [r.subject_id for r in gilligan.lookalikes] == [names["Andrew Caldecott"]]
    refs = list(ctx.audit.read())[-1].details["lookalike_ids"]
    assert {"subject_id": names["Andrew Caldecott"], "of": gilligan.subject_id} in refs
    answer = person_json(result)["face"]["candidates"]
    assert any(x["name"] == "Andrew Caldecott" for c in answer for x in c["lookalikes"])


def test_a_look_alike_not_returned_as_a_candidate_can_be_the_disposition(runs, lfw_dev) -> None:
    """Only the first candidate returned (top 1): the officer who concludes that the person is
    its look-alike records that against the look-alike, whose entry names the candidate it was
    shown beside; a subject the search never showed is still refused."""
    _, names, ctx = runs
    probe = (lfw_dev / "Andrew_Gilligan" / "Andrew_Gilligan_0001.jpg").read_bytes()
    reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-LOOK")
    result = identify_face(ctx, CONSOLE, probe, reason=reason, top=1)
    (only,) = result.candidates
    (alike,) = only.lookalikes
    assert {only.subject_id, alike.subject_id} == {
        names["Andrew Gilligan"], names["Andrew Caldecott"],
    }  # fmt: skip
    done = record_disposition(ctx, CONSOLE, result.search_id, "confirmed", alike.subject_id)
    assert done.entry.details["subject_id"] == alike.subject_id
    assert done.entry.details["lookalike_of"] == only.subject_id
    assert done.entry.details["galleries"] == [only.gallery]
    entries = list(ctx.audit.read())
    today = datetime.now(UTC).date()
    report = build_report(entries, date_from=today, date_to=today, chain=ctx.audit.verify())
    strong = report.dispositions["strong_then_not_a_match"]
    assert strong["of_which_lookalike_confirmed"] == 1 and strong["not_a_match"] >= 1
    (judged,) = report.dispositions["by_subject"]["most_often_not_a_match"]
    assert judged["subject_id"] == only.subject_id and judged["not_a_match"] == 1
    again = record_disposition(ctx, CONSOLE, result.search_id, "not_a_match", only.subject_id)
    assert again.entry.details["lookalike_of"] is None and again.supersedes == done.entry.sequence
    before = len(list(ctx.audit.read()))
    with pytest.raises(InvalidArgument, match="or the 1 look-alikes shown beside them"):
        record_disposition(ctx, CONSOLE, result.search_id, "confirmed", names["Bill Clinton"])
    assert len(list(ctx.audit.read())) == before
