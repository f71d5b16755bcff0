"""``/searches/face``, ``/searches/fingers``, ``/searches/person``: the identify use cases.

Each answer is the JSON of the matching ``identify ... --json`` command plus, per candidate,
``photo_url`` and the ``records`` the caller may see. The work runs in the bounded pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from mobileid.api.deps import CallerDep, RuntimeDep, described, problems, read_upload
from mobileid.errors import InvalidArgument
from mobileid.service.answers import identify_finger_json, identify_json, json_safe, person_json
from mobileid.service.caller import Caller
from mobileid.service.candidates import candidate_records, with_review
from mobileid.service.context import Context
from mobileid.service.review import photo_urls
from mobileid.service.searches import (
    FingerOptions,
    Where,
    Why,
    search_face,
    search_fingers,
    search_person,
)
from mobileid.service.stages import MAX_PROBES

router = APIRouter(tags=["searches"])

Purpose = Annotated[str | None, Form(description="a configured purpose (its authority is logged)")]
Case = Annotated[str | None, Form(description="case or incident number")]
Location = Annotated[str | None, Form(description="where (optional)")]
Top = Annotated[int, Form(description="how many candidates, 1..100")]
Galleries = Annotated[list[str] | None, Form(description="galleries to search (repeat)")]
Contactless = Annotated[bool, Form(description="the images are phone photos of fingertips")]
Ppi = Annotated[float | None, Form(description="resolution of contact prints")]
Target = Annotated[
    str | None,
    Form(description="a practice search: the training subject photographed (id or name)"),
]
_PRACTICE = (
    " A practice search (purpose training, optional `target`) adds `practice`: whether the "
    "capture passed the quality gates, where the target ranked, and what a good capture of "
    "the same person looks like where the range keeps one (`reference_photo_url`, or null)."
)

_ROLES = "officer (live or training purposes), trainee (training purpose only)"
_SCOPES = "search_live for a live purpose, search_training for the training purpose"
_REFUSES = (
    "no token (401); a missing or unknown purpose or case (400, audited); a role, scope or "
    "gallery entitlement that does not allow it, or a live gallery for a training token (403, "
    "audited); a gallery of the wrong kind (404, audited); an unusable image (413/415/422 with "
    "advice, audited); a full work queue (503), or a worker process lost while it ran the "
    "capture's stages (503, audited as failed); a vector or database server that does not "
    "answer while the galleries are searched (503, audited as failed), or calibration tables "
    "that cannot read this deployment's scores (409, audited)"
)


def _reviewed(ctx: Context, who: Caller, answer: dict[str, Any], reason: Any) -> dict[str, Any]:
    ids = [c["subject_id"] for c in answer["candidates"]]
    records = candidate_records(ctx, who, reason, answer["search_id"], ids)
    return with_review(dict(json_safe(answer)), records, photo_urls(ctx, ids))


def _face(ctx: Context, who: Caller, image: bytes, why: Why, where: Where) -> dict[str, Any]:
    result = search_face(ctx, who, image, why, where)
    return _reviewed(ctx, who, identify_json(result), result.reason)


@router.post(
    "/searches/face",
    responses=problems(404, 409, 413, 415, 503),
    description=described(
        "Identify from one face photo (1:N): candidates with calibrated scores and bands, "
        "a lead for human review, never an identification. A strong candidate lists in "
        "`lookalikes` the other subjects of its gallery its own face reaches the strong band "
        "against (one person enrolled twice, or two people alike), to rule out before acting. "
        "One audit entry. A live purpose "
        "needs a current certification." + _PRACTICE,
        roles=_ROLES,
        scopes=_SCOPES,
        refuses=_REFUSES,
    ),
)
async def face(
    who: CallerDep,
    rt: RuntimeDep,
    image: Annotated[UploadFile, File(description="the face photo")],
    purpose: Purpose = None,
    case: Case = None,
    location: Location = None,
    top: Top = 10,
    galleries: Galleries = None,
    target: Target = None,
) -> dict[str, Any]:
    data = await read_upload(image, "image", rt.ctx.settings.limits.max_file_bytes)
    why, where = Why(purpose, case, location, target), Where(tuple(galleries or ()), top)
    return await rt.pool.run(_face, rt.ctx, who, data, why, where)


def _fingers(
    ctx: Context, who: Caller, images: list[bytes], why: Why, where: Where, opts: FingerOptions
) -> dict[str, Any]:
    result = search_fingers(ctx, who, images, why, where, opts)
    return _reviewed(ctx, who, identify_finger_json(result), result.reason)


async def _read_all(files: list[UploadFile], field: str, max_bytes: int) -> list[bytes]:
    if len(files) > MAX_PROBES:
        raise InvalidArgument(
            f"{field}: expected 1..{MAX_PROBES} images, got {len(files)}", field=field
        )
    return [await read_upload(f, f"{field}[{i}]", max_bytes) for i, f in enumerate(files)]


@router.post(
    "/searches/fingers",
    responses=problems(404, 409, 413, 415, 503),
    description=described(
        "Identify from one or more fingerprints of one person (contact prints, or phone "
        "photos with `contactless`), fused per subject. One audit entry. A live purpose "
        "needs a current certification." + _PRACTICE + " The range keeps no fingertip "
        "photos, so a finger practice answer has none.",
        roles=_ROLES,
        scopes=_SCOPES,
        refuses=_REFUSES + "; more than 10 images (400); a `target` with no enrolled "
        "fingerprints (400, audited)",
    ),
)
async def fingers(
    who: CallerDep,
    rt: RuntimeDep,
    images: Annotated[list[UploadFile], File(description="the prints (repeat)")],
    purpose: Purpose = None,
    case: Case = None,
    location: Location = None,
    top: Top = 10,
    galleries: Galleries = None,
    contactless: Contactless = False,
    ppi: Ppi = None,
    target: Target = None,
) -> dict[str, Any]:
    data = await _read_all(images, "images", rt.ctx.settings.limits.max_file_bytes)
    why, where = Why(purpose, case, location, target), Where(tuple(galleries or ()), top)
    opts = FingerOptions(contactless, ppi)
    return await rt.pool.run(_fingers, rt.ctx, who, data, why, where, opts)


def _person(
    ctx: Context,
    who: Caller,
    face: bytes,
    prints: list[bytes],
    why: Why,
    where: Where,
    opts: FingerOptions,
) -> dict[str, Any]:
    result = search_person(ctx, who, face, prints, why, where, opts)
    return _reviewed(ctx, who, person_json(result), result.reason)


@router.post(
    "/searches/person",
    responses=problems(404, 409, 413, 415, 503),
    description=described(
        "Identify from a face photo and fingerprints together; each subject's face and finger "
        "evidence is fused by the documented rule. One audit entry. A live purpose needs a "
        "current certification." + _PRACTICE + " Its quality gates are the face's and every "
        "fingertip's.",
        roles=_ROLES,
        scopes=_SCOPES,
        refuses=_REFUSES,
    ),
)
async def person(
    who: CallerDep,
    rt: RuntimeDep,
    face: Annotated[UploadFile, File(description="the face photo")],
    fingers: Annotated[list[UploadFile], File(description="the prints (repeat)")],
    purpose: Purpose = None,
    case: Case = None,
    location: Location = None,
    top: Top = 10,
    galleries: Galleries = None,
    contactless: Contactless = False,
    ppi: Ppi = None,
    target: Target = None,
) -> dict[str, Any]:
    limit = rt.ctx.settings.limits.max_file_bytes
    face_data = await read_upload(face, "face", limit)
    prints = await _read_all(fingers, "fingers", limit)
    why, where = Why(purpose, case, location, target), Where(tuple(galleries or ()), top)
    opts = FingerOptions(contactless, ppi)
    return await rt.pool.run(_person, rt.ctx, who, face_data, prints, why, where, opts)
