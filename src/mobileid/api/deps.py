"""What every route shares: the process-wide runtime, the caller of a request, and the words
of the OpenAPI descriptions (roles, scopes, refusals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mobileid.api.metrics import Metrics
from mobileid.api.options import ApiOptions
from mobileid.api.pool import WorkPool
from mobileid.api.security import LoginLimiter
from mobileid.api.workers import StageWorkers
from mobileid.auth import AuthenticationFailed
from mobileid.errors import ImageTooLarge
from mobileid.service.access import caller_from_bearer
from mobileid.service.caller import Caller
from mobileid.service.context import Context


@dataclass
class Runtime:
    """Built once per app: shared by every request and thread, never holding a caller."""

    ctx: Context
    pool: WorkPool
    options: ApiOptions
    limiter: LoginLimiter
    metrics: Metrics
    stages: StageWorkers | None = None  # the worker processes, once started
    ready: bool = False
    serving: int = 0  # lifespans entered and not yet left


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


_bearer = HTTPBearer(auto_error=False, description="a session token (POST /auth/login) or an "
                     "API token (mobileid operators token)")  # fmt: skip


def caller(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The operator of the ``Authorization: Bearer`` token: 401 without one, or with a forged,
    expired, revoked or idle-timed-out one (those refusals are audited)."""
    if creds is None:
        raise AuthenticationFailed(
            "Authorization: expected 'Bearer TOKEN' (a session token from POST /auth/login "
            "or an API token), got none",
            field="authorization",
        )
    # No lock of the process around it: each check's unit of work takes the auth clock row
    # first (see auth/context.py ``tick``), so concurrent checks wait their turn in the
    # database, bounded by its timeout, and never fail for having read before another wrote.
    return caller_from_bearer(runtime(request).ctx, creds.credentials)


CallerDep = Annotated[Caller, Depends(caller)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def read_upload(upload: UploadFile, field: str, max_bytes: int) -> bytes:
    """The upload's bytes, refused past ``max_bytes`` without reading further."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{field}: expected at most {max_bytes} bytes, got more", field=field)
    return data


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable error code (see errors.py)"},
        "detail": {"type": "string", "description": "field, what was expected, what came"},
        "field": {"type": ["string", "null"]},
        "advice": {"type": "array", "items": {"type": "string"}},
    },
}
_WHY = {
    400: "a bad argument (a missing or unknown purpose or case number too)",
    401: "no token, or a forged, expired, revoked or timed-out one",
    403: "the role, token scope or entitlements do not allow this (audited)",
    404: "not found",
    409: "no score calibration for the running pipeline",
    413: "the body or an image is over its limit",
    415: "not an image format the service reads",
    422: "an unusable capture (corrupt, too small, no face, low quality: see advice) or field",
    429: "too many login attempts from this address",
    502: "a record source is unavailable",
    503: "the work queue is full or a worker process was lost (Retry-After), the audit log "
    "is not intact, or the database or Milvus server is unavailable (Retry-After while its "
    "circuit breaker fails requests fast)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem+json answers a route can give."""
    codes = sorted({400, 401, 403, 422, 500, *statuses})
    return {
        s: {
            "description": _WHY.get(s, "the service failed"),
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for s in codes
    }


def described(does: str, *, roles: str, scopes: str, refuses: str) -> str:
    return f"{does}\n\n**Roles:** {roles}. **Token scopes:** {scopes}.\n\n**Refuses:** {refuses}"
