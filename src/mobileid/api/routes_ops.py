"""Liveness, readiness, metrics, and the capture-quality check of the phone's preview
(faces and fingers)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from mobileid.api.deps import CallerDep, RuntimeDep, described, problems, read_upload
from mobileid.service.caller import Caller
from mobileid.service.capture import FingerAdvice, preview_quality
from mobileid.service.context import Context
from mobileid.service.review import CaptureAdvice

router = APIRouter(tags=["operations"])

PREVIEW_MAX_BYTES = 4 * 1024 * 1024


class FingertipAdvice(BaseModel):
    position: str = Field(description="right_index...; unknown unless four fingertips tell it")
    width_px: int = Field(description="the finger's width in the frame, px")
    ridge_period_px: float | None = Field(description="ridge period found, px; null: none")
    problems: list[str] = Field(description="what keeps this fingertip from a capture")


class Advice(BaseModel):
    ok: bool
    advice: list[str]
    faces_seen: int
    # modality=finger only (left out of a face frame's answer)
    problems: list[str] | None = Field(
        default=None,
        description="finger frames: the advice as stable codes (face, no_finger, blank, dark, "
        "bright, small, blurred; contact prints: no_print, no_ridges, small_print)",
    )
    fingertips_seen: int | None = Field(default=None, description="finger frames only")
    fingertips: list[FingertipAdvice] | None = Field(default=None, description="finger frames")
    contactless: bool | None = Field(default=None, description="finger frames only")


def _answer(found: CaptureAdvice | FingerAdvice) -> Advice:
    if isinstance(found, CaptureAdvice):
        return Advice(ok=found.ok, advice=list(found.advice), faces_seen=found.faces_seen)
    tips = [FingertipAdvice(**{**asdict(t), "problems": list(t.problems)}) for t in found.tips]
    return Advice(
        ok=found.ok,
        advice=list(found.advice),
        faces_seen=found.faces_seen,
        problems=list(found.problems),
        fingertips_seen=found.fingertips_seen,
        fingertips=tips,
        contactless=found.contactless,
    )


@router.post(
    "/capture/quality",
    response_model=Advice,
    response_model_exclude_none=True,
    responses=problems(413, 415, 503),
    description=described(
        "Is this preview frame good enough to capture? `ok`, and advice a person can act on. "
        "Nothing is stored or audited (a phone sends up to two frames a second). "
        "`modality=face` (the default): the face quality gates ('move closer', 'too dark', "
        "'face the camera'); the answer is `{ok, advice, faces_seen}`. `modality=finger`: "
        "a camera frame of one to four fingertips (`contactless`, the default) is judged by "
        "the fingertip photo's image gates: a face in the frame, no fingertip in view, a "
        "blank, dark or glaring frame, a fingertip too small for its ridges to show, ridges "
        "blurred; `ok` when at least one fingertip passes. Send it with its long side at "
        "800-1000 px (the app sends 960): in a 480 px frame a fingertip's ridges are too "
        "fine to see. `contactless=false` judges a contact print with the contact gates. "
        "A finger preview does not extract minutiae (that takes 0.5-1.5 s): the search runs "
        "the full gate and may still refuse a capture with too few minutiae. The finger "
        "answer adds `problems` (stable codes), `fingertips_seen`, `fingertips` and "
        "`contactless`.",
        roles="officer, trainee",
        scopes="search_live or search_training",
        refuses="a role that may not search (403, audited); an unreadable or oversized frame "
        "(413/415/422); a modality other than face or finger (400); a full work queue (503)",
    ),
)
async def quality(
    who: CallerDep,
    rt: RuntimeDep,
    image: Annotated[UploadFile, File(description="a preview frame (JPEG or PNG)")],
    modality: Annotated[str, Form(description="face (default) or finger")] = "face",
    contactless: Annotated[
        bool,
        Form(
            description="modality=finger: a camera frame of fingertips (default) or, "
            "false, a contact print"
        ),
    ] = True,
) -> Advice:
    data = await read_upload(image, "image", PREVIEW_MAX_BYTES)
    return await rt.pool.run(_judge, rt.ctx, who, data, modality, contactless)


def _judge(ctx: Context, who: Caller, data: bytes, modality: str, contactless: bool) -> Advice:
    return _answer(preview_quality(ctx, who, data, modality=modality, contactless=contactless))


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
