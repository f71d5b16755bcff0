"""``identify person``: a face photo and fingerprints searched together, fused per subject."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mobileid.config import Settings


def add_person_parser(identify_sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``identify person`` to the identify sub-commands."""
    from mobileid.cli.fingers_cmd import finger_search_arguments

    p = identify_sub.add_parser(
        "person",
        parents=[common],
        help="identify from a face photo and one or more fingerprints together (1:N, each "
        "subject's face and finger evidence fused; one audited search)",
    )
    p.add_argument("--face", type=Path, required=True, metavar="IMAGE", help="the face photo")
    p.add_argument(
        "--finger",
        type=Path,
        action="append",
        required=True,
        metavar="IMAGE",
        help="a fingerprint (repeatable): contact prints, or phone photos with --contactless",
    )
    finger_search_arguments(p, "the --finger images")
    p.set_defaults(handler=identify_person_cmd)


def identify_person_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.reason import caller, read_captures, where, why
    from mobileid.service.answers import person_json
    from mobileid.service.context import open_context
    from mobileid.service.searches import FingerOptions, search_person

    ctx = open_context(settings)
    who = caller(ctx, args)
    face, *fingers = read_captures(ctx, who, args, [args.face, *args.finger], "person")
    options = FingerOptions(args.contactless, args.ppi)
    result = search_person(ctx, who, face, fingers, why(args), where(args), options)
    if getattr(args, "json", False):
        print(json.dumps(person_json(result), indent=2))
    else:
        _print_person(result)
    return 0


def _rate(f: float | None) -> str:
    return "-" if f is None else f"{f:.1e}"


def _print_person(result: Any) -> None:
    r = result.reason
    kind = "TRAINING" if not r.live else "live"
    print(f"search {result.search_id} ({kind}): purpose {r.purpose!r} under {r.legal_authority!r}")
    print(
        f"case {r.case_number}; galleries: {', '.join(result.galleries)}; faces in photo: "
        f"{result.face.faces_seen}; probe prints: {len(result.fingers.probes)}"
    )
    print(
        f"{'rank':>4}  {'est. FMR':>9}  {'band':<8}  {'face FMR':>9}  {'finger FMR':>10}  "
        f"{'subject':<17}  name"
    )
    for i, c in enumerate(result.candidates, 1):
        print(
            f"{i:>4}  {c.fmr:9.1e}  {c.band.value:<8}  {_rate(c.face_fmr):>9}  "
            f"{_rate(c.finger_fmr):>10}  {c.subject_id:<17}  {c.name}"
        )
    print(
        f"fusion: {result.fusion_rule}; no rate below {result.fmr_resolution:.1e} is claimed "
        "(the calibrations' resolution); '-': that search did not return the subject"
    )
    print(f"pipelines: {result.face.pipeline_id}; {result.fingers.pipeline_id}")
    print(result.notice)
    print(f"record the outcome: mobileid disposition {result.search_id} DISPOSITION")
