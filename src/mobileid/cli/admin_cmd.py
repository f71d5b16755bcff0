"""``mobileid admin ...``: retention rules, the purge job, deployment-key rotation, and the
upkeep of change logs and indexes (``prune-changes``, ``check-index``).

Each acts as the operator of ``--token`` (an admin's token: ``manage_galleries``, and for the
purge of record sources ``manage_sources``). Only on a fresh install (no operators yet) does
the local console act, recorded as its OS account (``os:<user>``, role ``console``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from mobileid.cli.index_cmd import add_check_index_parser
from mobileid.cli.reason import MANAGEMENT_NOTE, management, token_argument
from mobileid.config import Settings
from mobileid.errors import InvalidArgument

ROTATE_HELP = (
    """\
Replace the deployment key (DATA_DIR/keys/deployment.key) and re-seal every face embedding,
finger template, reference photo and operator TOTP secret under the new one.
Stop the API server and other mobileid commands first: they hold the old key in memory.
The old key is kept as deployment.key.<key id>.retired until every row is re-sealed and the
key_rotation audit entry is written, then deleted; index files are rebuilt on the next
search. If the command stops part-way, run it again: it finishes the same rotation.
Afterwards back up the new key apart from the database."""
    + MANAGEMENT_NOTE
)

PRUNE_HELP = """\
Delete the entries of the face embedding and finger template change logs but the newest
--keep sequence numbers of each (and each gallery's newest entry). Vector indexes and finger
snapshot files catch up from these logs; one that applied less than what was pruned notices
(the log's horizon, kept in the database) and is rebuilt from the rows at its next search
instead of caught up, so pruning is safe at any time, with the servers running. What it costs
is that rebuild, for an index more than --keep changes behind."""


def add_admin_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    admin = sub.add_parser("admin", help="retention rules, purges and key rotation")
    asub = admin.add_subparsers(dest="what", required=True, metavar="ACTION")
    ret = asub.add_parser(
        "retention",
        parents=[common],
        help="show the galleries' retention rules, or set one gallery's (audited; an admin's "
        "token, scope manage_galleries)",
        description="Show or set retention rules." + MANAGEMENT_NOTE,
    )
    token_argument(ret)
    ret.add_argument("gallery", nargs="?", metavar="GALLERY", help="omit to list every rule")
    rule = ret.add_mutually_exclusive_group()
    rule.add_argument(
        "--hours", type=int, metavar="N", help="delete captures older than N hours (N >= 1)"
    )
    rule.add_argument("--none", action="store_true", help="no rule: keep until deleted")
    ret.set_defaults(handler=_retention)
    purge = asub.add_parser(
        "purge",
        parents=[common],
        help="enforce the retention rules now: delete expired captures and write one "
        "deletion receipt per gallery to the audit log (run it from cron; an admin's token, "
        "scopes manage_galleries,manage_sources)",
        description="Enforce the retention rules of galleries and record sources."
        + MANAGEMENT_NOTE,
    )
    token_argument(purge)
    purge.add_argument(
        "--now",
        metavar="ISO8601",
        help="the time to purge as of, with its UTC offset (default: the clock)",
    )
    purge.set_defaults(handler=_purge)
    rot = asub.add_parser(
        "rotate-key",
        parents=[common],
        help="replace the deployment key and re-seal the data under it",
        description=ROTATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token_argument(rot)
    rot.add_argument(
        "--batch", type=int, default=5_000, help="rows re-sealed per transaction (default 5000)"
    )
    rot.set_defaults(handler=_rotate_key)
    prune = asub.add_parser(
        "prune-changes",
        parents=[common],
        help="delete old entries of the change logs the indexes catch up from (run it from "
        "cron; no token: it changes no subject, template or audit entry)",
        description=PRUNE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prune.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="newest sequence numbers kept per log (default 1,000,000; N >= 0)",
    )
    prune.set_defaults(handler=_prune_changes)
    add_check_index_parser(asub, common)


def parse_now(raw: str | None) -> datetime:
    if raw is None:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(raw)
    except ValueError:
        now = None
    if now is None or now.tzinfo is None:
        raise InvalidArgument(
            f"--now: expected an ISO-8601 time with its UTC offset (2026-03-04T12:00:00Z), "
            f"got {raw!r}",
            field="--now",
        )
    return now


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.context import open_context
    from mobileid.service.retention import retention_rules, rule_label, set_retention

    ctx = open_context(settings)
    who = management(ctx, args, "admin retention")
    if args.gallery is None:
        if args.hours is not None or args.none:
            raise InvalidArgument(
                "GALLERY: expected the gallery whose rule to set", field="GALLERY"
            )
        rules = retention_rules(ctx, who)
        if args.json:
            print(json.dumps({"retention_hours": rules}, indent=2))
            return 0
        for gallery, hours in rules.items():
            print(f"{gallery:<24} {rule_label(hours)}")
        return 0
    if args.hours is None and not args.none:
        raise InvalidArgument("--hours: expected --hours N or --none", field="--hours")
    change = set_retention(ctx, who, args.gallery, None if args.none else args.hours)
    if args.json:
        print(
            json.dumps(
                {
                    "gallery": change.gallery,
                    "old_hours": change.old_hours,
                    "new_hours": change.new_hours,
                }
            )
        )
    else:
        print(
            f"{change.gallery}: retention {rule_label(change.old_hours)} -> "
            f"{rule_label(change.new_hours)}"
        )
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.context import open_context
    from mobileid.service.retention import purge, purge_sources

    now = parse_now(args.now)
    ctx = open_context(settings)
    who = management(ctx, args, "admin purge")
    receipts = purge(ctx, who, now)
    sources = purge_sources(ctx, who, now)
    rows = [
        {
            "gallery": r.gallery,
            "retention_hours": r.retention_hours,
            "cutoff": r.cutoff.isoformat(timespec="seconds"),
            "subjects_deleted": r.subjects_deleted,
            "embeddings_deleted": r.embeddings_deleted,
            "templates_deleted": r.templates_deleted,
            "photos_deleted": r.photos_deleted,
        }
        for r in receipts
    ]
    if args.json:
        now_s = now.isoformat(timespec="seconds")
        print(json.dumps({"now": now_s, "purged": rows, "sources": sources}, indent=2))
        return 0
    for name, deleted in sources.items():
        print(f"record source {name}: {deleted} records deleted under its retention rule")
    if not rows:
        print("no gallery has a retention rule; nothing purged")
    for r in rows:
        print(
            f"{r['gallery']}: {r['subjects_deleted']} subjects, {r['embeddings_deleted']} "
            f"captures and {r['photos_deleted']} reference photos stored before "
            f"{r['cutoff']} deleted (rule {r['retention_hours']}h)"
        )
    return 0


def _rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.context import open_context
    from mobileid.service.keys import rotate_deployment_key

    ctx = open_context(settings)
    who = management(ctx, args, "admin rotate-key")
    result = rotate_deployment_key(ctx, who, batch=args.batch)
    body = {
        "old_key_id": result.old_key_id,
        "new_key_id": result.new_key_id,
        "face_rows_resealed": result.face_rows_resealed,
        "photo_rows_resealed": result.photo_rows_resealed,
        "operator_secrets_resealed": result.operator_secrets_resealed,
        "resumed": result.resumed,
    }
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(
            f"deployment key {result.old_key_id} -> {result.new_key_id}: "
            f"{result.face_rows_resealed} face embeddings, "
            f"{result.photo_rows_resealed} reference photos and "
            f"{result.operator_secrets_resealed} operator secrets re-sealed"
            + (" (finished an interrupted rotation)" if result.resumed else "")
        )
        print(f"back up {settings.deployment_key_path} apart from the database")
    return 0


def _prune_changes(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.database import close_database, open_database
    from mobileid.gallery.change_logs import KEEP, prune

    keep = KEEP if args.keep is None else args.keep
    if keep < 0:
        raise InvalidArgument(f"--keep: expected N >= 0, got {keep}", field="--keep")
    engine = open_database(settings.main_database)
    try:
        done = prune(engine, keep)
    finally:
        close_database(engine)
    if args.json:
        print(json.dumps({"pruned": [vars(p) for p in done]}, indent=2))
        return 0
    for p in done:
        print(
            f"{p.log}: {p.deleted} entries deleted; entries up to {p.horizon} pruned, "
            f"newest {p.newest}"
        )
    return 0
