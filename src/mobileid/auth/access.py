"""The access decision: role table, token scope, then gallery and source entitlements."""

from __future__ import annotations

from mobileid.auth.context import AuthDeps, emit
from mobileid.auth.errors import AccessDenied
from mobileid.auth.events import EventType, Outcome
from mobileid.auth.roles import ENTITLEMENT_BOUND, PERMISSIONS, Action, parse_action
from mobileid.auth.values import Principal


def denial(
    principal: Principal, action: Action, gallery: str | None, source: str | None
) -> str | None:
    """Why ``principal`` may not do ``action`` (on ``gallery``/``source``); None if it may."""
    if action not in PERMISSIONS[principal.role]:
        return f"role {principal.role.value} does not allow {action.value}"
    if principal.scope is not None and action not in principal.scope:
        return f"{action.value} is outside the scope of token {principal.credential_id}"
    if action in ENTITLEMENT_BOUND:
        if gallery is not None and gallery not in principal.galleries:
            return f"no entitlement to gallery {gallery!r}"
        if source is not None and source not in principal.sources:
            return f"no entitlement to record source {source!r}"
    return None


def access_denied(principal: Principal, action: Action, reason: str) -> AccessDenied:
    return AccessDenied(
        f"action: operator {principal.username!r} may not {action.value}: {reason}",
        operator=principal.username,
        action=action.value,
        reason=reason,
    )


def enforce(
    deps: AuthDeps,
    principal: Principal,
    action: Action | str,
    *,
    gallery: str | None = None,
    source: str | None = None,
) -> None:
    """Raise ``AccessDenied`` (and record ``access_denied``) unless the action is allowed."""
    act = action if isinstance(action, Action) else parse_action(action)
    reason = denial(principal, act, gallery, source)
    if reason is None:
        return
    context = {k: v for k, v in (("gallery", gallery), ("source", source)) if v is not None}
    emit(
        deps,
        None,
        EventType.ACCESS_DENIED,
        principal,
        Outcome.DENIED,
        action=act.value,
        reason=reason,
        **context,
    )
    raise access_denied(principal, act, reason)
