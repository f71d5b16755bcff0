"""``mobileid eval ...``: measure accuracy on a labelled folder-per-identity root."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobileid.cli.eval_splits_cmd import (
    add_split_options,
    check_split_options,
    split_metrics,
    tail_option,
)
from mobileid.config import Settings

if TYPE_CHECKING:
    from mobileid.scoring import Calibration


def add_eval_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    ev = sub.add_parser("eval", help="measure accuracy on labelled data").add_subparsers(
        dest="what", required=True, metavar="MODALITY"
    )
    from mobileid.cli.finger_eval_cmd import add_fingers_eval_parser
    from mobileid.cli.finger_strata_cmd import add_finger_strata_parser

    add_fingers_eval_parser(ev, common)
    add_finger_strata_parser(ev, common)
    faces = ev.add_parser("faces", help="face protocols").add_subparsers(
        dest="protocol", required=True, metavar="PROTOCOL"
    )
    v = faces.add_parser(
        "verify",
        parents=[common],
        help="1:1 verification: all genuine pairs and all (or a fixed-seed sample of) impostor "
        "pairs, or the pairs of an LFW-format pairs file (10-fold accuracy)",
    )
    v.add_argument("--pairs", type=Path, metavar="PAIRS.txt", help="LFW-format pairs file")
    v.add_argument(
        "--splits",
        type=int,
        default=0,
        metavar="K",
        help="also measure accuracy as LFW's View 2 does, on K identity-disjoint folds of the "
        "root (300 genuine and 300 impostor pairs each, threshold from the other folds)",
    )
    v.add_argument("--seed", type=int, default=1, help="seed of the folds (default 1)")
    i = faces.add_parser(
        "identify",
        parents=[common],
        help="open-set 1:N: first image of each identity with >= 2 images enrolled, the rest "
        "mated probes, single-image identities non-mated probes",
    )
    c = faces.add_parser(
        "calibrate",
        parents=[common],
        help="measure the score -> false-match-rate table on development data",
    )
    c.add_argument(
        "--out", type=Path, help="where to write it (default: DATA_DIR/calibration/face.json)"
    )
    c.add_argument(
        "--cohort-out",
        type=Path,
        metavar="FILE",
        help="where to write the cohort the scores are normalised against: the faces of half "
        "of the root's people, chosen at random; the other half calibrates "
        "(default: DATA_DIR/calibration/face-cohort.npz)",
    )
    c.add_argument(
        "--strata-out",
        type=Path,
        metavar="FILE",
        help="where to write the quality-stratified tables, one per quality stratum of the "
        "probe capture (default: DATA_DIR/calibration/face-strata.json)",
    )
    add_split_options(i, c)
    for p in (v, i, c):
        p.add_argument(
            "--root", type=Path, required=True, metavar="DIR", help="one folder per identity"
        )
    for p in (v, i):
        p.add_argument(
            "--report", type=Path, metavar="OUTDIR", help="write an HTML report with plots"
        )
    v.set_defaults(handler=_verify)
    i.set_defaults(handler=_identify)
    c.set_defaults(handler=_calibrate)


def _embed(args: argparse.Namespace, settings: Settings) -> Any:
    from mobileid.cli.progress import ProgressLine
    from mobileid.eval.faces import embed_root

    return embed_root(args.root, settings, progress=ProgressLine("embed"))


def _emit(
    args: argparse.Namespace,
    settings: Settings,
    kind: str,
    metrics: dict[str, Any],
    title: str,
    **plots: Any,
) -> None:
    save_accuracy(settings, kind, metrics)
    if args.report:
        from mobileid.eval.report import write_report

        page = write_report(args.report, title, metrics, **plots)
        print(f"report: {page}", file=sys.stderr)
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
        return
    from mobileid.eval.report_tables import flat_rows, text

    for key, value in flat_rows(metrics):  # nested figures by their path, as in the report
        print(f"{key:>26}: {text(value, '.4g')}")


def save_accuracy(settings: Settings, kind: str, metrics: dict[str, Any]) -> Path:
    """Keep the figures where the oversight report finds them (the newest per pipeline)."""
    import hashlib
    from datetime import UTC, datetime

    pid = str(metrics.get("pipeline_id", ""))
    out = (
        settings.data_dir / "eval" / f"{kind}-{hashlib.sha256(pid.encode()).hexdigest()[:10]}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "kind": kind,
        "pipeline_id": pid,
        "dataset": str(metrics.get("root", "")),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
    }
    out.write_text(json.dumps(record, indent=2, default=str))
    return out


def _thresholds(settings: Settings) -> dict[str, float] | None:
    from mobileid.errors import PipelineMismatch
    from mobileid.service.context import open_context

    try:
        ctx = open_context(settings)
        cal = ctx.calibration
    except PipelineMismatch:
        return None
    if ctx.face_scoring.norm is not None:  # the table's scores are not the pairs' cosines
        return None
    from mobileid.eval.report import band_lines

    b = settings.bands
    # a band no score can reach gets no line on the plots
    return band_lines(cal, {"strong": b.strong_fmr, "possible": b.possible_fmr})[0]


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.eval.faces import verify

    data = _embed(args, settings)
    metrics, gen, imp = verify(data, args.pairs)
    metrics["root"] = str(args.root)
    if args.splits:
        from mobileid.eval.splits import split_verify

        metrics["identity_disjoint"] = split_verify(data, folds=args.splits, seed=args.seed)
    _emit(
        args,
        settings,
        "faces-verify",
        metrics,
        f"Face verification: {args.root.name}",
        genuine=gen,
        impostor=imp,
        thresholds=_thresholds(settings),
    )
    return 0


def _identify(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from mobileid.errors import PipelineMismatch
    from mobileid.eval.faces import identify
    from mobileid.service.context import open_context

    prepare = check_split_options(args)  # a bad option is refused before any image is read
    data = _embed(args, settings)
    try:
        ctx = open_context(settings)
        cal = ctx.calibration
        # scored as the service scores; a searched face that is itself in the cohort (the
        # shipped cohort is lfw-dev's one-image people) is not normalised against itself
        offsets = ctx.face_scoring.offsets(data.vectors, leave_out_self=True)
        insample = replace(data, offsets=offsets)
    except PipelineMismatch:
        cal, insample = None, data
    b = settings.bands
    metrics, ident = identify(insample, cal, (b.strong_fmr, b.possible_fmr))
    metrics["scoring"] = ctx.face_scoring.label if cal is not None else None
    metrics["root"] = str(args.root)
    if args.splits:
        metrics["identity_disjoint"] = split_metrics(
            args, data, (b.strong_fmr, b.possible_fmr), prepare
        )
    _emit(
        args,
        settings,
        "faces-identify",
        metrics,
        f"Open-set face identification: {args.root.name}",
        ident=ident,
        thresholds=metrics.get("band_thresholds"),
    )
    return 0


def _unreachable(band: str, fmr: float, table_name: str, table: Calibration) -> str:
    """Why a table cannot place a band: too few impostor comparisons to show its rate."""
    return (
        f"{band} band (FMR {fmr:g}): the {table_name} table rests on "
        f"{table.impostor_count:,} impostor comparisons, so no score can be shown to reach it "
        f"({math.ceil(1 / fmr):,} or more are needed) and searches scored with it never "
        f"return a {band} candidate; calibrate on more people"
    )


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from mobileid.eval.cohort_eval import shipped_cohort
    from mobileid.eval.face_strata import calibrate_strata
    from mobileid.eval.faces import calibrate
    from mobileid.service.calibration_files import local_face_calibration, local_face_strata
    from mobileid.service.face_scoring import local_face_cohort

    tail = tail_option(args)  # refused before any image is read
    data = _embed(args, settings)
    scoring, calib = shipped_cohort(data, args.root.name)
    dataset = (
        f"{args.root.name}: all impostor pairs of the people outside the cohort "
        f"({len(calib.paths)} images)"
    )
    cal = replace(
        calibrate(calib, dataset, resamples=args.resamples or None, tail=tail),
        scoring=scoring.label,
    )
    strata = calibrate_strata(calib, dataset, resamples=args.resamples or None, tail=tail)
    strata = replace(
        strata, tables=tuple((n, replace(t, scoring=scoring.label)) for n, t in strata.tables)
    )
    out = args.out or local_face_calibration(settings)
    strata_out = args.strata_out or local_face_strata(settings)
    cohort_out = args.cohort_out or local_face_cohort(settings)
    for path, table in ((out, cal), (strata_out, strata)):
        path.parent.mkdir(parents=True, exist_ok=True)
        table.save(path)
    scoring.save(cohort_out)
    b = settings.bands
    summary = {
        "calibration": str(out),
        "strata": str(strata_out),
        "cohort": str(cohort_out),
        "scoring": scoring.label,
        "pipeline_id": cal.matcher,
        "impostor_comparisons": cal.impostor_count,
        "genuine_comparisons": cal.genuine_count,
        "quality_cuts": strata.cuts.__dict__,
    }
    warnings = []
    for name, table in (("", cal), *((f"_{n}", t) for n, t in strata.tables)):
        for band, f in (("strong", b.strong_fmr), ("possible", b.possible_fmr)):
            t = summary[f"threshold_{band}{name}"] = table.threshold_or(f, None)
            if t is None:
                warnings.append(_unreachable(band, f, name.strip("_") or "pooled", table))
    summary["warnings"] = warnings
    for line in warnings:
        print(f"mobileid: warning: {line}", file=sys.stderr)
    print(
        json.dumps(summary, indent=2)
        if args.json
        else "\n".join(f"{k}: {v}" for k, v in summary.items() if k != "warnings")
    )
    return 0
