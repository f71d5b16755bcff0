"""The demo's operators: one per role, created at the first start of an empty deployment.

Each gets a random password and a TOTP secret, shown once (the secret as an otpauth URI and
as a QR code for an authenticator app); only their hashes and sealed secrets are stored.
All of them, their grants and their audit entries are one unit of work: the passwords are
printed only once, so a start that fails half-way must leave no operator behind (the next
start would see some and print none).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import qrcode

from mobileid.auth import AuthService, Role
from mobileid.cli.operators_cmd import _actor, open_auth
from mobileid.config import Settings
from mobileid.database import UnitOfWork

DEMO_UNIT = "demo"
SEARCHING_ROLES = (Role.OFFICER, Role.TRAINEE, Role.SUPERVISOR)  # reach galleries or records


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str
    totp_uri: str


def create_demo_operators(settings: Settings, galleries: Sequence[str]) -> list[DemoAccount]:
    """One operator per role when the deployment has none yet; [] when it already has some."""
    from mobileid.records.registry import SourceRegistry

    svc = open_auth(settings)
    try:
        if svc.list_operators():
            return []
        registry = SourceRegistry(settings.data_dir / "records")
        sources = [e.name for e in registry.entries()]
        with UnitOfWork(svc.engine) as uow:
            return [_add(svc, uow, role, galleries, sources) for role in Role]
    finally:
        svc.close()


def _add(
    svc: AuthService, uow: UnitOfWork, role: Role, galleries: Sequence[str], sources: list[str]
) -> DemoAccount:
    """One demo operator and its grants, in the seeding's unit."""
    actor = _actor()
    username = f"demo-{role.value}"
    password = secrets.token_urlsafe(12)
    new = svc.add_operator(actor, username, role=role, password=password, unit=DEMO_UNIT, uow=uow)
    if role in SEARCHING_ROLES:
        for gallery in galleries:
            svc.grant(actor, username, gallery=gallery, uow=uow)
        for source in sources:
            svc.grant(actor, username, source=source, uow=uow)
    return DemoAccount(username, role.value, password, new.totp_uri)


def print_accounts(accounts: Sequence[DemoAccount], out: TextIO) -> None:
    """Each account's password, otpauth URI and QR code; said once, never stored in clear."""
    if not accounts:
        print("demo operators exist already (passwords were printed at the first start)", file=out)
        return
    print("\ndemo operators (shown once: note the passwords, scan the codes now)", file=out)
    for a in accounts:
        print(f"\n{a.username} ({a.role})  password: {a.password}", file=out)
        print(f"  TOTP: {a.totp_uri}", file=out)
        qr = qrcode.QRCode(border=2)
        qr.add_data(a.totp_uri)
        qr.print_ascii(out=out, invert=True)
