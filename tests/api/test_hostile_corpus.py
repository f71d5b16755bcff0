"""The hostile corpus (tests/capture/corpus.py) through the HTTP routes: every file gets a
problem+json answer with its status and stable code on /searches/face, /searches/fingers,
/searches/person and /capture/quality; the gallery is as before; each refused search is one
audited refusal naming the error, and a preview frame is never audited (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from mobileid.audit import EventType
from tests.api.conftest import API, Deployment, search_form
from tests.capture.corpus import Hostile, hostile_corpus

CONFIG = {EventType.PURPOSE_CHANGE, EventType.THRESHOLD_CHANGE}
STATUS = {"image_too_large": 413, "unsupported_image": 415}  # every other refusal here is 422
# Pillow warns when an EXIF tag points past the end of the file, and skips the tag. The suite
# turns warnings into errors; the service runs with Python's default, where the photo decodes.
PILLOW_EXIF = pytest.mark.filterwarnings("ignore:Tag data larger than file:UserWarning")


def _post(d: Deployment, route: str, item: Hostile) -> Any:
    """``item`` as every file of ``route``, labelled a JPEG (the content alone decides), sent
    by an officer without record sources (an answered search then views no records)."""
    part = ("probe.jpg", item.data, "image/jpeg")
    files: list[tuple[str, Any]] = {
        "face": [("image", part)],
        "fingers": [("images", part)],
        "person": [("face", part), ("fingers", part)],
        "quality": [("image", part)],
    }[route]
    path = f"{API}/capture/quality" if route == "quality" else f"{API}/searches/{route}"
    form = {} if route == "quality" else search_form(case="CASE-H13")
    return d.client.post(path, headers=d.headers("off2"), files=files, data=form)


def _expected(item: Hostile, route: str) -> str:
    if route in ("face", "quality"):
        return item.face or "ok"
    if route == "fingers":
        return item.finger
    return item.face or item.finger  # a person search checks the face photo first


def _answer(answer: Any) -> tuple[int, str]:
    """(status, stable code or "ok"); a refusal must be problem+json with a detail."""
    if answer.status_code == 200:
        return 200, "ok"
    body = answer.json()
    problem = answer.headers["content-type"].startswith("application/problem+json")
    return answer.status_code, body["code"] if problem and body.get("detail") else "not a problem"


@PILLOW_EXIF
@pytest.mark.parametrize("route", ["face", "fingers", "person", "quality"])
def test_every_hostile_upload_is_a_problem_and_changes_nothing(
    deployment: Deployment, route: str
) -> None:
    """Status and code per file; the gallery as before; a search is one audit entry (refused
    naming the error, or answered for a photo whose only fault is its EXIF block); a preview
    frame none."""
    d, wrong = deployment, []
    for item in hostile_corpus():
        gallery, audit = d.gallery_count(), d.audit_count()
        got = _answer(_post(d, route, item))
        code = _expected(item, route)
        want = (200, "ok") if code == "ok" else (STATUS.get(code, 422), code)
        new = [e for e in d.ctx.audit.read(audit + 1) if e.event not in CONFIG]
        logged = [(e.event, e.outcome, e.details.get("error")) for e in new]
        outcome = ("ok", None) if code == "ok" else ("refused", code)
        audited = [] if route == "quality" else [(EventType.SEARCH, *outcome)]
        if got != want or d.gallery_count() != gallery or logged != audited:
            wrong.append((item.name, got, logged))
    assert wrong == []
    assert d.ctx.audit.verify().ok


def test_the_declared_type_and_name_play_no_part(deployment: Deployment) -> None:
    """A real photo sent as application/pdf named face.exe is searched as the photo it is."""
    photo = deployment.photo("Bill_Clinton", 10)
    files = {"image": ("face.exe", photo, "application/pdf")}
    answer = deployment.client.post(
        f"{API}/searches/face", headers=deployment.headers("off1"), files=files,
        data=search_form(case="CASE-H14"),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidates"][0]["name"] == "Bill Clinton"
