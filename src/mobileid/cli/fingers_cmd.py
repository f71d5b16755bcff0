"""Fingerprint commands: ``enroll fingers`` and ``identify finger``.

Wire them with ``add_fingers_parsers(enroll_sub, identify_sub, common)``; the handlers only
parse, call the library (:mod:`mobileid.service.fingers`) and print. The evaluation commands
(``eval fingers``, ``eval fingers-contactless``) are in :mod:`mobileid.cli.finger_eval_cmd`,
whose ``add_fingers_eval_parser`` is also importable from here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mobileid.cli.finger_eval_cmd import add_fingers_eval_parser
from mobileid.config import Settings
from mobileid.service.answers import json_safe

__all__ = ["add_fingers_eval_parser", "add_fingers_parsers", "finger_search_arguments"]


def add_fingers_parsers(
    enroll_sub: Any, identify_sub: Any, common: argparse.ArgumentParser
) -> None:
    """Add ``enroll fingers`` and ``identify finger`` to their sub-command groups."""

    p = enroll_sub.add_parser(
        "fingers",
        parents=[common],
        help="enrol fingerprints from DIR: one folder per subject, prints named by finger "
        "position (right_index.png) or FVC-style NNN_k (position unknown)",
    )
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--gallery", help="gallery to enrol into (default: 'default')")
    p.add_argument(
        "--training",
        action="store_true",
        help="enrol into a training-range gallery (synthetic or consented data, never live)",
    )
    p.add_argument("--ppi", type=float, help="resolution of the prints when files do not say")
    p.add_argument(
        "--contactless",
        action="store_true",
        help="the files are phone photos of fingertips; a photo of several (a hand held flat) "
        "must be named NNN_k and each fingertip takes the position the photo tells",
    )
    p.set_defaults(handler=enrol_fingers_cmd)

    q = identify_sub.add_parser(
        "finger",
        parents=[common],
        help="identify from one or more fingerprints of one person (1:N, fused per subject)",
    )
    q.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    finger_search_arguments(q, "the images")
    q.set_defaults(handler=identify_finger_cmd)


def finger_search_arguments(p: argparse.ArgumentParser, images: str) -> None:
    """The options of a search with fingerprints (``identify finger``, ``identify person``)."""
    from mobileid.cli.reason import reason_arguments

    p.add_argument(
        "--contactless",
        action="store_true",
        help=f"{images} are phone photos of one to four fingertips (a hand held flat, fingers "
        "up or sideways): every fingertip is a probe",
    )
    p.add_argument("--ppi", type=float, help="resolution of contact prints when files do not say")
    p.add_argument("--top", type=int, default=10, help="how many candidates (1..100, default 10)")
    p.add_argument(
        "--gallery", action="append", help="gallery to search (repeatable; default: 'default')"
    )
    reason_arguments(p)


def enrol_fingers_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from mobileid.cli.progress import ProgressLine
    from mobileid.service.caller import console_caller
    from mobileid.service.context import open_context
    from mobileid.service.finger_enrol import enrol_fingers

    ctx = open_context(settings)
    report = enrol_fingers(
        ctx,
        console_caller(),
        args.dir,
        gallery=args.gallery,
        training=args.training,
        ppi=args.ppi,
        contactless=args.contactless,
        progress=ProgressLine("enrol"),
    )
    if getattr(args, "json", False):
        print(json.dumps(asdict(report), indent=2))
        return 0
    print(
        f"gallery {report.gallery!r}: {report.subjects_enrolled} subjects enrolled or extended, "
        f"{report.prints_added} prints added, {report.prints_skipped} already enrolled, "
        f"{len(report.failures)} prints failed"
    )
    for f in report.failures:
        print(f"  failed: {f.path}: {f.code}: {f.message}")
    if report.subjects_failed:
        print(f"  subjects with no usable print (not enrolled): {len(report.subjects_failed)}")
    print(f"pipeline: {report.pipeline_id}")
    return 0


def identify_finger_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.reason import caller, read_captures, where, why
    from mobileid.service.answers import identify_finger_json
    from mobileid.service.context import open_context
    from mobileid.service.searches import FingerOptions, search_fingers

    ctx = open_context(settings)
    who = caller(ctx, args)
    data = read_captures(ctx, who, args, list(args.images), "finger")
    options = FingerOptions(args.contactless, args.ppi)
    result = search_fingers(ctx, who, data, why(args), where(args), options)
    if getattr(args, "json", False):
        print(json.dumps(json_safe(identify_finger_json(result)), indent=2))
        return 0
    _print_identify(result)
    return 0


def _print_identify(result: Any) -> None:
    r = result.reason
    kind = "TRAINING" if not r.live else "live"
    sizes = ", ".join(f"{g} ({n} templates)" for g, n in result.gallery_sizes.items())
    print(f"search {result.search_id} ({kind}): purpose {r.purpose!r} under {r.legal_authority!r}")
    print(f"case {r.case_number}; searched: {sizes}; probe prints: {len(result.probes)}")
    if result.contactless:
        for i, p in enumerate(result.probes):
            print(f"  probe #{i}: photo {p.image}, position {p.position}")
        if result.probes:
            print(f"  positions: {result.probes[0].positions}")
        for note in result.refused_fingertips:
            print(f"  not used: {note}")
    print(f"{'rank':>4}  {'evidence':>8}  {'est. FMR':>9}  {'band':<8}  {'subject':<17}  name")
    for i, c in enumerate(result.candidates, 1):
        print(
            f"{i:>4}  {c.score:8.2f}  {c.fmr:9.1e}  {c.band.value:<8}  {c.subject_id:<17}  "
            f"{c.name}  ["
            + ", ".join(f"#{m.probe}:{m.position} {m.score:.3f}" for m in c.matches)
            + "]"
        )
    for u in result.calibrations:
        t = u.thresholds
        shown = {b: f"{t[b]:.3f}" if t.get(b) is not None else "never" for b in t}
        print(
            f"bands against {u.gallery_pipeline_id}: strong from {shown['strong']}, possible "
            f"from {shown['possible']} (single-print score); this calibration resolves rates "
            f"down to {u.fmr_resolution:.1e} only ({u.impostor_count} impostor comparisons)"
        )
    print(f"fusion: {result.fusion_rule}; calibration: {result.calibration}")
    print(f"pipeline: {result.pipeline_id}")
    print(result.notice)
    print(f"record the outcome: mobileid disposition {result.search_id} DISPOSITION")
