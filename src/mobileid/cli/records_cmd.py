"""``mobileid records ...`` (sources, register, import, generate) and ``mobileid query``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobileid.cli.reason import reason_arguments, token_argument
from mobileid.config import Settings
from mobileid.errors import InvalidArgument

if TYPE_CHECKING:  # the CLI loads the library lazily, like eval_cmd
    from mobileid.records.registry import SourceRegistry
    from mobileid.service.super_query import SuperQueryResult


def add_records_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    rec = sub.add_parser("records", help="record sources: list, register, import, generate")
    rsub = rec.add_subparsers(dest="what", required=True, metavar="ACTION")
    ls = rsub.add_parser("sources", parents=[common], help="list the registered record sources")
    ls.set_defaults(handler=_sources)

    reg = rsub.add_parser("register", parents=[common], help="add or update a source entry")
    reg.add_argument("name", metavar="NAME")
    reg.add_argument("--agency", required=True, help="who owns the data")
    reg.add_argument("--authority", required=True, help="legal authority for access")
    reg.add_argument(
        "--types", required=True, help="record types held, comma-separated (person,vehicle,...)"
    )
    reg.add_argument("--retention", required=True, help="the retention rule, in words")
    reg.add_argument("--entitlement", required=True, help="entitlement an operator needs")
    reg.add_argument(
        "--url", default="", help="database URL (default: DATA_DIR/records/NAME.sqlite3)"
    )
    reg.add_argument(
        "--retention-days",
        type=int,
        help="records imported more than this many days ago are deleted by "
        "`mobileid admin purge` (with an audited receipt)",
    )
    token_argument(reg)
    reg.set_defaults(handler=_register)

    imp = rsub.add_parser(
        "import",
        parents=[common],
        help="import a CSV or JSON file into a source: every row is checked, and a file with "
        "any invalid row is rejected whole",
    )
    imp.add_argument("source", metavar="SOURCE")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument(
        "--region", default="US", help="country assumed for phone numbers without +code"
    )
    token_argument(imp)
    imp.set_defaults(handler=_import)

    gen = rsub.add_parser(
        "generate",
        parents=[common],
        help="write seven synthetic sources (Faker, fixed seed), clearly marked synthetic",
    )
    gen.add_argument("--out", type=Path, required=True, metavar="DIR")
    gen.add_argument("--count", type=int, default=1000, help="records per type (default 1000)")
    gen.add_argument("--seed", type=int, default=None, help="Faker seed (default: fixed)")
    gen.add_argument(
        "--load", action="store_true", help="also register and import them into DATA_DIR"
    )
    token_argument(gen)
    gen.set_defaults(handler=_generate)


def add_query_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    q = sub.add_parser(
        "query",
        parents=[common],
        help="super query: search every record source you may use at once, by any key",
    )
    for flag, what in (
        ("--name", "a person's name (fuzzy)"),
        ("--dob", "date of birth YYYY-MM-DD, with --name"),
        ("--subject-id", "a subject id from a biometric hit"),
        ("--record-id", "a record number"),
        ("--plate", "vehicle plate"),
        ("--vin", "vehicle identification number"),
        ("--tail", "aircraft tail number"),
        ("--hull", "vessel hull id"),
        ("--address", "an address"),
        ("--phone", "phone number (E.164, or --region format)"),
        ("--serial", "firearm serial number"),
    ):
        q.add_argument(flag, default="", help=what)
    q.add_argument(
        "--source",
        action="append",
        help="search only this source (repeatable; default: every registered source; the "
        "operator layer narrows this to the caller's entitlements)",
    )
    q.add_argument("--region", default="US", help="country assumed for --phone without +code")
    q.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for sources")
    q.add_argument("--limit", type=int, default=50, help="direct hits kept per source")
    reason_arguments(q)
    q.set_defaults(handler=_query)


def _registry(settings: Settings, timeout_s: float = 5.0) -> SourceRegistry:
    from mobileid.records.registry import SourceRegistry

    return SourceRegistry(settings.data_dir / "records", timeout_s=timeout_s)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _sources(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.records.errors import SourceUnavailable

    registry = _registry(settings)
    rows = []
    for entry in registry.entries():
        with registry.open_entry(entry) as source:
            try:
                counts, problem = source.counts(), ""
            except SourceUnavailable as exc:  # one unreachable source must not hide the rest
                counts, problem = {}, exc.message
        rows.append({**entry.to_json(), "records": counts, "unreachable": problem})
    if args.json:
        _print_json({"sources": rows})
        return 0
    if not rows:
        print("no record sources registered (see `mobileid records register` or `generate`)")
    for r in rows:
        tag = " [SYNTHETIC]" if r["synthetic"] else ""
        held = ", ".join(f"{n} {t}" for t, n in r["records"].items()) or "empty"
        if r["unreachable"]:
            held = f"UNREACHABLE ({r['unreachable']})"
        print(f"{r['name']}{tag}: {r['agency']}; authority: {r['legal_authority']}")
        print(f"    holds {held}; retention: {r['retention']}; needs {r['entitlement']}")
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.records.model import RecordType
    from mobileid.records.registry import SourceEntry

    try:
        types = tuple(RecordType(t.strip()) for t in args.types.split(",") if t.strip())
    except ValueError:
        kinds = ", ".join(t.value for t in RecordType)
        raise InvalidArgument(
            f"--types: expected some of {kinds}, got {args.types!r}", field="types"
        ) from None
    entry = SourceEntry(
        args.name,
        args.agency,
        args.authority,
        types,
        args.retention,
        args.entitlement,
        args.url,
        retention_days=args.retention_days,
    )
    from mobileid.cli.reason import console_or_token
    from mobileid.service.context import open_context
    from mobileid.service.sources import register_source

    ctx = open_context(settings)
    register_source(ctx, console_or_token(ctx, args), entry)
    if args.json:
        _print_json({"registered": entry.to_json()})
    else:
        print(f"registered {entry.name}")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.reason import console_or_token
    from mobileid.records.errors import ImportRejected
    from mobileid.service.context import open_context
    from mobileid.service.sources import import_into

    ctx = open_context(settings)
    try:
        report = import_into(
            ctx, console_or_token(ctx, args), args.source, args.file, phone_region=args.region
        )
    except ImportRejected as exc:
        if args.json:  # the whole list, not only the message's first few
            _print_json({"rejected": str(args.file), "errors": [asdict(e) for e in exc.errors]})
        raise
    if args.json:
        _print_json(asdict(report))
    else:
        held = ", ".join(f"{n} {t}" for t, n in report.records.items())
        print(f"imported into {report.source}: {held}, {report.links} links")
    return 0


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.reason import console_or_token
    from mobileid.records.generate import DEFAULT_SEED, synthetic_entries, write_synthetic
    from mobileid.service.context import open_context
    from mobileid.service.sources import import_into, register_source

    if not 1 <= args.count <= 10_000_000:
        raise InvalidArgument(f"--count: expected 1..10000000, got {args.count}", field="count")
    paths = write_synthetic(
        args.out,
        args.count,
        DEFAULT_SEED if args.seed is None else args.seed,
        progress=lambda m: print(m, file=sys.stderr),
    )
    loaded = []
    if args.load:
        ctx = open_context(settings)
        who = console_or_token(ctx, args)
        for entry in synthetic_entries():
            register_source(ctx, who, entry)
            report = import_into(ctx, who, entry.name, args.out / f"{entry.name}.json")
            loaded.append(asdict(report))
    if args.json:
        _print_json({"files": [str(p) for p in paths], "loaded": loaded, "synthetic": True})
    else:
        print(f"wrote {len(paths)} files to {args.out} (synthetic)")
        for r in loaded:
            print(f"loaded {r['source']}: {r['records']}, {r['links']} links")
    return 0


def _query(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.reason import caller, why
    from mobileid.records.query import make_query
    from mobileid.service.answers import query_json
    from mobileid.service.context import open_context
    from mobileid.service.searches import run_super_query

    query = make_query(
        name=args.name,
        dob=args.dob,
        subject_id=args.subject_id,
        record_id=args.record_id,
        plate=args.plate,
        vin=args.vin,
        tail_number=args.tail,
        hull_id=args.hull,
        address=args.address,
        phone=args.phone,
        serial=args.serial,
        phone_region=args.region,
    )
    if not 0 < args.timeout <= 60:
        raise InvalidArgument(f"--timeout: expected 0..60 s, got {args.timeout}", field="timeout")
    ctx = open_context(settings)
    answer = run_super_query(
        ctx,
        caller(ctx, args),
        query,
        why(args),
        args.source,
        timeout_s=args.timeout,
        limit=args.limit,
    )
    if args.json:
        _print_json(query_json(answer.search_id, answer.result))
    else:
        reason = answer.reason
        print(
            f"query {answer.search_id}: purpose {reason.purpose!r} under {reason.legal_authority!r}"
        )
        _print_query(answer.result)
    return 0


def _print_query(result: SuperQueryResult) -> None:
    for o in result.sources:
        extra = f"{o.hits} hits, {o.elapsed_ms:.0f} ms" if o.state == "answered" else o.reason
        print(f"{o.source:<24} {o.state.value:<13} {extra}")
    if not result.complete:
        print("PARTIAL ANSWER: not every source you may search answered (see above)")
    if not result.hits:
        print("no records found in the sources searched")
    for h in result.hits:
        tag = " [SYNTHETIC]" if h.record.synthetic else ""
        hop = "  -> " if h.hop else ""
        label = getattr(h.record, "name", "") or _key_of(h.record)
        print(f"{hop}{h.source}:{h.record.record_id} {h.record.record_type.value}{tag} {label}")
        print(f"{'':>6}{h.reason}")
    for lk in result.links:
        print(
            f"same person? {lk.a_source}:{lk.a_record_id} ~ {lk.b_source}:{lk.b_record_id}: "
            f"{lk.reason}"
        )
    print(result.notice)


def _key_of(record: Any) -> str:
    for attr in ("plate", "tail_number", "hull_id", "address", "number", "serial"):
        if getattr(record, attr, ""):
            return str(getattr(record, attr))
    return ""
