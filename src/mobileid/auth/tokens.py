"""API tokens: scoped to some of the owner's actions, expiring, revocable, stored hashed.

A token is issued from a logon session (a token cannot mint tokens), is shown once, and is
kept only as its SHA-256. Its effective rights are always the intersection of its scope with
the owner's *current* role, so a demoted operator's tokens shrink with them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobileid.auth.access import enforce
from mobileid.auth.context import (
    AuthDeps,
    digest,
    emit,
    get_operator,
    principal_of,
    tick,
    unknown_role,
)
from mobileid.auth.errors import AccessDenied, TokenRefused
from mobileid.auth.events import EventType, Outcome
from mobileid.auth.roles import PERMISSIONS, Action, parse_action
from mobileid.auth.store import ApiTokenRow, OperatorRow
from mobileid.auth.values import IssuedToken, Principal, TokenInfo
from mobileid.database import UnitOfWork
from mobileid.errors import InvalidArgument, NotFound

TOKEN_PREFIX = "mid_"


def _scope_of(principal: Principal, scope: Iterable[Action | str]) -> frozenset[Action]:
    actions = frozenset(a if isinstance(a, Action) else parse_action(a) for a in scope)
    if not actions:
        raise InvalidArgument("scope: expected at least one action, got none", field="scope")
    outside = sorted(a.value for a in actions - PERMISSIONS[principal.role])
    if outside:
        raise InvalidArgument(
            f"scope: expected actions of role {principal.role.value}, got {', '.join(outside)}",
            field="scope",
        )
    return actions


def _refuse_unless_session(deps: AuthDeps, principal: Principal) -> None:
    if principal.via == "session":
        return
    reason = f"API tokens are issued from a logon session, not via {principal.via}"
    details = {"action": "issue_token", "reason": reason}
    emit(deps, None, EventType.ACCESS_DENIED, principal, Outcome.DENIED, **details)
    raise AccessDenied(
        f"action: operator {principal.username!r} may not issue_token: {reason}",
        operator=principal.username,
        action="issue_token",
        reason=reason,
    )


def _check_lifetime(expires_in: timedelta, limit: timedelta) -> None:
    if not timedelta(0) < expires_in <= limit:
        raise InvalidArgument(
            f"expires_in: expected more than 0 s and at most {int(limit.total_seconds())} s, "
            f"got {expires_in.total_seconds():g} s",
            field="expires_in",
        )


def issue_token(
    deps: AuthDeps,
    principal: Principal,
    scope: Iterable[Action | str],
    *,
    expires_in: timedelta,
    label: str = "",
) -> IssuedToken:
    _refuse_unless_session(deps, principal)
    actions = _scope_of(principal, scope)
    _check_lifetime(expires_in, deps.params.max_token_lifetime)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "T" + secrets.token_hex(8)
    with UnitOfWork(deps.engine) as work:
        s = work.session
        now = tick(deps, work).now
        row = get_operator(s, principal.username)
        expires_at = now + expires_in
        s.add(
            ApiTokenRow(
                token_id=token_id,
                token_sha256=digest(token),
                operator_id=row.id,
                label=label[:128],
                scope=" ".join(sorted(a.value for a in actions)),
                created_at=now,
                expires_at=expires_at,
            )
        )
        emit(
            deps,
            work,
            EventType.TOKEN_ISSUED,
            principal,
            Outcome.SUCCESS,
            token_id=token_id,
            scope=sorted(a.value for a in actions),
            expires_at=expires_at.isoformat(),
            label=label[:128],
        )
    return IssuedToken(token_id=token_id, token=token, scope=actions, expires_at=expires_at)


def token_principal(deps: AuthDeps, token: str) -> Principal:
    """Who this API token acts for, with its scope; refuses forged, expired, revoked ones."""
    with UnitOfWork(deps.engine) as work:
        s = work.session
        now = tick(deps, work).now
        found = _check(deps, work, token, now)
        if not isinstance(found, str):
            tok, row = found
            tok.last_used_at = now
            scope = frozenset(Action(a) for a in tok.scope.split())
            return principal_of(s, row, "token", scope=scope, credential_id=tok.token_id)
    raise TokenRefused(f"token: expected a valid API token, got {found}", reason=found)


def _check(
    deps: AuthDeps, work: UnitOfWork, token: str, now: datetime
) -> tuple[ApiTokenRow, OperatorRow] | str:
    s = work.session
    tok = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_sha256 == digest(token)))
    if tok is None:
        emit(deps, work, EventType.ACCESS_DENIED, None, Outcome.DENIED, reason="token_forged")
        return "an unknown token (forged, mistyped or from another deployment)"
    row = s.get_one(OperatorRow, tok.operator_id)
    problem: tuple[str, str] | None = None
    if tok.revoked_at is not None:
        problem = (
            "token_revoked",
            f"token {tok.token_id} revoked at {tok.revoked_at:%Y-%m-%d %H:%M} UTC",
        )
    elif now >= tok.expires_at:
        problem = (
            "token_expired",
            f"token {tok.token_id} expired at {tok.expires_at:%Y-%m-%d %H:%M} UTC",
        )
    elif row.disabled_at is not None:
        problem = (
            "operator_disabled",
            f"token {tok.token_id} of disabled operator {row.username!r}",
        )
    elif unknown_role(row):
        problem = (
            "unknown_role",
            f"token {tok.token_id} of operator {row.username!r}, whose stored role "
            f"{row.role!r} is not one this release knows",
        )
    if problem is None:
        return tok, row
    emit(
        deps,
        work,
        EventType.ACCESS_DENIED,
        row,
        Outcome.DENIED,
        reason=problem[0],
        token_id=tok.token_id,
    )
    return problem[1]


def revoke_token(deps: AuthDeps, actor: Principal, token_id: str) -> None:
    """Revoke a token: its owner may, and so may an operator with ``manage_operators``."""
    with Session(deps.engine) as s:
        tok = s.get(ApiTokenRow, token_id)
        owner = None if tok is None else s.get_one(OperatorRow, tok.operator_id).username
    if owner is None:
        raise NotFound(
            f"token_id: expected the id of an issued token, got {token_id!r}", field="token_id"
        )
    if owner != actor.username:
        enforce(deps, actor, Action.MANAGE_OPERATORS)
    with UnitOfWork(deps.engine) as work:
        s = work.session
        now = tick(deps, work).now
        tok = s.get_one(ApiTokenRow, token_id)
        if tok.revoked_at is None:
            tok.revoked_at, tok.revoked_by = now, actor.username
            emit(
                deps,
                work,
                EventType.TOKEN_REVOKED,
                actor,
                Outcome.SUCCESS,
                token_id=token_id,
                owner=owner,
            )


def list_tokens(deps: AuthDeps, username: str) -> list[TokenInfo]:
    with Session(deps.engine) as s:
        row = get_operator(s, username)
        toks = s.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.operator_id == row.id)
            .order_by(ApiTokenRow.created_at)
        ).all()
        return [
            TokenInfo(
                token_id=t.token_id,
                owner=row.username,
                label=t.label,
                scope=frozenset(Action(a) for a in t.scope.split()),
                created_at=t.created_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
                last_used_at=t.last_used_at,
            )
            for t in toks
        ]
