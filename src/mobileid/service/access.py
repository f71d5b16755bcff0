"""Who is acting, and may they? Every use case asks here, whichever front end called it.

Once a deployment has operators, every search, super query, disposition and record view needs
an operator's session or API token: the role, the token's scope and the operator's gallery and
source entitlements then decide, and a refusal is audited as ``access_denied``. A deployment
with no operators yet (a fresh single-user install, the demo) acts as the local console.

The operator store is opened once per process (``Context.auth``); nothing here writes to the
shared context: the caller is returned, and passed on by the front end.
"""

from __future__ import annotations

from collections.abc import Iterable

from mobileid.auth import AccessDenied, Action, AuthenticationFailed
from mobileid.auth.tokens import TOKEN_PREFIX
from mobileid.service.caller import Caller, caller_of, console_caller
from mobileid.service.context import Context


def caller_from_token(ctx: Context, token: str | None) -> Caller:
    """The caller an API token (``--token``) names; the console when there is no token and the
    deployment has no operators yet. AuthenticationFailed for a missing, forged, expired or
    revoked token."""
    auth = ctx.auth
    if not token:
        if auth.list_operators():
            raise AuthenticationFailed(
                "token: expected an operator's API token (--token or $MOBILEID_TOKEN): this "
                "deployment has operators, so the console may not search on its own",
                field="token",
            )
        return console_caller()
    return caller_of(auth.token_principal(token))


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
    """Check the role, token scope and each entitlement; raise AccessDenied (audited) on the
    first refusal. The console (no operator principal) may act."""
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


__all__ = ["AccessDenied", "authorize", "caller_from_bearer", "caller_from_token"]
