"""Errors as ``application/problem+json`` (RFC 9457) with the stable ``code`` of the error tree.

The status follows the same classes as the command line's exit codes: a bad argument is 400,
an unusable image 413/415/422, no face or a low-quality capture 422 (with ``advice``), not
found 404, a pipeline or calibration mismatch 409, a broken audit log 503, access denied 403,
authentication failed 401, an unavailable record source 502, a full work queue or a vector
index server that does not answer (BackendUnavailable) 503.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mobileid.errors import (
    ImageTooLarge,
    MobileIdError,
    UnsupportedImage,
)

PROBLEM = "application/problem+json"

_BY_EXIT = {
    2: 400,
    3: 422,
    4: 422,
    5: 404,
    6: 409,
    7: 503,
    8: 403,
    9: 401,
    10: 502,
    11: 503,
    12: 503,
}
_HTTP_CODES = {
    400: "invalid_argument",
    401: "authentication_failed",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_argument",
    429: "too_many_requests",
}


def status_of(exc: MobileIdError) -> int:
    if isinstance(exc, ImageTooLarge):
        return 413
    if isinstance(exc, UnsupportedImage):
        return 415
    if exc.code == "login_rate_limited":
        return 429
    if exc.code in ("audit_key", "deployment_key_error"):
        return 500
    return _BY_EXIT.get(exc.exit_code, 500)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status}
    body.update({"code": code, "detail": detail, "field": field, **extra})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def from_error(exc: MobileIdError) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        headers["Retry-After"] = str(retry)
    reasons = getattr(exc, "reasons", None)
    if reasons is not None:
        extra["advice"] = list(reasons)
    elif exc.code == "no_face_found":
        extra["advice"] = ["face the camera", "move closer", "light the face"]
    return problem(status, exc.code, exc.message, field=exc.field, headers=headers, **extra)


def install(app: FastAPI) -> None:
    """Map every error to problem+json; nothing escapes as an HTML page or a traceback."""

    async def mobileid_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MobileIdError)
        return from_error(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(where) or None
        detail = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        return problem(422, "invalid_argument", detail, field=field)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return problem(exc.status_code, code, str(exc.detail), headers=headers)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return problem(500, "internal_error", "the service failed; the error was logged")

    app.add_exception_handler(MobileIdError, mobileid_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
