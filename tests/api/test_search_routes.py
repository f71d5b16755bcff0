"""Searches over HTTP: the answer of `identify ... --json` plus review fields; every refusal
audited as on the command line; the trainee never reaches live data."""

from __future__ import annotations

from typing import Any

from mobileid.audit import EventType
from tests.api.conftest import API, Deployment, assert_problem, search_form
from tests.conftest import shared_path

FACE_KEYS = {
    "search_id", "purpose", "legal_authority", "case_number", "training", "candidates",
    "pipeline_id", "notice", "galleries", "gallery_sizes", "thresholds", "fmr_bounds",
    "expected_false_candidates", "faces_seen", "face_rule", "quality", "calibration",
    "calibration_stratum", "scoring",
}  # fmt: skip
CANDIDATE_KEYS = {
    "subject_id", "name", "gallery", "score", "fmr", "band", "pipeline_id", "source", "rank",
    "photo_url", "records", "lookalikes",
}  # fmt: skip


def _face(d: Deployment, user: str, photo: bytes, **form: Any) -> Any:
    files = {"image": ("probe.jpg", photo, "image/jpeg")}
    return d.client.post(
        f"{API}/searches/face", headers=d.headers(user), files=files, data=search_form(**form)
    )


def _searches(d: Deployment) -> dict[str, Any]:
    return {
        e.details.get("search_id"): e for e in d.ctx.audit.read() if e.event == EventType.SEARCH
    }


def test_an_officer_finds_the_right_candidate_with_photo_url_and_records(
    deployment: Deployment,
) -> None:
    """The face answer has the CLI's keys plus search_id, photo_url and the records the officer
    may see; the search and the record view are audited under the officer's name."""
    answer = _face(deployment, "off1", deployment.photo("Bill_Clinton", 10), case="CASE-S1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == FACE_KEYS and body["case_number"] == "CASE-S1"
    assert body["calibration_stratum"] in ("good", "poor")
    assert body["scoring"].startswith("cohort-norm top10 probe0.5 gallery0 cohort ")
    best = body["candidates"][0]
    assert set(best) == CANDIDATE_KEYS
    assert best["name"] == "Bill Clinton" and best["band"] == "strong" and best["rank"] == 1
    assert best["lookalikes"] == []  # no other subject resembles him as strongly
    assert best["photo_url"] == f"{API}/subjects/{best['subject_id']}/photos/1"
    assert [r["record_id"] for r in best["records"]] == ["R-1"]
    assert all(c["records"] == [] for c in body["candidates"][1:])
    entry = _searches(deployment)[body["search_id"]]
    assert (entry.operator, entry.role, entry.outcome) == ("off1", "officer", "ok")
    views = [e for e in deployment.ctx.audit.read() if e.event == EventType.RECORD_VIEW]
    assert views[-1].details["search_id"] == body["search_id"] and views[-1].operator == "off1"
    assert views[-1].details["records"] == 1


def test_an_officer_without_the_source_sees_no_records(deployment: Deployment) -> None:
    """off2 holds no record-source entitlement: candidates come back without records."""
    answer = _face(deployment, "off2", deployment.photo("Bill_Clinton", 10))
    assert answer.status_code == 200, answer.text
    assert all(c["records"] == [] for c in answer.json()["candidates"])


def test_an_auditor_may_not_search_and_the_refusal_is_audited(deployment: Deployment) -> None:
    """403 for a role that may not search, recorded as access_denied naming the auditor."""
    before, gallery = deployment.audit_count(), deployment.gallery_count()
    answer = _face(deployment, "aud1", deployment.photo("Bill_Clinton", 10))
    assert_problem(answer, 403, "access_denied")
    new = deployment.ctx.audit.read(before + 1)
    assert (EventType.ACCESS_DENIED, "aud1") in [(e.event, e.operator) for e in new]
    assert deployment.gallery_count() == gallery


def test_a_trainee_never_reaches_live_data(deployment: Deployment) -> None:
    """A trainee's live purpose is refused (403); the training purpose on a live gallery is
    refused (404); on the training gallery the search runs, marked training."""
    photo = deployment.photo("Colin_Powell", 3)
    assert_problem(_face(deployment, "trn1", photo), 403, "access_denied")
    live_gallery = _face(deployment, "trn1", photo, purpose="training", case="TR-1")
    assert_problem(live_gallery, 404, "not_found")
    ok = _face(deployment, "trn1", photo, purpose="training", case="TR-2", galleries=["range"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["training"] is True and ok.json()["candidates"][0]["name"] == "Colin Powell"
    refused = [e for e in _searches(deployment).values() if e.operator == "trn1"]
    assert sorted(e.outcome for e in refused) == ["ok", "refused"]


def test_a_missing_purpose_is_400_and_audited(deployment: Deployment) -> None:
    """Without a purpose the search is refused before anything else, and audited."""
    before = deployment.audit_count()
    files = {"image": ("probe.jpg", deployment.photo("Bill_Clinton", 10), "image/jpeg")}
    answer = deployment.client.post(
        f"{API}/searches/face", headers=deployment.headers("off1"), files=files,
        data={"case": "CASE-S2"},
    )  # fmt: skip
    body = assert_problem(answer, 400, "invalid_argument")
    assert body["field"] == "purpose"
    (entry,) = deployment.ctx.audit.read(before + 1)
    assert (entry.event, entry.outcome, entry.operator) == (EventType.SEARCH, "refused", "off1")


def test_a_disposition_needs_its_scope(deployment: Deployment) -> None:
    """off1 records a disposition against its search; off2's token lacks the scope (403)."""
    search = _face(deployment, "off1", deployment.photo("Carlos_Menem", 10)).json()
    url = f"{API}/searches/{search['search_id']}/disposition"
    body = {"disposition": "confirmed", "subject_id": search["candidates"][0]["subject_id"]}
    assert_problem(deployment.client.post(url, json=body, headers=deployment.headers("off2")), 403)
    done = deployment.client.post(url, json=body, headers=deployment.headers("off1"))
    assert done.status_code == 200, done.text
    assert done.json()["disposition"] == "confirmed" and done.json()["best_band"] == "strong"
    missing = deployment.client.post(
        f"{API}/searches/Q000000000000000/disposition",
        json=body,
        headers=deployment.headers("off1"),
    )
    assert_problem(missing, 404, "not_found")


def test_a_disposition_is_for_a_candidate_by_an_entitled_operator(deployment: Deployment) -> None:
    """Only a candidate of that search (400 otherwise, nothing logged), only by an operator
    entitled to its gallery (403, audited); a second one supersedes the first, both kept."""
    c, d = deployment.client, deployment
    search = _face(d, "off1", d.photo("Carlos_Menem", 10), case="CASE-D2").json()
    url = f"{API}/searches/{search['search_id']}/disposition"
    mate = search["candidates"][0]["subject_id"]
    stranger = d.subjects["Colin Powell"]  # a training subject: never a candidate here
    before = d.audit_count()
    wrong = c.post(url, json={"disposition": "confirmed", "subject_id": stranger},
                   headers=d.headers("off1"))  # fmt: skip
    assert assert_problem(wrong, 400, "invalid_argument")["field"] == "subject_id"
    assert d.audit_count() == before
    body = {"disposition": "not_a_match", "subject_id": mate}
    denied = assert_problem(c.post(url, json=body, headers=d.headers("off5")), 403)
    assert "no entitlement to gallery 'field'" in denied["detail"]
    (entry,) = d.ctx.audit.read(before + 1)
    assert (entry.event, entry.operator, entry.details["gallery"]) == (
        "access_denied",
        "off5",
        "field",
    )
    first = c.post(url, json=body, headers=d.headers("off1")).json()
    again = c.post(url, json={**body, "disposition": "confirmed"}, headers=d.headers("off1"))
    second = again.json()
    assert first["supersedes"] is None and second["supersedes"] == first["recorded"]
    assert second["current"] is True and second["disposition"] == "confirmed"
    kept = [e for e in d.ctx.audit.read(before + 1) if e.event == EventType.DISPOSITION]
    assert [e.details["disposition"] for e in kept] == ["not_a_match", "confirmed"]


def test_my_searches_are_mine_and_everyone_s_need_review(deployment: Deployment) -> None:
    """mine=true lists the caller's own searches; mine=false is for supervisors only."""
    _face(deployment, "off1", deployment.photo("Bill_Clinton", 10), case="CASE-THEIRS")
    _face(deployment, "off2", deployment.photo("Bill_Clinton", 10), case="CASE-MINE")
    mine = deployment.client.get(f"{API}/searches?mine=true", headers=deployment.headers("off2"))
    rows = mine.json()["searches"]
    assert rows and {r["operator"] for r in rows} == {"off2"}
    assert rows[0]["case_number"] == "CASE-MINE"
    everyone = deployment.client.get(
        f"{API}/searches?mine=false", headers=deployment.headers("sup1")
    )
    assert {"off1", "off2"} <= {r["operator"] for r in everyone.json()["searches"]}
    refused = deployment.client.get(
        f"{API}/searches?mine=false", headers=deployment.headers("off2")
    )
    assert_problem(refused, 403, "access_denied")


def test_fingers_and_person_searches_answer_with_their_cli_shapes(deployment: Deployment) -> None:
    """A contact print searches the finger galleries; a face with a print is fused per subject."""
    fvc = shared_path("fingerprints", "FVC2002", "DB1_B", "101_1.tif").read_bytes()
    prints = [("images", ("101_1.tif", fvc, "image/tiff"))]
    h = deployment.headers("off1")
    fingers = deployment.client.post(
        f"{API}/searches/fingers", headers=h, files=prints, data=search_form(case="CASE-F")
    )
    assert fingers.status_code == 200, fingers.text
    body = fingers.json()
    assert body["modality"] == "finger" and body["candidates"] == [] and len(body["probes"]) == 1
    files = [
        ("face", ("face.jpg", deployment.photo("Bill_Clinton", 10), "image/jpeg")),
        ("fingers", ("101_1.tif", fvc, "image/tiff")),
    ]
    person = deployment.client.post(
        f"{API}/searches/person", headers=h, files=files, data=search_form(case="CASE-P")
    )
    assert person.status_code == 200, person.text
    fused = person.json()
    assert fused["modality"] == "face+finger" and {"face", "finger"} <= set(fused)
    best = fused["candidates"][0]
    assert best["name"] == "Bill Clinton" and best["finger_fmr"] is None
    assert best["photo_url"] == f"{API}/subjects/{best['subject_id']}/photos/1"
    assert [r["record_id"] for r in best["records"]] == ["R-1"]


def test_a_full_work_queue_is_503_with_retry_after(deployment: Deployment) -> None:
    """When every worker and queue slot is taken the search is refused at once (503), and
    nothing is searched or audited."""
    pool = deployment.client.app.state.runtime.pool  # type: ignore[attr-defined]
    before = deployment.audit_count()
    for _ in range(pool.capacity):
        pool._take()
    try:
        answer = _face(deployment, "off1", deployment.photo("Bill_Clinton", 10))
    finally:
        for _ in range(pool.capacity):
            pool._release()
    assert_problem(answer, 503, "service_busy")
    assert int(answer.headers["retry-after"]) >= 1
    assert deployment.audit_count() == before
