"""Fingerprint commands: ``eval fingers``, ``enroll fingers`` and ``identify finger``.

Wire them with ``add_fingers_eval_parser(eval_subparsers, common)`` and
``add_fingers_parsers(enroll_sub, identify_sub, common)``; the handlers only parse, call the
library (:mod:`mobileid.eval.fingers`, :mod:`mobileid.service.fingers`) and print.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mobileid.config import Settings
from mobileid.eval.finger_sensors import SENSORS
from mobileid.service.answers import json_safe
from mobileid.service.deployment_key import deployment_key

__all__ = ["add_fingers_eval_parser", "add_fingers_parsers"]


def add_fingers_eval_parser(eval_subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``fingers`` to the ``eval`` sub-commands."""
    p = eval_subparsers.add_parser(
        "fingers",
        parents=[common],
        help="FVC protocol on NNN_k prints: genuine = all impression pairs of a finger; "
        "impostor = first impressions of different fingers (and all cross-finger pairs)",
    )
    p.add_argument(
        "--root", type=Path, required=True, metavar="DIR", help="folder of NNN_k.tif prints"
    )
    p.add_argument("--report", type=Path, metavar="OUTDIR", help="write an HTML report with plots")
    p.add_argument(
        "--sensor",
        choices=sorted(SENSORS),
        help="imitate another sensor on every print first (mobileid.eval.finger_sensors)",
    )
    p.add_argument(
        "--calibration-out",
        type=Path,
        metavar="FILE",
        help="write this run's score -> FMR table (all cross-finger impostors) to FILE",
    )
    p.set_defaults(handler=eval_fingers)
    c = eval_subparsers.add_parser(
        "fingers-contactless",
        parents=[common],
        help="measure the calibrations of fingertip-photo probes from impostor comparisons: "
        "every photo against every contact print (mirrored, best of five scales), and photos "
        "of different fingers",
    )
    c.add_argument(
        "--photos",
        type=Path,
        required=True,
        metavar="DIR",
        help="fingertip photos named as ISPFD: <subject>_<i|o>_<finger>_<w|n>_<n>.jpg",
    )
    c.add_argument(
        "--root",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="folder of FVC NNN_k contact prints (repeatable)",
    )
    c.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write calibration-contactless.json and calibration-contactless-photo.json here "
        "(the shipped ones: src/mobileid/finger); default: DATA_DIR/calibration/"
        "finger-contactless*.json, which override the shipped ones",
    )
    c.add_argument(
        "--renders",
        type=Path,
        metavar="DIR",
        help="IMPOSE-style renders (multi_pose_CL/, source_rolled/): genuine photo-vs-contact "
        "pairs, ranked among the contact prints",
    )
    c.add_argument("--report", type=Path, metavar="OUTDIR", help="write an HTML report with plots")
    c.set_defaults(handler=eval_fingers_contactless)


def eval_fingers(args: argparse.Namespace, settings: Settings) -> int:
    """Enrol (cached by image hash), compare every pair once, print the metrics."""
    from mobileid.cli.progress import ProgressLine
    from mobileid.eval.fingers import (
        TemplateCache,
        calibrate,
        enrol_root,
        evaluate,
        list_fvc_root,
    )
    from mobileid.eval.report import band_lines
    from mobileid.finger.pipeline import load_finger_pipeline

    files = list_fvc_root(args.root)
    pipeline = load_finger_pipeline(limits=settings.limits)
    cache = TemplateCache(settings.cache_dir, pipeline.pipeline_id, deployment_key(settings))
    sensor = getattr(args, "sensor", None)
    enrolled = enrol_root(files, pipeline, cache, progress=ProgressLine("enrol"), sensor=sensor)
    result = evaluate(enrolled, pipeline, progress=ProgressLine("compare"))
    metrics = dict(result.metrics)
    metrics["root"] = str(args.root)
    metrics["sensor"] = sensor or "as captured"
    cal = calibrate(
        result,
        f"FVC2002 {args.root.name}{f' ({sensor})' if sensor else ''}: all cross-finger impostor "
        f"pairs ({len(enrolled)} prints, {metrics['fingers']} fingers)",
    )
    if getattr(args, "calibration_out", None):
        cal.save(args.calibration_out)
    bands = settings.bands
    # FVC "B" sets: 2,880 impostors resolve 1e-3 (possible) but not 1e-5 (strong)
    lines, unshown = band_lines(cal, {"strong": bands.strong_fmr, "possible": bands.possible_fmr})
    if "possible" in lines:
        metrics["threshold_possible"] = lines["possible"]
    from mobileid.cli.eval_cmd import save_accuracy

    save_accuracy(settings, "fingers", json_safe(metrics))
    if args.report:
        from mobileid.eval.report import write_report

        page = write_report(
            args.report,
            f"Fingerprint verification (FVC protocol, all impostors): {args.root.name}",
            metrics,
            genuine=result.genuine,
            impostor=result.impostor_all,
            thresholds=lines,
            unshown=unshown,
        )
        print(f"report: {page}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(json_safe(metrics), indent=2))
        return 0
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:>20}: {shown}")
    return 0


def eval_fingers_contactless(args: argparse.Namespace, settings: Settings) -> int:
    """Enrol the contact prints (cached) and the photos, compare, write both calibrations."""
    from mobileid.cli.progress import ProgressLine
    from mobileid.eval.finger_contactless import contactless_calibrations, save_contactless
    from mobileid.eval.fingers import TemplateCache, enrol_root, list_fvc_root
    from mobileid.finger.pipeline import load_finger_pipeline

    pipeline = load_finger_pipeline(limits=settings.limits)
    cache = TemplateCache(settings.cache_dir, pipeline.pipeline_id, deployment_key(settings))
    files = [f for root in args.root for f in list_fvc_root(root)]
    contact = enrol_root(files, pipeline, cache, progress=ProgressLine("enrol"))
    renders = getattr(args, "renders", None)
    cal = contactless_calibrations(
        args.photos, contact, pipeline, ProgressLine("photos"), renders=renders
    )
    if args.out:
        paths = save_contactless(cal, args.out, "calibration-contactless")
    else:
        paths = save_contactless(cal, settings.data_dir / "calibration", "finger-contactless")
    tables = (cal.to_contact, cal.to_photo)
    out = {
        **cal.metrics,
        "calibrations": {str(p): c.dataset for p, c in zip(paths, tables, strict=True)},
    }
    if getattr(args, "report", None):
        import numpy as np

        from mobileid.eval.report import write_report

        possible = cal.metrics["threshold_possible"]
        by_roll = {
            f"{r['render']} (roll {r['roll']:+d}°)": (
                f"rank {r['rank']}, score {r['score']}" if r["rank"] else "refused"
            )
            for r in cal.metrics["render_ranks"]
        }
        page = write_report(
            args.report,
            "Fingertip photos against contact prints (genuine: renders vs their rolled print)",
            {"pipeline_id": pipeline.contactless_pipeline_id, **out, "render_by_roll": by_roll},
            genuine=cal.genuine[np.isfinite(cal.genuine)] if cal.genuine.size else None,
            impostor=cal.impostor if cal.genuine.size else None,
            thresholds={"possible": possible} if possible is not None else None,
        )
        print(f"report: {page}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(json_safe(out), indent=2))
        return 0
    for key, value in out.items():
        print(f"{key:>24}: {value}")
    return 0


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
