"""The options every search takes: why it is run (checked first, then audited), and who."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mobileid.capture.files import read_regular
from mobileid.errors import InputError

if TYPE_CHECKING:
    from mobileid.audit import EmbeddedAuditLog
    from mobileid.auth import Action
    from mobileid.config import Settings
    from mobileid.service.caller import Caller
    from mobileid.service.context import Context
    from mobileid.service.searches import Where, Why


def reason_arguments(p: argparse.ArgumentParser) -> None:
    """Why the search is run: checked before anything else and written to the audit log."""
    env = os.environ
    p.add_argument(
        "--purpose",
        default=env.get("MOBILEID_PURPOSE"),
        help="a purpose configured in DATA_DIR/purposes.json (its legal authority is recorded);"
        " default $MOBILEID_PURPOSE",
    )
    p.add_argument(
        "--case",
        default=env.get("MOBILEID_CASE"),
        help="case or incident number; default $MOBILEID_CASE",
    )
    p.add_argument("--location", default=env.get("MOBILEID_LOCATION"), help="where (optional)")
    p.add_argument(
        "--target",
        help="a practice search (purpose training): the training subject photographed (subject "
        "id or name), so the range can say where the mate ranked",
    )
    token_argument(p)


def token_argument(p: argparse.ArgumentParser) -> None:
    """Who: an operator's API token (needed once the deployment has operators)."""
    p.add_argument(
        "--token",
        default=os.environ.get("MOBILEID_TOKEN"),
        help="operator API token (mobileid operators token); default $MOBILEID_TOKEN",
    )


def why(args: argparse.Namespace) -> Why:
    """The stated reason of a search command (checked by the use case)."""
    from mobileid.service.searches import Why

    return Why(args.purpose, args.case, args.location, getattr(args, "target", None))


def where(args: argparse.Namespace) -> Where:
    from mobileid.service.searches import Where

    return Where(tuple(args.gallery or ()), args.top)


def caller(ctx: Context, args: argparse.Namespace) -> Caller:
    """Who runs this command: the operator of ``--token``, or the console of a deployment
    without operators."""
    from mobileid.service.access import caller_from_token

    return caller_from_token(ctx, getattr(args, "token", None))


def console_or_token(ctx: Context, args: argparse.Namespace) -> Caller:
    """Administration on the server: the console (trusted, it holds the keys) unless an
    operator's ``--token`` is given, whose role then decides."""
    from mobileid.service.caller import console_caller

    return caller(ctx, args) if getattr(args, "token", None) else console_caller()


def management(ctx: Context, args: argparse.Namespace, what: str) -> Caller:
    """Who runs a management or audit command: the operator of ``--token``; the console only
    on a fresh install (no operators yet). A refused console is audited."""
    from mobileid.service.access import management_caller

    return management_caller(ctx.auth, ctx.audit, getattr(args, "token", None), what)


def log_reader(
    settings: Settings, log: EmbeddedAuditLog, token: str | None, what: str, action: Action
) -> Caller:
    """:func:`management` for the commands that read the audit log without a ``Context``
    (they must work on a broken log): the operator of ``token`` allowed ``action``, or the
    console of a fresh install. Refusals are recorded in ``log`` (when it takes entries)."""
    import secrets

    from mobileid.auth import AuthService, DeploymentKeyError
    from mobileid.cli.operators_cmd import open_auth
    from mobileid.service.access import allow, management_caller
    from mobileid.service.auth_audit import AuditedAuthEvents

    events = AuditedAuthEvents(log)
    try:
        auth = open_auth(settings, events)
    except DeploymentKeyError:
        # The deployment key seals TOTP secrets only; deciding who may read the log needs
        # none of them, so a lost key must not stop an investigation of the log.
        auth = AuthService(settings.main_database, secrets.token_bytes(32), events=events)
    try:
        who = management_caller(auth, log, token, what)
        allow(auth, who, action)
    finally:
        auth.close()
    return who


MANAGEMENT_NOTE = (
    " Once the deployment has operators it acts as the operator of --token "
    "($MOBILEID_TOKEN), whose role and scope decide; the local console may then only create "
    "the first admin."
)


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, refusing a missing file, a device, a FIFO or a file over
    the size limit without hanging or reading more than the limit."""
    return read_regular(path, max_bytes, field="IMAGE")


def read_captures(
    ctx: Context, who: Caller, args: argparse.Namespace, paths: list[Path], modality: str
) -> list[bytes]:
    """The capture files of a search; one that cannot be read refuses the search, audited."""
    from mobileid.service.searches import refuse_capture

    out = []
    for path in paths:
        try:
            out.append(read_limited(path, ctx.settings.limits.max_file_bytes))
        except InputError as exc:
            refuse_capture(ctx, who, why(args), modality, exc)
    return out
