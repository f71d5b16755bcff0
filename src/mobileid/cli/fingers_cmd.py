"""``mobileid eval fingers``: the FVC protocol on a folder of ``NNN_k`` prints.

Wire it under the ``eval`` sub-commands with ``add_fingers_eval_parser(eval_subparsers,
common)``; the handler only parses, calls :mod:`mobileid.eval.fingers` and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mobileid.config import Settings

__all__ = ["add_fingers_eval_parser"]


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
    p.set_defaults(handler=eval_fingers)


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
    from mobileid.finger.pipeline import load_finger_pipeline

    files = list_fvc_root(args.root)
    pipeline = load_finger_pipeline(limits=settings.limits)
    cache = TemplateCache(settings.cache_dir, pipeline.pipeline_id)
    enrolled = enrol_root(files, pipeline, cache, progress=ProgressLine("enrol"))
    result = evaluate(enrolled, pipeline, progress=ProgressLine("compare"))
    metrics = dict(result.metrics)
    metrics["root"] = str(args.root)
    cal = calibrate(result, f"{args.root.name}: all cross-finger impostor pairs")
    possible = settings.bands.possible_fmr
    thresholds = {"possible": cal.threshold(possible)} if possible >= cal.resolution else None
    if thresholds:
        metrics["threshold_possible"] = thresholds["possible"]
    from mobileid.cli.eval_cmd import save_accuracy

    save_accuracy(settings, "fingers", _plain(metrics))
    if args.report:
        from mobileid.eval.report import write_report

        page = write_report(
            args.report,
            f"Fingerprint verification (FVC protocol, all impostors): {args.root.name}",
            metrics,
            genuine=result.genuine,
            impostor=result.impostor_all,
            thresholds=thresholds,
        )
        print(f"report: {page}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(_plain(metrics), indent=2))
        return 0
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:>20}: {shown}")
    return 0


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (``json`` would write NaN)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None
    return value
