"""Subjects, reference photos and the super query over HTTP: who may see what, and every view
audited."""

from __future__ import annotations

import io

from PIL import Image

from mobileid.audit import EventType
from tests.api.conftest import API, Deployment, assert_problem


def test_a_supervisor_views_a_subject_and_the_view_is_audited(deployment: Deployment) -> None:
    """A supervisor entitled to the gallery sees the subject; record_view names them."""
    sid = deployment.subjects["Bill Clinton"]
    answer = deployment.client.get(f"{API}/subjects/{sid}", headers=deployment.headers("sup1"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    photos = [f"{API}/subjects/{sid}/photos/{n}" for n in (1, 2)]
    assert (body["name"], body["gallery"], body["photos"]) == ("Bill Clinton", "field", photos)
    last = deployment.ctx.audit.read()[-1]
    assert (last.event, last.operator, last.details["subject_id"]) == (
        EventType.RECORD_VIEW,
        "sup1",
        sid,
    )


def test_subject_views_are_refused_without_role_scope_or_entitlement(
    deployment: Deployment,
) -> None:
    """The auditor (role), off2 (token scope) and the trainee (role) get 403, audited; an
    unknown subject is 404 for someone allowed, 403 (not 404) for someone who is not."""
    sid = deployment.subjects["Carlos Menem"]
    for user in ("aud1", "off2", "trn1"):
        answer = deployment.client.get(f"{API}/subjects/{sid}", headers=deployment.headers(user))
        assert_problem(answer, 403, "access_denied")
        assert deployment.ctx.audit.read()[-1].event == EventType.ACCESS_DENIED
    h = deployment.headers("sup1")
    assert_problem(deployment.client.get(f"{API}/subjects/S0000000000", headers=h), 404)
    no = deployment.client.get(f"{API}/subjects/S0000000000", headers=deployment.headers("aud1"))
    assert_problem(no, 403)


def test_a_training_subject_is_outside_a_live_entitlement(deployment: Deployment) -> None:
    """sup1 holds the live gallery only: a training-range subject is refused (403)."""
    sid = deployment.subjects["Colin Powell"]
    answer = deployment.client.get(f"{API}/subjects/{sid}", headers=deployment.headers("sup1"))
    assert_problem(answer, 403, "access_denied")


def test_a_reference_photo_is_served_unstored_and_audited(deployment: Deployment) -> None:
    """sup1 gets Bill Clinton's first enrolment photo: a JPEG of at most 480 px, sent with
    Cache-Control: no-store, its view a record_view entry naming sup1, the subject and n."""
    sid = deployment.subjects["Bill Clinton"]
    answer = deployment.client.get(
        f"{API}/subjects/{sid}/photos/1", headers=deployment.headers("sup1")
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "no-store"
    picture = Image.open(io.BytesIO(answer.content))
    assert picture.format == "JPEG" and max(picture.size) <= 480
    last = deployment.ctx.audit.read()[-1]
    assert (last.event, last.operator, last.details["subject_id"], last.details["n"]) == (
        EventType.RECORD_VIEW,
        "sup1",
        sid,
        1,
    )


def test_reference_photos_are_refused_without_the_right(deployment: Deployment) -> None:
    """The auditor (no view_record) and off2 (token without view_record) get 403, and the
    refusal is audited; a photo number past the last is 404 'no reference photo'."""
    sid = deployment.subjects["Bill Clinton"]
    url = f"{API}/subjects/{sid}/photos/1"
    for user in ("aud1", "off2"):
        answer = deployment.client.get(url, headers=deployment.headers(user))
        assert_problem(answer, 403, "access_denied")
        last = deployment.ctx.audit.read()[-1]
        assert (last.event, last.operator) == (EventType.ACCESS_DENIED, user)
    past = f"{API}/subjects/{sid}/photos/3"
    body = assert_problem(deployment.client.get(past, headers=deployment.headers("sup1")), 404)
    assert "no reference photo" in body["detail"]


def test_the_super_query_reaches_the_entitled_sources_only(deployment: Deployment) -> None:
    """off1 finds the record linked to a subject; off4, without the source, gets the source
    listed as not entitled; off2, whose token is scoped search_live without view_record, and
    the trainee are refused (403, audited); each query is audited."""
    sid = deployment.subjects["Bill Clinton"]
    body = {"purpose": "lead-check", "case": "CASE-Q1", "subject_id": sid}
    c = deployment.client
    found = c.post(f"{API}/queries", json=body, headers=deployment.headers("off1"))
    assert found.status_code == 200, found.text
    answer = found.json()
    assert [h["record_id"] for h in answer["hits"]] == ["R-1"] and answer["complete"] is True
    assert answer["sources"] == [
        {"source": "registry", "state": "answered", "reason": "", "hits": 1,
         "elapsed_ms": answer["sources"][0]["elapsed_ms"]}
    ]  # fmt: skip
    other = c.post(f"{API}/queries", json=body, headers=deployment.headers("off4")).json()
    assert other["hits"] == [] and other["sources"][0]["state"] == "not_entitled"
    before = deployment.audit_count()
    scoped = c.post(f"{API}/queries", json=body, headers=deployment.headers("off2"))
    assert "view_record is outside the scope" in assert_problem(scoped, 403)["detail"]
    denial = deployment.ctx.audit.read(before + 1)
    assert [(e.event, e.operator, e.details["action"]) for e in denial] == [
        ("access_denied", "off2", "view_record")
    ]
    assert_problem(c.post(f"{API}/queries", json=body, headers=deployment.headers("trn1")), 403)
    queries = [e for e in deployment.ctx.audit.read() if e.event == EventType.SUPER_QUERY]
    assert [e.operator for e in queries[-2:]] == ["off1", "off4"]


def test_a_query_without_a_key_is_400(deployment: Deployment) -> None:
    """A super query with no key names the missing field."""
    body = {"purpose": "lead-check", "case": "CASE-Q2"}
    answer = deployment.client.post(f"{API}/queries", json=body, headers=deployment.headers("off1"))
    assert assert_problem(answer, 400)["field"] == "query"
