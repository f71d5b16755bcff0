"""``mobileid eval fingers-strata``: measure the quality-stratified finger calibration.

The library is :mod:`mobileid.eval.finger_strata`; this module only parses, calls and prints.
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

__all__ = ["add_finger_strata_parser"]


def add_finger_strata_parser(eval_subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``fingers-strata`` to the ``eval`` sub-commands."""
    p = eval_subparsers.add_parser(
        "fingers-strata",
        parents=[common],
        help="measure the finger calibration per probe quality stratum on one FVC set as "
        "captured and as every imitated sensor gives it, and check it on another set's fingers",
    )
    p.add_argument("--root", type=Path, required=True, metavar="DIR", help="development prints")
    p.add_argument(
        "--check-root", type=Path, metavar="DIR", help="prints of other fingers to check on"
    )
    p.add_argument(
        "--pooled",
        type=Path,
        required=True,
        metavar="FILE",
        help="the pooled contact calibration (the good stratum's table)",
    )
    p.add_argument(
        "--check-sensor",
        action="append",
        choices=sorted(SENSORS),
        metavar="NAME",
        help="imitated sensors of the check set (repeatable; default: every one)",
    )
    p.add_argument(
        "--splits",
        type=int,
        default=0,
        metavar="N",
        help="also check the construction on the development set itself: N random splits of "
        "its fingers, fitting on --fit-fingers of them with one imitated sensor held out and "
        "checking on that sensor's other fingers (a table on stderr, figures under "
        "'split_check')",
    )
    p.add_argument(
        "--fit-fingers",
        type=int,
        default=7,
        metavar="K",
        help="fingers to fit on in each split (default 7 of 10)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write the strata file here")
    p.add_argument(
        "--report", type=Path, metavar="OUTDIR", help="also write the figures as an HTML report"
    )
    p.set_defaults(handler=eval_finger_strata)


def eval_finger_strata(args: argparse.Namespace, settings: Settings) -> int:
    """Enrol every set (cached), compare, measure the strata, check them, print."""
    from mobileid.cli.progress import ProgressLine
    from mobileid.eval.finger_strata import (
        check_strata,
        genuine_reach,
        measure_strata,
        probe_scores,
    )
    from mobileid.eval.fingers import TemplateCache, enrol_root, evaluate, list_fvc_root
    from mobileid.finger.pipeline import load_finger_pipeline
    from mobileid.scoring import Calibration

    pipeline = load_finger_pipeline(limits=settings.limits)
    cache = TemplateCache(settings.cache_dir, pipeline.pipeline_id, deployment_key(settings))
    pooled = Calibration.load(args.pooled)

    measured: dict[str, dict[str, float]] = {}

    def sets(root: Path, sensors: list[str]) -> list[Any]:
        files, out = list_fvc_root(root), []
        for sensor in (None, *sensors):
            name = f"{root.name} {sensor or 'as captured'}"
            enrolled = enrol_root(files, pipeline, cache, ProgressLine(name), sensor=sensor)
            result = evaluate(enrolled, pipeline)
            out.append(probe_scores(name, enrolled, result))
            keys = ("fte_rate", "eer_all", "eer", "fmr1000", "minutiae_mean")
            measured[name] = {k: result.metrics[k] for k in keys}
            measured[name]["quality_mean"] = float(out[-1].qualities.mean())
        return out

    dev = sets(args.root, list(SENSORS))
    strata = measure_strata(dev, pooled)
    if args.out:
        strata.save(args.out)
    report: dict[str, Any] = {
        "pipeline_id": pipeline.pipeline_id,
        "min_good_quality": strata.min_good_quality,
        "quality_version": strata.quality_version,
        "poor_table": strata.poor.dataset,
        "poor_resolution": strata.poor.resolution,
    }
    check = sets(args.check_root, args.check_sensor or list(SENSORS)) if args.check_root else []
    if check:
        report["check"] = check_strata(strata, check)
    if args.splits:
        report["split_check"] = _split_check(args, dev, pooled.matcher)
    for d in (*dev, *check):
        row = measured[d.name]
        row["poor_share"] = float((d.qualities < strata.min_good_quality).mean())
        # how often a true mate reaches the possible band, each pair read from the table of
        # its poorer print (what an operator searching with that print would see)
        row["genuine_possible"] = genuine_reach(strata, d, settings.bands.possible_fmr)
    report["sets"] = measured
    if getattr(args, "report", None):
        _write_report(args.report, report)
    print(json.dumps(json_safe(report), indent=2))
    return 0


def _split_check(args: argparse.Namespace, dev: list[Any], matcher: str) -> list[dict[str, Any]]:
    """The split check's rows; their table on stderr."""
    from dataclasses import asdict

    from mobileid.eval.finger_splits import split_check, split_table

    rows = split_check(dev, splits=args.splits, fit_fingers=args.fit_fingers, matcher=matcher)
    print(split_table(rows), file=sys.stderr)
    return [asdict(r) | {"observed": r.observed} for r in rows]


def _write_report(outdir: Path, report: dict[str, Any]) -> None:
    """``report`` as an HTML page (``eval.report``), each check row keyed by its predicted FMR
    so that the page shows one table row per figure."""
    from mobileid.eval.report import write_report

    shown = dict(report)
    if "check" in shown:
        shown["check"] = {
            k: {f"at FMR {r['predicted']:g}": r for r in v} if isinstance(v, list) else v
            for k, v in shown["check"].items()
        }
    if "split_check" in shown:
        shown["split_check"] = {
            f"{r['held_out']} at FMR {r['predicted']:g}": r for r in shown["split_check"]
        }
    title = "Finger calibration by probe quality stratum (FVC2002 and imitated sensors)"
    page = write_report(outdir, title, json_safe(shown))
    print(f"report: {page}", file=sys.stderr)
