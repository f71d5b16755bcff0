"""``mobileid operators ...``: add, list, disable operators, grant them galleries/sources,
issue and revoke API tokens.

Changes act as the operator of ``--token`` (``$MOBILEID_TOKEN``), an admin's token with the
``manage_operators`` scope. The local console (whoever can read the data folder and the
deployment key, recorded as ``console:<os user>``) keeps only what a fresh install needs:
everything while the deployment has no operators, then only creating an admin while there is
no active one. Every change and every refusal is recorded like any other.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

from mobileid.auth import (
    AuthEvents,
    AuthService,
    OperatorInfo,
    Principal,
    Role,
    console_principal,
)
from mobileid.auth.roles import parse_role
from mobileid.cli.reason import token_argument
from mobileid.config import Settings
from mobileid.errors import InvalidArgument

if TYPE_CHECKING:
    from mobileid.audit import EmbeddedAuditLog

PASSWORD_ENV = "MOBILEID_PASSWORD"
CONSOLE_NOTE = (
    "; acts as the operator of --token (an admin's token with scope manage_operators); "
    "without one, only on a fresh install (no operators yet, or creating the first admin)"
)


def open_auth(
    settings: Settings, events: AuthEvents | None = None, hasher: PasswordHasher | None = None
) -> AuthService:
    """The operator store in the deployment's main database, its deployment key created if
    missing.

    ``events`` is where operator changes are reported: the deployment's audit log (in the same
    database, so a change and its entry commit together) unless another sink is given.
    """
    from mobileid.database import close_database
    from mobileid.service.database import open_main_database

    engine = open_main_database(settings)  # upgraded, an earlier operators file moved in
    try:
        if events is None:
            from mobileid.audit import open_deployment_audit_log
            from mobileid.service.auth_audit import AuditedAuthEvents

            events = AuditedAuthEvents(open_deployment_audit_log(settings))
        from mobileid.service.deployment_key import deployment_key

        key = deployment_key(settings, engine)  # never a new key where sealed rows need it
        return AuthService(settings.main_database, key, events=events, hasher=hasher)
    finally:
        close_database(engine)  # the service holds its own reference


def add_operators_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    ops = sub.add_parser("operators", help="manage operators and their entitlements")
    osub = ops.add_subparsers(dest="what", required=True, metavar="ACTION")
    add = osub.add_parser(
        "add",
        parents=[common],
        help=f"add an operator (password from ${PASSWORD_ENV} or a prompt at a terminal); "
        "prints the TOTP provisioning URI once" + CONSOLE_NOTE,
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", required=True, help=", ".join(r.value for r in Role))
    add.add_argument("--unit", help="the operator's unit, for oversight reports")
    add.add_argument("--name", help="display name (default: USERNAME)")
    token_argument(add)
    add.set_defaults(handler=_add)
    ls = osub.add_parser("list", parents=[common], help="list operators (never secrets)")
    ls.set_defaults(handler=_list)
    dis = osub.add_parser(
        "disable",
        parents=[common],
        help="disable an operator: sessions end, tokens stop" + CONSOLE_NOTE,
    )
    dis.add_argument("username", metavar="USERNAME")
    token_argument(dis)
    dis.set_defaults(handler=_disable)
    for verb, grant in (("grant", True), ("revoke", False)):
        p = osub.add_parser(
            verb,
            parents=[common],
            help=f"{verb} the use of one gallery or record source" + CONSOLE_NOTE,
        )
        p.add_argument("username", metavar="USERNAME")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--gallery", metavar="G")
        which.add_argument("--source", metavar="S")
        token_argument(p)
        p.set_defaults(handler=_entitlement, grant=grant)
    from mobileid.cli.tokens_cmd import add_token_parsers

    add_token_parsers(osub, common)
    from mobileid.cli.certify_cmd import add_certify_parser

    add_certify_parser(osub, common)


def _actor() -> Principal:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = f"uid{os.getuid()}"
    return console_principal(user)


def _open(settings: Settings) -> tuple[AuthService, EmbeddedAuditLog]:
    """The operator store, reporting to the deployment's audit log (returned too: a refused
    console is recorded there)."""
    from mobileid.audit import open_deployment_audit_log
    from mobileid.service.auth_audit import AuditedAuthEvents

    log = open_deployment_audit_log(settings)
    return open_auth(settings, AuditedAuthEvents(log)), log


def _acting(
    svc: AuthService, log: EmbeddedAuditLog, args: argparse.Namespace, *, first_admin: bool = False
) -> Principal:
    """The operator of ``--token``, or the console while the deployment is a fresh install."""
    from mobileid.service.access import management_caller

    what = f"operators {args.what}"
    caller = management_caller(svc, log, args.token, what, first_admin=first_admin)
    return caller.principal or _actor()


def _password() -> str:
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    from mobileid.cli.tokens_cmd import ask

    first = ask(getpass.getpass, "password: ", PASSWORD_ENV)
    if ask(getpass.getpass, "again: ", PASSWORD_ENV) != first:
        raise InvalidArgument(
            "password: expected the same password twice, got two different ones",
            field="password",
        )
    return first


def operator_json(info: OperatorInfo) -> dict[str, Any]:
    return {
        "username": info.username,
        "display_name": info.display_name,
        "role": info.role_name,
        **({} if info.role is not None else {"stored_role": info.stored_role}),
        "unit": info.unit,
        "galleries": list(info.galleries),
        "sources": list(info.sources),
        "created_at": info.created_at.isoformat(),
        "disabled_at": info.disabled_at and info.disabled_at.isoformat(),
        "locked_until": info.locked_until and info.locked_until.isoformat(),
        "last_logon_at": info.last_logon_at and info.last_logon_at.isoformat(),
    }


def _show(info: OperatorInfo, as_json: bool, verb: str) -> None:
    if as_json:
        print(json.dumps({"operator": operator_json(info)}, indent=2))
        return
    print(f"operator {info.username} ({info.role_name}) {verb}")


def _add(args: argparse.Namespace, settings: Settings) -> int:
    role = parse_role(args.role)
    svc, log = _open(settings)
    try:
        actor = _acting(svc, log, args, first_admin=role is Role.ADMIN)
        new = svc.add_operator(
            actor,
            args.username,
            role=role,
            password=_password(),
            display_name=args.name,
            unit=args.unit,
        )
    finally:
        svc.close()
        log.close()
    if args.json:
        print(json.dumps({"operator": operator_json(new.operator), "totp_uri": new.totp_uri}))
        return 0
    _show(new.operator, False, "added")
    print("Scan this into the operator's authenticator app; it is not shown again:")
    print(new.totp_uri)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    svc = open_auth(settings)
    try:
        infos = svc.list_operators()
    finally:
        svc.close()
    if args.json:
        print(json.dumps({"operators": [operator_json(i) for i in infos]}, indent=2))
        return 0
    print(f"{'USERNAME':<20} {'ROLE':<10} {'UNIT':<12} {'STATUS':<9} ENTITLEMENTS")
    for i in infos:
        status = "disabled" if i.disabled_at else "locked" if i.locked_until else "active"
        grants = [f"gallery:{g}" for g in i.galleries] + [f"source:{s}" for s in i.sources]
        print(
            f"{i.username:<20} {i.role_name:<10} {i.unit or '-':<12} {status:<9} "
            f"{', '.join(grants) or '-'}"
        )
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    svc, log = _open(settings)
    try:
        info = svc.disable_operator(_acting(svc, log, args), args.username)
    finally:
        svc.close()
        log.close()
    _show(info, args.json, "disabled")
    return 0


def _entitlement(args: argparse.Namespace, settings: Settings) -> int:
    svc, log = _open(settings)
    try:
        change = svc.grant if args.grant else svc.revoke
        info = change(
            _acting(svc, log, args), args.username, gallery=args.gallery, source=args.source
        )
    finally:
        svc.close()
        log.close()
    target = f"gallery {args.gallery}" if args.gallery else f"source {args.source}"
    _show(info, args.json, f"{'granted' if args.grant else 'revoked'} {target}")
    return 0
