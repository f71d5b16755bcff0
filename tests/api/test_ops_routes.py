"""Health, readiness, metrics, headers, the OpenAPI description and the preview check."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from mobileid.api import ApiOptions, create_app
from tests.api.conftest import API, Deployment, assert_problem


def test_health_and_readiness(deployment: Deployment) -> None:
    """healthz answers; readyz says the database, audit log and pipelines are ready."""
    c = deployment.client
    assert c.get(f"{API}/healthz").json() == {"status": "ok"}
    ready = c.get(f"{API}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["pipelines"] is True and ready.json()["database"] is True


def test_metrics_count_routes_without_personal_data(deployment: Deployment) -> None:
    """Prometheus text with route templates, never a subject id, operator or case."""
    sid = deployment.subjects["Bill Clinton"]
    deployment.client.get(f"{API}/subjects/{sid}", headers=deployment.headers("sup1"))
    frame = _jpeg(Image.new("RGB", (160, 120), (90, 90, 90)))  # one job through the work pool
    files = {"image": ("f.jpg", frame)}
    h = deployment.headers("off1")
    assert deployment.client.post(f"{API}/capture/quality", headers=h, files=files).is_success
    text = deployment.client.get(f"{API}/metrics").text
    assert 'route="/api/v1/subjects/{subject_id}"' in text
    assert (
        "mobileid_work_queue_depth" in text
        and 'mobileid_gallery_embeddings{gallery="field"}' in text
    )
    assert 'mobileid_stage_seconds_count{stage="work"}' in text
    assert 'mobileid_stage_seconds_count{stage="queue_wait"}' in text
    for personal in (sid, "sup1", "off1", "CASE-", "Bill"):
        assert personal not in text


def test_every_answer_carries_the_security_headers_and_no_cors(deployment: Deployment) -> None:
    """CSP without inline script, nosniff, no-referrer, no-store for the API; no CORS header
    for a foreign origin (none is configured); no HSTS without TLS."""
    answer = deployment.client.get(f"{API}/me", headers={"Origin": "https://evil.example"})
    h = answer.headers
    assert "script-src 'self'" in h["content-security-policy"]
    assert "unsafe-inline" not in h["content-security-policy"]
    assert (h["x-content-type-options"], h["referrer-policy"]) == ("nosniff", "no-referrer")
    assert h["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in h and "strict-transport-security" not in h


def test_the_openapi_description_names_roles_and_refusals(deployment: Deployment) -> None:
    """Every route that needs a token says which roles and scopes it takes and what it refuses."""
    spec = deployment.client.get(f"{API}/openapi.json").json()
    routes = {(path, m) for path, item in spec["paths"].items() for m in item}
    expected = {
        ("/api/v1/auth/login", "post"), ("/api/v1/auth/logout", "post"), ("/api/v1/me", "get"),
        ("/api/v1/searches/face", "post"), ("/api/v1/searches/fingers", "post"),
        ("/api/v1/searches/person", "post"),
        ("/api/v1/searches/{search_id}/disposition", "post"), ("/api/v1/searches", "get"),
        ("/api/v1/queries", "post"), ("/api/v1/subjects/{subject_id}", "get"),
        ("/api/v1/subjects/{subject_id}/photos/{n}", "get"), ("/api/v1/audit/entries", "get"),
        ("/api/v1/audit/verify", "post"), ("/api/v1/reports/oversight", "get"),
        ("/api/v1/capture/quality", "post"), ("/api/v1/healthz", "get"),
        ("/api/v1/readyz", "get"), ("/api/v1/metrics", "get"),
        ("/api/v1/operators/{username}/certification", "post"), ("/api/v1/purposes", "get"),
    }  # fmt: skip
    assert routes == expected
    for path, method in expected - {
        (f"/api/v1/{p}", "get") for p in ("healthz", "readyz", "metrics")
    }:
        text = spec["paths"][path][method]["description"]
        assert "**Roles:**" in text and "**Refuses:**" in text, path


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_a_preview_frame_gets_advice(deployment: Deployment) -> None:
    """A good face frame is ok; a frame with no face is not, with advice; no token is 401."""
    c = deployment.client
    h = deployment.headers("off1")
    face = Image.open(io.BytesIO(deployment.photo("Bill_Clinton", 10))).resize((320, 320))
    good = c.post(f"{API}/capture/quality", headers=h, files={"image": ("f.jpg", _jpeg(face))})
    assert good.status_code == 200, good.text
    assert good.json()["ok"] is True and good.json()["faces_seen"] == 1
    wall = Image.new("RGB", (320, 240), (128, 128, 128))
    empty = c.post(f"{API}/capture/quality", headers=h, files={"image": ("w.jpg", _jpeg(wall))})
    assert empty.json()["ok"] is False and "move closer" in empty.json()["advice"][0]
    far = Image.new("RGB", (640, 640), (128, 128, 128))
    far.paste(face.resize((64, 64)), (288, 288))
    small = c.post(f"{API}/capture/quality", headers=h, files={"image": ("s.jpg", _jpeg(far))})
    assert small.json()["ok"] is False and "move closer" in " ".join(small.json()["advice"])
    assert_problem(c.post(f"{API}/capture/quality", files={"image": ("f.jpg", _jpeg(face))}), 401)
    aud = c.post(
        f"{API}/capture/quality", headers=deployment.headers("aud1"),
        files={"image": ("f.jpg", _jpeg(face))},
    )  # fmt: skip
    assert_problem(aud, 403)


def test_cors_only_for_configured_origins_and_hsts_under_tls(deployment: Deployment) -> None:
    """With allowed origins configured, only those get CORS headers; under TLS every answer
    carries HSTS."""
    options = ApiOptions(workers=1, queue=0, cors_origins=("https://app.example",), tls=True)
    c = TestClient(create_app(deployment.settings, context=deployment.ctx, options=options))
    ok = c.get(f"{API}/healthz", headers={"Origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["strict-transport-security"].startswith("max-age=")
    other = c.get(f"{API}/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
