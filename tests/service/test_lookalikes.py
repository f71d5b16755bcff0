"""At enrolment, pairs of subjects whose faces reach the strong band are reported: LFW files
one photo under two names (Andrew_Caldecott, Andrew_Gilligan), and enrolling the second finds
the first; distinct people, and a subject's own faces, are not reported."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mobileid.cli.render import enrol_report
from mobileid.config import Settings
from mobileid.service.answers import enrol_json
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from tests.conftest import link_subjects

CONSOLE = console_caller()
PEOPLE = ["Alvaro_Uribe", "Andre_Agassi", "Bill_Clinton", "Carlos_Menem", "Andrew_Caldecott"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, lfw_dev):
    """Five people (up to three photos each) enrolled, then the one photo of Andrew_Gilligan,
    then the first folder again."""
    root = tmp_path_factory.mktemp("lookalikes")
    first = link_subjects(lfw_dev, root / "first", PEOPLE, per_subject=3)
    second = link_subjects(lfw_dev, root / "second", ["Andrew_Gilligan"])
    ctx = open_context(replace(Settings(), data_dir=root / "data", workers=1))
    try:
        reports = [enrol_directory(ctx, CONSOLE, folder) for folder in (first, second, first)]
        names = {s.name: s.subject_id for s in ctx.gallery.subjects()}
        yield reports, names
    finally:
        ctx.close()


def test_distinct_people_and_a_subjects_own_faces_are_not_reported(runs) -> None:
    reports, _ = runs
    assert reports[0].subjects_enrolled == 5 and reports[0].images_added >= 13
    assert reports[0].lookalikes == []


def test_the_second_name_of_one_photo_is_reported_against_the_first(runs, capsys) -> None:
    reports, names = runs
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
    reports, _ = runs
    assert reports[2].images_added == 0 and reports[2].lookalikes == []
