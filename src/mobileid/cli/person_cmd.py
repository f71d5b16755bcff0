"""``identify person``: a face photo and fingerprints searched together, fused per subject."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mobileid.config import Settings

_REASON_KEYS = ("search_id", "modality", "purpose", "legal_authority", "case_number", "training")


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
    from mobileid.cli.main import read_limited
    from mobileid.service.access import act_as
    from mobileid.service.context import open_context
    from mobileid.service.identify import require_reason
    from mobileid.service.person import identify_person

    ctx = open_context(settings)
    principal = act_as(ctx, args.token)
    reason = require_reason(ctx, args.purpose, args.case, args.location, modality="face+finger")
    limit = settings.limits.max_file_bytes
    result = identify_person(
        ctx,
        read_limited(args.face, limit),
        [read_limited(p, limit) for p in args.finger],
        reason=reason,
        galleries=args.gallery,
        top=args.top,
        contactless=args.contactless,
        ppi=args.ppi,
        principal=principal,
    )
    if getattr(args, "json", False):
        print(json.dumps(person_json(result), indent=2))
    else:
        _print_person(result)
    return 0


def person_json(result: Any) -> dict[str, Any]:
    """The JSON shape of a fused search: ``identify face`` keys where they agree, and each
    modality's own answer under ``face`` and ``finger``."""
    from mobileid.cli.fingers_cmd import identify_finger_json, json_safe
    from mobileid.cli.render import identify_json

    r = result.reason
    face = {k: v for k, v in identify_json(result.face).items() if k not in _REASON_KEYS}
    finger = {
        k: v for k, v in identify_finger_json(result.fingers).items() if k not in _REASON_KEYS
    }
    out = {
        "search_id": result.search_id,
        "modality": "face+finger",
        "purpose": r.purpose,
        "legal_authority": r.legal_authority,
        "case_number": r.case_number,
        "training": not r.live,
        "candidates": [
            {**asdict(c), "band": c.band.value, "rank": i + 1}
            for i, c in enumerate(result.candidates)
        ],
        "notice": result.notice,
        "galleries": list(result.galleries),
        "fmr_bounds": result.fmr_bounds,
        "fmr_resolution": result.fmr_resolution,
        "fusion_rule": result.fusion_rule,
        "face": face,
        "finger": finger,
    }
    return dict(json_safe(out))


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
