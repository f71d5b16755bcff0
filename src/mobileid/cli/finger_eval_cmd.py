"""Fingerprint evaluation commands: ``eval fingers`` and ``eval fingers-contactless``.

Wire them with ``add_fingers_eval_parser(eval_subparsers, common)``; the handlers only parse,
call the library (:mod:`mobileid.eval.fingers`, :mod:`mobileid.eval.finger_contactless`) and
print.
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

__all__ = ["add_fingers_eval_parser", "eval_fingers", "eval_fingers_contactless"]


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
