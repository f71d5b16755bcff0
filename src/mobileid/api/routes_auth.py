"""``/auth/login``, ``/auth/logout`` and ``/me``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from mobileid.api.deps import CallerDep, Credentials, RuntimeDep, described, problems
from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth.errors import LoginRateLimited
from mobileid.auth.tokens import TOKEN_PREFIX
from mobileid.errors import InvalidArgument

router = APIRouter(tags=["auth"])


class Login(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    totp: str = Field(max_length=16, description="the current one-time code")


class Session(BaseModel):
    token: str
    expires_at: str = Field(description="when the session ends if left idle (UTC)")
    idle_timeout_s: int
    operator: str
    role: str


class Me(BaseModel):
    operator: str
    role: str
    unit: str | None
    galleries: list[str]
    sources: list[str]
    scopes: list[str] | None = Field(description="an API token's actions; null: the role's")
    via: str
    certification: dict[str, str] | None = Field(
        description="certification state; null while certification is not recorded"
    )


@router.post(
    "/auth/login",
    response_model=Session,
    responses=problems(429),
    description=described(
        "Log on with password and one-time code; answers a session token for "
        "`Authorization: Bearer`. The session ends after 30 idle minutes.",
        roles="any operator",
        scopes="none needed",
        refuses="a wrong password or code (401, audited; the account locks for 10 minutes "
        "after 5 failures), a locked or disabled account (401), more than the allowed attempts "
        "per address in the window (429 with Retry-After, audited)",
    ),
)
def login(body: Login, request: Request, rt: RuntimeDep) -> Session:
    address = request.client.host if request.client else "unknown"
    wait = rt.limiter.admit(address)
    if wait is not None:
        details = {"reason": "rate_limited", "via": "api"}
        rt.ctx.audit.record(
            AuditEvent(
                EventType.LOGON_FAILED, body.username[:64] or "(unknown)", "(none)", "auth",
                Outcome.DENIED, details,
            )
        )  # fmt: skip
        raise LoginRateLimited(
            f"login: expected fewer attempts from this address, got too many; try again in "
            f"{int(wait) + 1} s",
            retry_after_s=int(wait) + 1,
        )
    result = rt.ctx.auth.logon(body.username, body.password, body.totp)
    idle = timedelta(seconds=result.idle_timeout_s)
    return Session(
        token=result.session_token,
        expires_at=(datetime.now(UTC) + idle).isoformat(timespec="seconds"),
        idle_timeout_s=result.idle_timeout_s,
        operator=result.principal.username,
        role=result.principal.role.value,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    responses=problems(),
    description=described(
        "End this session (its token stops working at once).",
        roles="any operator",
        scopes="none needed",
        refuses="no token or a dead session (401); an API token (400: revoke those with "
        "`mobileid operators`)",
    ),
)
def logout(
    who: CallerDep,
    creds: Credentials,
    rt: RuntimeDep,
) -> None:
    token = creds.credentials if creds else ""
    if token.startswith(TOKEN_PREFIX):
        raise InvalidArgument(
            "Authorization: expected a session token, got an API token (revoke API tokens "
            "with mobileid operators)",
            field="authorization",
        )
    rt.ctx.auth.logout(token)


@router.get(
    "/me",
    response_model=Me,
    responses=problems(),
    description=described(
        "Who this token acts for: operator, role, unit, gallery and source entitlements, token "
        "scopes and certification state.",
        roles="any operator",
        scopes="none needed",
        refuses="no token or a dead one (401)",
    ),
)
def me(who: CallerDep) -> Me:
    p = who.principal
    assert p is not None  # a bearer token always names an operator
    return Me(
        operator=who.operator,
        role=who.role,
        unit=who.unit,
        galleries=sorted(p.galleries),
        sources=sorted(p.sources),
        scopes=list(who.scopes) if who.scopes is not None else None,
        via=p.via,
        certification=None,
    )
