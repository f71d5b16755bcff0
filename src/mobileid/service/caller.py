"""Who is acting in one request: a value passed to every use case, never stored on a shared one.

The process-wide part (settings, galleries, pipelines, calibrations, the audit log and the
operator store) is :class:`mobileid.service.context.Context`, shared by every request and every
thread. What varies per request is the :class:`Caller`: the operator, role, unit and, for an
operator's session or API token, the authenticated ``Principal`` (its token scopes and
entitlements). Two searches running at the same time as different operators each carry their
own caller, so each audit entry names the one who acted.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from mobileid.auth import Principal


@dataclass(frozen=True)
class Caller:
    """Who is acting, as the audit log records it and access decisions see it.

    ``principal`` is None only for the local console of a deployment without operators (or a
    console-only command such as enrolment): whoever can read the data folder and its keys.
    """

    operator: str
    role: str
    unit: str | None = None
    principal: Principal | None = None

    @property
    def scopes(self) -> tuple[str, ...] | None:
        """The API token's actions; None for a logon session or the console (the role's)."""
        p = self.principal
        if p is None or p.scope is None:
            return None
        return tuple(sorted(a.value for a in p.scope))

    @property
    def is_console(self) -> bool:
        return self.principal is None


def console_caller() -> Caller:
    """The local command line: whoever can read the data folder, named by the OS account."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Caller(operator=f"os:{user}", role="console")


def caller_of(principal: Principal) -> Caller:
    """The caller an authenticated operator (session or API token) acts as."""
    return Caller(
        operator=principal.username,
        role=principal.role.value,
        unit=principal.unit,
        principal=principal,
    )
