"""Who is searching, and may they? Operators act through API tokens on the command line.

Once a deployment has operators, every search, super query and disposition needs an
operator's token (``--token`` or ``$MOBILEID_TOKEN``): the role and the operator's gallery and
source entitlements then decide, and a refusal is audited as ``access_denied``. A deployment
with no operators yet (a fresh single-user install, the demo) acts as the local console.
"""

from __future__ import annotations

from mobileid.auth import AccessDenied, Action, AuthenticationFailed, AuthService, Principal
from mobileid.auth.crypto import load_or_create_key
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.context import Actor, Context


def open_auth(ctx: Context) -> AuthService:
    """The operator store of this deployment, reporting its events to the audit log."""
    key = load_or_create_key(ctx.settings.deployment_key_path)
    return AuthService.open(
        ctx.settings.data_dir / "operators.sqlite3", key, events=AuditedAuthEvents(ctx.audit)
    )


def act_as(ctx: Context, token: str | None) -> Principal | None:
    """Set ``ctx.actor`` from an operator token; None when acting as the console."""
    auth = open_auth(ctx)
    try:
        if not token:
            if auth.list_operators():
                raise AuthenticationFailed(
                    "token: expected an operator's API token (--token or $MOBILEID_TOKEN): this "
                    "deployment has operators, so the console may not search on its own",
                    field="token",
                )
            return None
        principal = auth.token_principal(token)
    finally:
        auth.close()
    ctx.actor = Actor(operator=principal.username, role=principal.role.value, unit=principal.unit)
    return principal


def authorize(
    ctx: Context,
    principal: Principal | None,
    action: Action,
    *,
    galleries: list[str] = (),  # type: ignore[assignment]
    sources: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Check the role and each entitlement; raise AccessDenied (audited) on the first refusal."""
    if principal is None:
        return
    auth = open_auth(ctx)
    try:
        if not galleries and not sources:
            auth.authorize(principal, action)
        for gallery in galleries:
            auth.authorize(principal, action, gallery=gallery)
        for source in sources:
            auth.authorize(principal, action, source=source)
    finally:
        auth.close()


__all__ = ["AccessDenied", "act_as", "authorize", "open_auth"]
