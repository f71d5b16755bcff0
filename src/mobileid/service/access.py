"""Who is acting, and may they? Every use case asks here, whichever front end called it.

Once a deployment has operators, every search, super query, disposition and record view needs
an operator's session or API token: the role, the token's scope and the operator's gallery and
source entitlements then decide, and a refusal is audited as ``access_denied``. A deployment
with no operators yet (a fresh single-user install, the demo) acts as the local console.
Management and audit commands follow the same rule (:func:`management_caller`): once there
are operators, the console keeps only the creation of the first admin, and every other
attempt without a token is refused and audited (reason ``console_refused``).

The operator store is opened once per process (``Context.auth``); nothing here writes to the
shared context: the caller is returned, and passed on by the front end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

from mobileid.auth import AccessDenied, Action, AuthenticationFailed, AuthService
from mobileid.auth.tokens import TOKEN_PREFIX
from mobileid.service.caller import Caller, caller_of, console_caller
from mobileid.service.context import Context

if TYPE_CHECKING:
    from mobileid.audit import EmbeddedAuditLog


def caller_from_token(ctx: Context, token: str | None) -> Caller:
    """The caller an API token (``--token``) names; the console when there is no token and the
    deployment has no operators yet. AuthenticationFailed for a missing, forged, expired or
    revoked token."""
    auth = ctx.auth
    if not token:
        operators = auth.census()[0]
        if operators:
            _refuse_console(ctx.audit, "search", operators)
        return console_caller()
    return caller_of(auth.token_principal(token))


def management_caller(
    auth: AuthService,
    log: EmbeddedAuditLog,
    token: str | None,
    what: str,
    *,
    first_admin: bool = False,
) -> Caller:
    """Who runs a management or audit command (``what``): the operator of ``token``, whose
    role and scope then decide. Without a token, the local console, but only for what a fresh
    install needs: anything while the deployment has no operators, and ``first_admin``
    (creating an admin) while it has no active admin. Otherwise AuthenticationFailed, and the
    refusal is audited (``access_denied``, reason ``console_refused``)."""
    if token:
        return caller_of(auth.token_principal(token))
    operators, admins = auth.census()
    if not operators or (first_admin and not admins):
        return console_caller()
    _refuse_console(log, what, operators)


def _refuse_console(log: EmbeddedAuditLog, what: str, operators: int) -> NoReturn:
    """Record that the console was refused ``what`` (no token given), then refuse it."""
    from mobileid.audit import AuditEvent, EventType, Outcome

    console = console_caller()
    details = {"action": what, "reason": "console_refused", "operators": operators}
    log.record(
        AuditEvent(
            EventType.ACCESS_DENIED, console.operator, console.role, "cli", Outcome.DENIED, details
        )
    )
    raise AuthenticationFailed(
        f"token: expected an operator's API token for {what} (--token or $MOBILEID_TOKEN): "
        "this deployment has operators, and the local console may only create the first "
        "admin (`mobileid operators add NAME --role admin` while there is none)",
        field="token",
    )


def allow(auth: AuthService, caller: Caller, action: Action) -> None:
    """Role and token scope (no entitlement) for a command that has no ``Context``; the
    console (a fresh install) may act. AccessDenied is audited."""
    if caller.principal is not None:
        auth.authorize(caller.principal, action)


def caller_from_bearer(ctx: Context, token: str) -> Caller:
    """The caller of an ``Authorization: Bearer`` credential: an API token (``mid_...``) or a
    logon session token. AuthenticationFailed (never the console) when it is neither."""
    auth = ctx.auth
    if token.startswith(TOKEN_PREFIX):
        return caller_of(auth.token_principal(token))
    return caller_of(auth.session_principal(token))


def authorize(
    ctx: Context,
    caller: Caller,
    action: Action,
    *,
    galleries: Iterable[str] = (),
    sources: Iterable[str] = (),
) -> None:
    """Check the role, token scope and each entitlement, and for a live search a current
    certification; raise AccessDenied (audited) on the first refusal. The console (no
    operator principal) may act."""
    principal = caller.principal
    if principal is None:
        return
    galleries, sources = list(galleries), list(sources)
    auth = ctx.auth
    if not galleries and not sources:
        auth.authorize(principal, action)
    for gallery in galleries:
        auth.authorize(principal, action, gallery=gallery)
    for source in sources:
        auth.authorize(principal, action, source=source)
    if action == Action.SEARCH_LIVE:
        # Imported here: the training use cases themselves authorize through this module.
        from mobileid.service.training import require_certified

        require_certified(ctx, caller)


__all__ = [
    "AccessDenied",
    "allow",
    "authorize",
    "caller_from_bearer",
    "caller_from_token",
    "management_caller",
]
