"""Liveness, readiness, metrics, and the capture-quality check of the phone's preview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from mobileid.api.deps import CallerDep, RuntimeDep, described, problems, read_upload
from mobileid.service.context import Context
from mobileid.service.review import capture_quality

router = APIRouter(tags=["operations"])

PREVIEW_MAX_BYTES = 4 * 1024 * 1024


class Advice(BaseModel):
    ok: bool
    advice: list[str]
    faces_seen: int


@router.post(
    "/capture/quality",
    response_model=Advice,
    responses=problems(413, 415, 503),
    description=described(
        "Is this preview frame good enough to capture? `ok`, and advice such as 'move "
        "closer'. Nothing is stored or audited (a phone sends up to two frames a second).",
        roles="officer, trainee",
        scopes="search_live or search_training",
        refuses="a role that may not search (403, audited); an unreadable or oversized frame "
        "(413/415/422); a full work queue (503)",
    ),
)
async def quality(
    who: CallerDep,
    rt: RuntimeDep,
    image: Annotated[UploadFile, File(description="a preview frame (JPEG or PNG)")],
) -> Advice:
    data = await read_upload(image, "image", PREVIEW_MAX_BYTES)
    found = await rt.pool.run(capture_quality, rt.ctx, who, data)
    return Advice(ok=found.ok, advice=list(found.advice), faces_seen=found.faces_seen)


@router.get("/healthz", description="The process is up (no checks, no token).")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness(ctx: Context, warmed: bool) -> dict[str, Any]:
    checks: dict[str, Any] = {"pipelines": warmed}
    try:
        checks["galleries"] = len(ctx.gallery.galleries())
        checks["database"] = True
    except Exception as exc:  # any failure means not ready; the reason is shown, not raised
        checks["database"] = f"{type(exc).__name__}"
    try:
        checks["audit_head"] = ctx.audit.head().sequence
    except Exception as exc:  # as above
        checks["audit_head"] = f"{type(exc).__name__}"
    checks["ready"] = (
        warmed and checks["database"] is True and isinstance(checks["audit_head"], int)
    )
    return checks


@router.get(
    "/readyz",
    responses={503: {"description": "not ready (the checks say which part)"}},
    description="Ready to serve searches: database, audit log and pipelines loaded (no token).",
)
def readyz(rt: RuntimeDep) -> JSONResponse:
    checks = readiness(rt.ctx, rt.ready)
    return JSONResponse(checks, status_code=200 if checks["ready"] else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    description="Prometheus metrics: requests by route and status, latency per route and "
    "stage, work-queue depth, gallery sizes. No personal data in labels (no token).",
)
def metrics(rt: RuntimeDep) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
