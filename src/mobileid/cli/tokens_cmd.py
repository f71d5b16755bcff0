"""``mobileid operators token`` and ``revoke-token``: API tokens from the command line.

A token is issued from a logon (password and TOTP code, from the environment or typed at a
terminal), shown once, and revoked by its id: by its owner, with any of their tokens, or by an
admin (``manage_operators``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import sys
from typing import Any

from mobileid.cli.reason import token_argument
from mobileid.config import Settings
from mobileid.errors import InvalidArgument

PASSWORD_ENV = "MOBILEID_PASSWORD"
TOTP_ENV = "MOBILEID_TOTP"


def add_token_parsers(osub: Any, common: argparse.ArgumentParser) -> None:
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
    rev = osub.add_parser(
        "revoke-token",
        parents=[common],
        help="revoke an API token by its id (as printed by `operators token`): its owner may, "
        "with any of their tokens as --token, and so may an admin (scope manage_operators)",
    )
    rev.add_argument("token_id", metavar="TOKEN_ID")
    token_argument(rev)
    rev.set_defaults(handler=_revoke_token)


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

    from mobileid.cli import operators_cmd

    password = os.environ.get(PASSWORD_ENV) or ask(getpass.getpass, "password: ", PASSWORD_ENV)
    code = os.environ.get(TOTP_ENV) or ask(input, "TOTP code: ", TOTP_ENV)
    svc = operators_cmd.open_auth(settings)
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


def ask(read: Any, prompt: str, env: str) -> str:
    """A secret typed at a terminal; without one (a script, cron, a pipe) say how to give it
    instead of failing on end of input."""
    field = env.removeprefix("MOBILEID_").lower()
    if not sys.stdin.isatty():
        raise InvalidArgument(
            f"{field}: expected ${env} or a terminal to type it at, got neither (set {env} "
            "in the environment of a script)",
            field=field,
        )
    try:
        return str(read(prompt))
    except EOFError:
        raise InvalidArgument(
            f"{field}: expected it typed at the prompt or given as ${env}, got end of input",
            field=field,
        ) from None


def _revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli import operators_cmd

    svc, log = operators_cmd._open(settings)
    try:
        svc.revoke_token(operators_cmd._acting(svc, log, args), args.token_id)
    finally:
        svc.close()
        log.close()
    if args.json:
        print(json.dumps({"revoked": args.token_id}))
    else:
        print(f"token {args.token_id} revoked: it is refused from now on")
    return 0
