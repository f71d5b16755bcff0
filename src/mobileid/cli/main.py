"""The ``mobileid`` command. It only parses, calls the library and prints.

Exit codes: 0 success; 1 unexpected error; 2 bad argument or input (a missing or unknown
purpose or case number too); 3 image unusable (unsupported, corrupt, too large or small,
animated); 4 no face / low-quality capture; 5 not found; 6 pipeline or calibration mismatch;
7 audit log not intact; 8 access denied (or an audit key problem); 9 authentication failed;
10 a record source is unavailable; 11 the service is busy; 12 a backend server is unavailable;
13 a certification the training record does not support.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mobileid import NOTICE, __version__
from mobileid.cli import render
from mobileid.cli.reason import (
    MANAGEMENT_NOTE,
    caller,
    console_or_token,
    management,
    read_captures,
    reason_arguments,
    token_argument,
    where,
    why,
)
from mobileid.config import Settings
from mobileid.config_names import unknown_variables
from mobileid.errors import MobileIdError

Handler = Callable[[argparse.Namespace, Settings], int]


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="where the main database, keys, indexes and caches live "
        "(default: $MOBILEID_DATA_DIR or ./mobileid-data); the main database is the file "
        "DATA_DIR/mobileid.sqlite3 unless $MOBILEID_DATABASE_URL names another "
        "(postgresql://USER:PASSWORD@HOST/DB)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON object on stdout",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="mobileid",
        description="Accountable mobile biometric identification. " + NOTICE,
        parents=[common],
        epilog="The main database (galleries, audit log, operators, training records) is "
        "DATA_DIR/mobileid.sqlite3, or the database $MOBILEID_DATABASE_URL names "
        "(postgresql://USER:PASSWORD@HOST/DB); its schema is upgraded when a command opens it.",
    )
    parser.add_argument("--version", action="version", version=f"mobileid {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enrol = sub.add_parser("enroll", help="enrol subjects into a gallery").add_subparsers(
        dest="what", required=True, metavar="WHAT"
    )
    faces = enrol.add_parser(
        "faces",
        parents=[common],
        help="enrol faces from DIR: one folder per subject (folder name = name), images inside",
    )
    faces.add_argument("dir", type=Path, metavar="DIR")
    faces.add_argument("--gallery", help="gallery to enrol into (default: 'default')")
    faces.add_argument("--source", help="where the images come from (default: folder:<DIR name>)")
    faces.add_argument(
        "--training",
        action="store_true",
        help="enrol into a training-range gallery (synthetic or consented data, never live)",
    )
    faces.set_defaults(handler=_enrol_faces)

    ident = sub.add_parser("identify", help="search the galleries for a person").add_subparsers(
        dest="what", required=True, metavar="WHAT"
    )
    face = ident.add_parser("face", parents=[common], help="identify from one face photo (1:N)")
    face.add_argument("image", type=Path, metavar="IMAGE")
    face.add_argument(
        "--top", type=int, default=10, help="how many candidates (1..100, default 10)"
    )
    face.add_argument(
        "--gallery", action="append", help="gallery to search (repeatable; default: 'default')"
    )
    reason_arguments(face)
    face.set_defaults(handler=_identify_face)

    from mobileid.cli.fingers_cmd import add_fingers_parsers

    add_fingers_parsers(enrol, ident, common)

    from mobileid.cli.person_cmd import add_person_parser

    add_person_parser(ident, common)

    disp = sub.add_parser(
        "disposition",
        parents=[common],
        help="record what became of a search's candidates (audited against the search; only "
        "a candidate of that search, by an operator entitled to its gallery; a later one "
        "supersedes an earlier one, both kept)",
    )
    disp.add_argument("search_id", metavar="SEARCH_ID", help="as printed by identify")
    disp.add_argument(
        "disposition",
        choices=["confirmed", "not_a_match", "inconclusive", "no_action"],
        help="confirmed by other means / not a match / inconclusive / no action",
    )
    disp.add_argument(
        "--subject",
        help="the subject id the disposition concerns: a candidate's, or a look-alike's shown "
        "beside a strong candidate",
    )
    token_argument(disp)
    disp.set_defaults(handler=_disposition)

    subjects = sub.add_parser("subjects", help="list, show or delete enrolled subjects")
    ssub = subjects.add_subparsers(dest="what", required=True, metavar="ACTION")
    ls = ssub.add_parser("list", parents=[common], help="list subjects")
    ls.add_argument("--gallery", help="only this gallery")
    ls.set_defaults(handler=_subjects_list)
    show = ssub.add_parser("show", parents=[common], help="show one subject")
    show.add_argument("subject_id", metavar="SUBJECT_ID")
    show.set_defaults(handler=_subjects_show)
    rm = ssub.add_parser(
        "delete",
        parents=[common],
        help="delete a subject and its embeddings (an admin's token, scope manage_galleries)",
        description="Delete a subject, its embeddings and reference photos, audited."
        + MANAGEMENT_NOTE,
    )
    rm.add_argument("subject_id", metavar="SUBJECT_ID")
    token_argument(rm)
    rm.set_defaults(handler=_subjects_delete)

    from mobileid.cli.admin_cmd import add_admin_parser
    from mobileid.cli.audit_cmd import add_audit_parser
    from mobileid.cli.backup_cmd import add_backup_parsers
    from mobileid.cli.eval_cmd import add_eval_parser
    from mobileid.cli.operators_cmd import add_operators_parser
    from mobileid.cli.records_cmd import add_query_parser, add_records_parser
    from mobileid.cli.report_cmd import add_report_parser
    from mobileid.cli.serve_cmd import add_serve_parser

    add_eval_parser(sub, common)
    add_audit_parser(sub, common)
    add_operators_parser(sub, common)
    add_report_parser(sub, common)
    add_records_parser(sub, common)
    add_query_parser(sub, common)
    add_admin_parser(sub, common)
    add_serve_parser(sub, common)
    add_backup_parsers(sub, common)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings.from_env(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    # Everything a command creates (data folder, databases, keys, indexes, witness, reports)
    # is readable by its owner only: biometric data and the audit trail are nobody else's.
    previous = os.umask(0o077)
    try:
        return _main(argv)
    finally:
        os.umask(previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.json = getattr(args, "json", False)
    for line in unknown_variables():
        print(f"mobileid: warning: {line}", file=sys.stderr)
    try:
        settings = settings_from(args)
        handler: Handler = args.handler
        return handler(args, settings)
    except MobileIdError as exc:
        if args.json:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
            if hasattr(exc, "reasons"):
                error["reasons"] = list(exc.reasons)
            print(json.dumps({"error": error}))
        print(f"mobileid: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mobileid: interrupted", file=sys.stderr)
        return 130


def _ctx(settings: Settings, label: str = "index") -> Any:
    from mobileid.cli.progress import ProgressLine
    from mobileid.service.context import open_context

    return open_context(settings, progress=ProgressLine(label))


def _enrol_faces(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.progress import ProgressLine
    from mobileid.service.enrol import enrol_directory

    ctx = _ctx(settings)
    report = enrol_directory(
        ctx,
        console_or_token(ctx, args),
        args.dir,
        gallery=args.gallery,
        source=args.source,
        training=args.training,
        progress=ProgressLine("enrol"),
    )
    render.enrol_report(report, as_json=args.json)
    return 0


def _identify_face(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.searches import search_face

    ctx = _ctx(settings)
    who = caller(ctx, args)
    (data,) = read_captures(ctx, who, args, [args.image], "face")
    result = search_face(ctx, who, data, why(args), where(args))
    render.identify_result(result, as_json=args.json)
    return 0


def _subjects_list(args: argparse.Namespace, settings: Settings) -> int:
    render.subjects(_ctx(settings).gallery.subjects(args.gallery), as_json=args.json)
    return 0


def _subjects_show(args: argparse.Namespace, settings: Settings) -> int:
    render.subject(_ctx(settings).gallery.get(args.subject_id), as_json=args.json)
    return 0


def _disposition(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.disposition import record_disposition

    ctx = _ctx(settings)
    done = record_disposition(
        ctx, caller(ctx, args), args.search_id, args.disposition, args.subject
    )
    if args.json:
        print(json.dumps(done.as_json()))
    else:
        seq = done.entry.sequence
        print(f"disposition {args.disposition} recorded for {args.search_id} (audit #{seq})")
        of = done.entry.details.get("lookalike_of")
        if of is not None:
            print(f"{args.subject} was shown as a look-alike of candidate {of}")
        if done.supersedes is not None:
            print(f"it supersedes the disposition of audit #{done.supersedes}, kept in the log")
    return 0


def _subjects_delete(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.service.enrol import delete_subject

    ctx = _ctx(settings)
    subject = delete_subject(ctx, management(ctx, args, "subjects delete"), args.subject_id)
    render.deleted(subject, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
