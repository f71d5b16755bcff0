"""Hostile uploads through the API get 4xx problem+json and change nothing: the gallery is
as before, no search answers, and at most the one audited refusal is added to a log that
still verifies."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from mobileid.audit import EventType
from tests.api.conftest import API, Deployment, assert_problem, search_form


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (  # noqa: E731
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    )
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _hostile(d: Deployment) -> dict[str, tuple[bytes, int, str]]:
    jpeg = d.photo("Bill_Clinton", 10)
    return {
        "truncated": (jpeg[: len(jpeg) // 3], 422, "corrupt_image"),
        "huge dimensions": (_png_header(60_000, 60_000), 413, "image_too_large"),
        "wrong type": (b"#!/bin/sh\necho not an image\n" * 20, 415, "unsupported_image"),
        "polyglot": (b"%PDF-1.4\n1 0 obj\n<<>>\nstream\n" + jpeg + b"\nendstream", 415,
                     "unsupported_image"),
        "html": (b"<html><script>alert(1)</script></html>", 415, "unsupported_image"),
    }  # fmt: skip


def _ok_searches(d: Deployment) -> int:
    return sum(1 for e in d.ctx.audit.read() if e.event == EventType.SEARCH and e.outcome == "ok")


@pytest.mark.parametrize("kind", ["truncated", "huge dimensions", "wrong type", "polyglot", "html"])
def test_a_hostile_image_is_refused_and_changes_nothing(deployment: Deployment, kind: str) -> None:
    """Each hostile file is a 4xx problem with its stable code; only the refusal is logged."""
    data, status, code = _hostile(deployment)[kind]
    gallery, audit, ok = (
        deployment.gallery_count(),
        deployment.audit_count(),
        _ok_searches(deployment),
    )
    files = {"image": ("probe.jpg", data, "image/jpeg")}
    answer = deployment.client.post(
        f"{API}/searches/face", headers=deployment.headers("off1"), files=files,
        data=search_form(case="CASE-H1"),
    )  # fmt: skip
    assert_problem(answer, status, code)
    assert deployment.gallery_count() == gallery and _ok_searches(deployment) == ok
    # the first search of a deployment also logs its purposes and bands (configuration)
    config = {EventType.PURPOSE_CHANGE, EventType.THRESHOLD_CHANGE}
    new = [e for e in deployment.ctx.audit.read(audit + 1) if e.event not in config]
    assert [(e.event, e.outcome, e.details["error"]) for e in new] == [
        (EventType.SEARCH, "refused", code)
    ]
    assert deployment.ctx.audit.verify().ok


def test_an_oversized_body_is_refused_before_it_is_read(deployment: Deployment) -> None:
    """A declared body over the route's limit is 413 at once; nothing is audited."""
    audit = deployment.audit_count()
    limit = deployment.settings.limits.max_file_bytes
    files = {"image": ("big.jpg", b"\xff" * (limit + 200_000), "image/jpeg")}
    answer = deployment.client.post(
        f"{API}/searches/face", headers=deployment.headers("off1"), files=files,
        data=search_form(),
    )  # fmt: skip
    assert_problem(answer, 413, "payload_too_large")
    assert deployment.audit_count() == audit


def test_a_streamed_body_is_cut_off_at_its_limit(deployment: Deployment) -> None:
    """A chunked body with no length is refused (413) as soon as it passes the limit: the app
    is driven over ASGI (the test client buffers bodies) and stops asking for chunks."""
    app = deployment.client.app
    received = 0
    sent: list[dict[str, Any]] = []
    token = deployment.tokens["off1"].encode()
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": f"{API}/queries", "raw_path": f"{API}/queries".encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer " + token),
                    (b"transfer-encoding", b"chunked")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 65_536
        return {"type": "http.request", "body": b" " * 65_536, "more_body": received < 10**9}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and json.loads(body)["code"] == "payload_too_large"
    assert received <= deployment.client.app.state.runtime.options.max_json_bytes + 65_536  # type: ignore[attr-defined]


def test_a_multi_frame_image_is_refused(deployment: Deployment) -> None:
    """An animated image is refused (we identify from one still)."""
    frames = [Image.new("RGB", (320, 320), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    files: dict[str, Any] = {"image": ("a.gif", buf.getvalue(), "image/gif")}
    answer = deployment.client.post(
        f"{API}/searches/face", headers=deployment.headers("off1"), files=files,
        data=search_form(case="CASE-H2"),
    )  # fmt: skip
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("application/problem+json")
