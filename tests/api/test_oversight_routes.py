"""The audit log and the oversight report over HTTP: auditors and supervisors only, each read
audited."""

from __future__ import annotations

from datetime import UTC, datetime

from mobileid.audit import EventType
from tests.api.conftest import API, Deployment, assert_problem


def test_an_auditor_pages_and_filters_entries_and_the_read_is_logged(
    deployment: Deployment,
) -> None:
    """Entries come back oldest first, filtered by kind; the read is an audit_read entry."""
    h = deployment.headers("aud1")
    page = deployment.client.get(f"{API}/audit/entries?start=1&limit=3", headers=h)
    assert page.status_code == 200, page.text
    assert [e["sequence"] for e in page.json()["entries"]] == [1, 2, 3]
    enrols = deployment.client.get(f"{API}/audit/entries?event=enrol&limit=500", headers=h)
    assert {e["event"] for e in enrols.json()["entries"]} == {"enrol"}
    last = deployment.ctx.audit.read()[-1]
    assert (last.event, last.operator, last.details["action"]) == (
        EventType.AUDIT_READ,
        "aud1",
        "entries",
    )
    bad = deployment.client.get(f"{API}/audit/entries?event=nonsense", headers=h)
    assert assert_problem(bad, 400)["field"] == "event"


def test_only_the_auditor_reads_or_verifies_the_log(deployment: Deployment) -> None:
    """An officer and a supervisor are refused the log (403, audited); the auditor verifies."""
    for user in ("off1", "sup1"):
        h = deployment.headers(user)
        assert_problem(deployment.client.get(f"{API}/audit/entries", headers=h), 403)
        assert_problem(deployment.client.post(f"{API}/audit/verify", headers=h), 403)
    verified = deployment.client.post(f"{API}/audit/verify", headers=deployment.headers("aud1"))
    assert verified.status_code == 200 and verified.json()["ok"] is True


def test_the_oversight_report_as_json_and_html(deployment: Deployment) -> None:
    """Supervisor and auditor get the report (JSON, or HTML without script); an officer is
    refused; reversed dates are 400."""
    today = datetime.now(UTC).date().isoformat()
    url = f"{API}/reports/oversight?from={today}&to={today}"
    report = deployment.client.get(url, headers=deployment.headers("sup1"))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["window"]["from"] == today and body["chain"]["ok"] is True
    assert body["searches"]["total"] >= 0
    page = deployment.client.get(url + "&format=html", headers=deployment.headers("aud1"))
    assert page.headers["content-type"].startswith("text/html")
    assert "Oversight report" in page.text and "<script" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert_problem(deployment.client.get(url, headers=deployment.headers("off1")), 403)
    reversed_ = f"{API}/reports/oversight?from=2026-02-02&to=2026-01-01"
    assert_problem(deployment.client.get(reversed_, headers=deployment.headers("aud1")), 400)
