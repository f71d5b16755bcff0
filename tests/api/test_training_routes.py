"""The training range and certification over HTTP: the same use cases as the command line,
so the same refusals, figures and audit entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mobileid.audit import EventType
from mobileid.training import Certification, TrainingFigures
from tests.api.conftest import API, Deployment, assert_problem, search_form


def _face(d: Deployment, user: str, photo: bytes, **form: Any) -> Any:
    files = {"image": ("probe.jpg", photo, "image/jpeg")}
    return d.client.post(
        f"{API}/searches/face", headers=d.headers(user), files=files, data=search_form(**form)
    )


def _certify(d: Deployment, user: str, who: str, exempt: str | None = None) -> Any:
    body = {} if exempt is None else {"exempt": exempt}
    return d.client.post(f"{API}/operators/{who}/certification", headers=d.headers(user), json=body)


def _me(d: Deployment, user: str) -> dict[str, Any]:
    answer = d.client.get(f"{API}/me", headers=d.headers(user))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["certification"])


def test_me_shows_certification_state(deployment: Deployment) -> None:
    """/me says whether the operator is certified, until when, and their training record."""
    off1 = _me(deployment, "off1")
    assert (off1["status"], off1["current"]) == ("exempt", True)
    assert off1["exempt_reason"].startswith("API test deployment")
    assert off1["expires_at"] > datetime.now(UTC).isoformat()
    trn1 = _me(deployment, "trn1")
    assert (trn1["status"], trn1["current"], trn1["expires_at"]) == ("none", False, None)


def test_certify_needs_a_supervisor_with_the_scope(deployment: Deployment) -> None:
    """sup1's token lacks certify_operators, an officer's role lacks it, nobody certifies
    themself: 403 each, audited as access_denied."""
    before = deployment.audit_count()
    assert_problem(_certify(deployment, "sup1", "off3", "x" * 10), 403, "access_denied")
    assert_problem(_certify(deployment, "off1", "off3", "x" * 10), 403, "access_denied")
    assert_problem(_certify(deployment, "sup2", "sup2", "x" * 10), 403, "access_denied")
    new = deployment.ctx.audit.read(before + 1)
    denied = {e.operator for e in new if e.event == EventType.ACCESS_DENIED}
    assert denied >= {"sup1", "off1", "sup2"}
    assert _me(deployment, "off3")["status"] == "none"


def test_uncertified_and_lapsed_officer_refused_then_certified(deployment: Deployment) -> None:
    """off3 (never certified) is refused live searches (403 naming the certification, audited
    with the reason); certify is refused with the figures (409); a lapsed certification is
    refused too; an exemption (audited) lets the live search run, marked certified."""
    d, photo = deployment, deployment.photo("Bill_Clinton", 10)
    before = d.audit_count()
    body = assert_problem(_face(d, "off3", photo, case="CASE-T1"), 403, "access_denied")
    assert "holds no certification" in body["detail"]
    practice = _face(d, "off3", d.photo("Colin_Powell", 3), purpose="training", case="TR-T1",
                     galleries=["range"], target="Colin Powell")  # fmt: skip
    assert practice.status_code == 200, practice.text
    score = practice.json()["practice"]
    assert (score["mate_rank"], score["quality_passed"]) == (1, True)
    # what a good capture of the practice subject looks like: its enrolment photo
    assert score["reference_photo_url"].startswith(f"{API}/subjects/")

    body = assert_problem(_certify(d, "sup2", "off3"), 409, "certification_refused")
    assert "1 practice searches (needs 20)" in body["detail"]
    earlier = datetime.now(UTC) - timedelta(days=400)
    d.ctx.training.add_certification(
        Certification("off3", "sup2", earlier, earlier + timedelta(days=365), None,
                      TrainingFigures(20, 20, 20))
    )  # fmt: skip
    assert _me(d, "off3")["status"] == "expired"
    body = assert_problem(_face(d, "off3", photo, case="CASE-T2"), 403, "access_denied")
    assert "certification expired on" in body["detail"]

    answer = _certify(d, "sup2", "off3", exempt="certified by the regional academy")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "exempt" and answer.json()["training"]["mate_first"] == 1
    ok = _face(d, "off3", photo, case="CASE-T3")
    assert ok.status_code == 200, ok.text

    new = d.ctx.audit.read(before + 1)
    denied = [e for e in new if e.event == EventType.ACCESS_DENIED and e.operator == "off3"]
    assert [e.details["certification"] for e in denied] == ["none", "expired"]
    assert all(e.details["reason"] == "not certified" for e in denied)
    certs = [(e.outcome, e.details["exempt"]) for e in new if e.event == EventType.CERTIFICATION]
    assert certs == [("refused", False), ("ok", True)]
    search = next(e for e in new if e.details.get("search_id") == ok.json()["search_id"])
    assert search.details["certification"] == "exempt"


def test_a_trainee_token_never_reaches_live_data(deployment: Deployment) -> None:
    """trn2 holds the live gallery and source by mistake: face, finger and person searches and
    the super query with a live purpose, or training on the live gallery, are all refused; no
    audit entry shows trn2 reaching live data."""
    d = deployment
    face = d.photo("Bill_Clinton", 10)
    before = d.audit_count()
    for form in ({}, {"purpose": "training", "case": "TR-9"}):
        assert _face(d, "trn2", face, **form).status_code in (403, 404)
        files = [("images", ("f.jpg", face, "image/jpeg"))]
        fingers = d.client.post(f"{API}/searches/fingers", headers=d.headers("trn2"),
                                files=files, data=search_form(**form))  # fmt: skip
        assert fingers.status_code in (403, 404), fingers.text
        files = [
            ("face", ("p.jpg", face, "image/jpeg")),
            ("fingers", ("f.jpg", face, "image/jpeg")),
        ]
        person = d.client.post(f"{API}/searches/person", headers=d.headers("trn2"),
                               files=files, data=search_form(**form))  # fmt: skip
        assert person.status_code in (403, 404), person.text
    query = {"purpose": search_form()["purpose"], "case": "CASE-T9", "name": "Bill Clinton"}
    answer = d.client.post(f"{API}/queries", headers=d.headers("trn2"), json=query)
    assert_problem(answer, 403, "access_denied")
    new = [e for e in d.ctx.audit.read(before + 1) if e.operator == "trn2"]
    assert new and all(e.outcome != "ok" for e in new)
    assert not [e for e in new if e.event == EventType.RECORD_VIEW]


def test_a_practice_search_naming_no_gallery_reaches_the_entitled_training_gallery(
    deployment: Deployment,
) -> None:
    """The phone names no gallery: a training search goes to the training galleries the
    trainee is entitled to (not the live default), and finds the practice subject there."""
    d = deployment
    files = {"image": ("probe.jpg", d.photo("Colin_Powell", 3), "image/jpeg")}
    form = {"purpose": "training", "case": "TR-NG1"}  # no galleries, as the phone sends it
    answer = d.client.post(
        f"{API}/searches/face", headers=d.headers("trn1"), files=files, data=form
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["galleries"] == ["range"]
    assert body["candidates"][0]["name"] == "Colin Powell"
