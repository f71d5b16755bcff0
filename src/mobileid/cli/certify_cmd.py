"""``mobileid operators certify USERNAME [--exempt REASON]``: a supervisor's certification.

The certification itself is a use case (``service.training.certify_operator``), the same one
the HTTP service's ``POST /operators/{username}/certification`` calls. On the server the
console may certify (it holds the keys anyway); with ``--token`` a supervisor's role decides.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mobileid.cli.reason import console_or_token, token_argument
from mobileid.config import Settings


def add_certify_parser(osub: Any, common: argparse.ArgumentParser) -> None:
    cert = osub.add_parser(
        "certify",
        parents=[common],
        help="certify an operator whose training record meets the criteria (refused with the "
        "figures when it falls short, unless --exempt REASON, which is audited)",
    )
    cert.add_argument("username", metavar="USERNAME")
    cert.add_argument("--exempt", metavar="REASON", help="certify despite a short record")
    token_argument(cert)
    cert.set_defaults(handler=_certify)
    show = osub.add_parser(
        "certification", parents=[common], help="show an operator's training record and state"
    )
    show.add_argument("username", metavar="USERNAME")
    show.set_defaults(handler=_show)


def _certify(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.context import open_context
    from mobileid.service.training import certify_operator

    ctx = open_context(settings)
    try:
        state = certify_operator(ctx, console_or_token(ctx, args), args.username, args.exempt)
    finally:
        ctx.close()
    _print(args.username, state.as_dict(), args.json)
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.context import open_context
    from mobileid.service.training import certification_state

    ctx = open_context(settings)
    try:
        ctx.auth.operator(args.username)  # UnknownOperator for a name that is not one
        state = certification_state(ctx, args.username)
    finally:
        ctx.close()
    _print(args.username, state.as_dict(), args.json)
    return 0


def _print(username: str, state: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"operator": username, "certification": state}))
        return
    t = state["training"]
    print(f"operator {username}: {state['status']}, expires {state['expires_at'] or '-'}")
    print(
        f"  {t['practice_searches']} practice searches, {t['quality_rate']:.0%} passed the "
        f"quality gates, mate first in {t['mate_first_rate']:.0%}"
    )
    if state["exempt_reason"]:
        print(f"  exempt: {state['exempt_reason']}")
