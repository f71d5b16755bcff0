"""``mobileid operators ...``: add, list, disable operators and grant them galleries/sources.

Run on the server by whoever can read the data folder and the deployment key; such a person
acts as a local admin (``console:<os user>``), and every change is recorded like any other.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
from typing import Any

from argon2 import PasswordHasher

from mobileid.auth import (
    AuthEvents,
    AuthService,
    OperatorInfo,
    Principal,
    Role,
    console_principal,
    load_or_create_key,
)
from mobileid.config import Settings
from mobileid.errors import InvalidArgument

PASSWORD_ENV = "MOBILEID_PASSWORD"


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
        key = load_or_create_key(settings.deployment_key_path)
        return AuthService(settings.main_database_url, key, events=events, hasher=hasher)
    finally:
        close_database(engine)  # the service holds its own reference


def add_operators_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    ops = sub.add_parser("operators", help="manage operators and their entitlements")
    osub = ops.add_subparsers(dest="what", required=True, metavar="ACTION")
    add = osub.add_parser(
        "add",
        parents=[common],
        help=f"add an operator (password from ${PASSWORD_ENV} or a prompt); prints the TOTP "
        "provisioning URI once",
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", required=True, help=", ".join(r.value for r in Role))
    add.add_argument("--unit", help="the operator's unit, for oversight reports")
    add.add_argument("--name", help="display name (default: USERNAME)")
    add.set_defaults(handler=_add)
    ls = osub.add_parser("list", parents=[common], help="list operators (never secrets)")
    ls.set_defaults(handler=_list)
    dis = osub.add_parser(
        "disable", parents=[common], help="disable an operator: sessions end, tokens stop"
    )
    dis.add_argument("username", metavar="USERNAME")
    dis.set_defaults(handler=_disable)
    for verb, grant in (("grant", True), ("revoke", False)):
        p = osub.add_parser(
            verb, parents=[common], help=f"{verb} the use of one gallery or record source"
        )
        p.add_argument("username", metavar="USERNAME")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--gallery", metavar="G")
        which.add_argument("--source", metavar="S")
        p.set_defaults(handler=_entitlement, grant=grant)
    tok = osub.add_parser(
        "token",
        parents=[common],
        help="log on (password from $MOBILEID_PASSWORD or a prompt, TOTP code from "
        "$MOBILEID_TOTP or a prompt) and issue an API token for the command line or a client; "
        "the token is printed once",
    )
    tok.add_argument("username", metavar="USERNAME")
    tok.add_argument(
        "--scope",
        required=True,
        help="comma-separated actions, within the role (e.g. search_live,record_disposition)",
    )
    tok.add_argument(
        "--days", type=_token_days, default=1.0, help="lifetime in days, at most 365 (default 1)"
    )
    tok.add_argument("--label", default="", help="what the token is for")
    tok.set_defaults(handler=_token)
    from mobileid.cli.certify_cmd import add_certify_parser

    add_certify_parser(osub, common)


MAX_TOKEN_DAYS = 365


def _token_days(raw: str) -> float:
    """A token lifetime checked before any logon: ``nan``, ``inf`` or ``1e30`` would otherwise
    reach date arithmetic after the one-time code was spent and a session opened."""
    try:
        days = float(raw)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and 0 < days <= MAX_TOKEN_DAYS):
        raise argparse.ArgumentTypeError(
            f"expected a number of days above 0 and at most {MAX_TOKEN_DAYS}, got {raw!r}"
        )
    return days


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    password = os.environ.get(PASSWORD_ENV) or getpass.getpass("password: ")
    code = os.environ.get("MOBILEID_TOTP") or input("TOTP code: ")
    svc = open_auth(settings)
    try:
        logon = svc.logon(args.username, password, code.strip())
        issued = svc.issue_token(
            logon.principal,
            [s.strip() for s in args.scope.split(",") if s.strip()],
            expires_in=timedelta(days=args.days),
            label=args.label,
        )
        svc.logout(logon.session_token)
    finally:
        svc.close()
    if args.json:
        print(
            json.dumps(
                {
                    "token_id": issued.token_id,
                    "token": issued.token,
                    "scope": sorted(issued.scope),
                    "expires_at": issued.expires_at.isoformat(),
                }
            )
        )
    else:
        print(f"token {issued.token_id}, valid until {issued.expires_at.isoformat()}:")
        print(issued.token)
        print("store it now (it is not shown again); use it as --token or $MOBILEID_TOKEN")
    return 0


def _actor() -> Principal:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = f"uid{os.getuid()}"
    return console_principal(user)


def _password() -> str:
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidArgument(
            "password: expected the same password twice, got two different ones",
            field="password",
        )
    return first


def operator_json(info: OperatorInfo) -> dict[str, Any]:
    return {
        "username": info.username,
        "display_name": info.display_name,
        "role": info.role.value,
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
    print(f"operator {info.username} ({info.role.value}) {verb}")


def _add(args: argparse.Namespace, settings: Settings) -> int:
    svc = open_auth(settings)
    try:
        new = svc.add_operator(
            _actor(),
            args.username,
            role=args.role,
            password=_password(),
            display_name=args.name,
            unit=args.unit,
        )
    finally:
        svc.close()
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
            f"{i.username:<20} {i.role.value:<10} {i.unit or '-':<12} {status:<9} "
            f"{', '.join(grants) or '-'}"
        )
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    svc = open_auth(settings)
    try:
        info = svc.disable_operator(_actor(), args.username)
    finally:
        svc.close()
    _show(info, args.json, "disabled")
    return 0


def _entitlement(args: argparse.Namespace, settings: Settings) -> int:
    svc = open_auth(settings)
    try:
        change = svc.grant if args.grant else svc.revoke
        info = change(_actor(), args.username, gallery=args.gallery, source=args.source)
    finally:
        svc.close()
    target = f"gallery {args.gallery}" if args.gallery else f"source {args.source}"
    _show(info, args.json, f"{'granted' if args.grant else 'revoked'} {target}")
    return 0
