"""``mobileid report oversight``: how the system was used, from the audit log alone.

The report is itself an audited read (``audit_read``), logged in the same transaction that
reads the entries: no report is made without its entry. It exits 7, like ``audit verify``,
when the log it was counted from is not intact (the report is still written and says where
the chain breaks). It acts as the operator of ``--token`` (an auditor's or supervisor's token,
scope ``run_report``); the local console may run it only while the deployment has no
operators.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mobileid.cli.reason import MANAGEMENT_NOTE, token_argument
from mobileid.config import Settings

EXIT_TAMPERED = 7  # == AuditIntegrityError.exit_code


def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    rp = sub.add_parser("report", help="reports computed from the audit log").add_subparsers(
        dest="what", required=True, metavar="REPORT"
    )
    o = rp.add_parser(
        "oversight",
        parents=[common],
        help="searches, purposes, authorities, sources reached, bands, dispositions, denials, "
        "purges, pipeline accuracy and audit-chain status for a window of UTC days (an "
        "auditor's or supervisor's token, scope run_report)",
        description="The oversight report, from the audit log alone." + MANAGEMENT_NOTE,
    )
    token_argument(o)
    # Dates are checked by the handler, not by argparse, so a bad one is an InvalidArgument
    # (exit 2, JSON error with --json) like every other bad input.
    o.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="YYYY-MM-DD")
    o.add_argument(
        "--to", dest="date_to", required=True, metavar="DATE", help="YYYY-MM-DD (included)"
    )
    o.add_argument(
        "--out", type=Path, metavar="DIR", help="write index.html, charts and report.json here"
    )
    o.set_defaults(handler=_oversight)


def _reader(settings: Settings, log: Any, token: str | None) -> tuple[str, str]:
    from mobileid.auth import Action
    from mobileid.cli.reason import log_reader

    who = log_reader(settings, log, token, "report oversight", Action.RUN_REPORT)
    return who.operator, who.role


def _read_log(
    settings: Settings, date_from: date, date_to: date, token: str | None
) -> tuple[list[Any], Any]:
    """Log the read, then verify and read in that same transaction; return the entries the
    report needs (from ``date_from`` on) and the verification of the log they came from.

    On a broken log the read cannot be logged; the report is still made (an auditor needs it
    to investigate), says BROKEN and exits 7, and a warning says the read was not logged."""
    from mobileid.audit import AuditEntry, AuditEvent, EventType, open_deployment_audit_log
    from mobileid.audit.errors import AuditIntegrityError
    from mobileid.oversight import entry_day

    log = open_deployment_audit_log(settings)  # an absent log starts empty
    try:
        operator, role = _reader(settings, log, token)
        details = {"report": "oversight", "from": date_from.isoformat(), "to": date_to.isoformat()}
        with log.engine.begin() as conn:
            # Appending first takes the log's write lock: what is read next is one snapshot.
            event = AuditEvent(EventType.AUDIT_READ, operator, role, "cli", details=details)
            try:
                with conn.begin_nested():
                    log.append(conn, event)
            except AuditIntegrityError as exc:
                print(
                    f"mobileid: warning: this read was not logged: {exc.message}", file=sys.stderr
                )
            chain = log.verify_on(conn, log.own_keys(), log.witness)
            # A second pass, because verify stops at the first break and the figures must not;
            # entries before the window are not needed (dispositions always follow searches),
            # so a long log is never held in memory whole.
            entries = [
                e
                for e in log.iter_entries(conn)
                if isinstance(e, AuditEntry) and ((d := entry_day(e)) is None or d >= date_from)
            ]
    finally:
        log.close()
    return entries, chain


def _registry(settings: Settings) -> list[dict[str, Any]] | None:
    """Registry entries of the record sources, or None when there is no registry. The URL is
    left out: it may hold a database password."""
    from mobileid.records.registry import SourceRegistry

    registry = SourceRegistry(settings.data_dir / "records")
    if not registry.path.exists():
        return None
    try:
        entries = [e.to_json() for e in registry.entries()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"mobileid: warning: source registry unreadable, not quoted: {exc}", file=sys.stderr)
        return None
    return [
        {
            "name": e["name"],
            "owning_agency": e.get("owning_agency", e.get("agency")),
            "legal_authority": e.get("legal_authority"),
            "agreement_reference": e.get("agreement_reference"),
            "retention": e.get("retention"),
            "synthetic": e.get("synthetic", False),
        }
        for e in entries
    ]


def _oversight(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.oversight import build_report, check_window, load_accuracy, parse_day, write_html

    date_from, date_to = parse_day("--from", args.date_from), parse_day("--to", args.date_to)
    check_window(date_from, date_to, ("--from", "--to"))
    entries, chain = _read_log(settings, date_from, date_to, args.token)
    report = build_report(
        entries,
        date_from=date_from,
        date_to=date_to,
        chain=chain,
        sources=_registry(settings),
        accuracy=load_accuracy(settings.data_dir / "eval"),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if args.out:
        print(f"report: {write_html(report, args.out)}", file=sys.stderr)
    body = report.as_dict()
    if getattr(args, "json", False):
        print(json.dumps(body, indent=2))
    else:
        print("\n".join(summary(body)))
    return 0 if chain.ok else EXIT_TAMPERED


def _pairs(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _totals(split: dict[str, dict[str, int]]) -> str:
    return _pairs({k: sum(v.values()) for k, v in split.items()})


def summary(body: dict[str, Any]) -> list[str]:
    """The report for people: one line per question, the JSON has every figure."""
    w, c, s = body["window"], body["chain"], body["searches"]
    chain = (
        f"intact, {c['entries']} entries, signed through entry {c['trusted_through']}"
        if c["ok"]
        else f"BROKEN at entry {c['first_bad_sequence']}: {c['reason']} "
        f"({c['window_entries_from_break']} of this window's entries are past the break)"
    )
    d, r, acc = body["dispositions"], body["reach"], body["access"]
    sources = r["record_sources"]
    stm = d["strong_then_not_a_match"]
    rate = "n/a" if stm["rate"] is None else f"{stm['rate']:.1%}"
    alike = stm["of_which_lookalike_confirmed"]
    instead = f"; {alike} by confirming the look-alike shown beside it" if alike else ""
    lines = [
        f"oversight report {w['from']} to {w['to']} ({w['days']} UTC days), "
        f"as of entry {body['as_of_sequence']}",
        f"audit chain: {chain}",
        f"searches: {s['total']} (live {s['live']}, training {s['training']}); "
        f"outcomes: {_pairs(s['by_outcome'])}",
        f"  per purpose: {_totals(s['per_purpose'])}",
        f"  per modality: {_totals(s['per_modality'])}",
        f"  per operator: {_totals(s['per_operator'])}",
        f"  per unit: {_totals(s['per_unit'])}",
        f"super queries: {body['super_queries']['total']}",
        f"legal authorities: {_totals(body['legal_authorities'])}",
        f"galleries reached: {_pairs({k: v['searches'] for k, v in r['galleries'].items()})}",
        f"record sources asked: {_pairs({k: v['queries'] for k, v in sources.items()})}",
        f"best band (live): {_pairs(body['bands']['searches_by_best_band'])}",
        f"dispositions logged: {_pairs(d['recorded'])}",
        f"strong candidate later judged not a match: {stm['not_a_match']} of {stm['judged']} "
        f"judged ({rate}{instead}); {stm['strong_searches']} live searches had a strong "
        "candidate",
        f"access denied {acc['denied']}, lockouts {acc['lockouts']}, "
        f"failed logons {acc['logon_failures']}",
        f"purges: {body['retention']['purges']} ({body['retention']['deleted']} deleted)",
    ]
    lines += [
        f"accuracy: {a.get('pipeline_id', a.get('file'))} {a.get('kind', '')} on "
        f"{a.get('dataset')}: {_pairs(a.get('metrics') or {}) if 'error' not in a else a['error']}"
        for a in body["accuracy"]
    ] or ["accuracy: no eval results in DATA_DIR/eval"]
    return [*lines, body["notice"]]
