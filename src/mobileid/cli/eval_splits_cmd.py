"""``mobileid eval faces identify --splits K``: the identity-disjoint splits and the options
that measure other scorings, tables, enrolments and galleries on them (``--cohort-norm``,
``--gallery-strata``, ``--templates``, ``--distractors``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_split_options(identify: Any, calibrate: Any) -> None:
    """Identity-disjoint splits for ``identify``; the bootstrap for both."""
    from mobileid.eval.bootstrap import RESAMPLES

    identify.add_argument(
        "--splits",
        type=int,
        default=0,
        metavar="K",
        help="also run K identity-disjoint splits: calibrate on half of the identities, search "
        "for the others; band FPIR observed vs predicted with 95%% upper bounds (default 0)",
    )
    identify.add_argument("--seed", type=int, default=1, help="seed of the splits (default 1)")
    identify.add_argument(
        "--cohort-norm",
        metavar="K,A,B",
        help="with --splits: score s - A*m(probe) - B*m(gallery), m = mean of a face's K best "
        "scores against a cohort of each split's development people with one image (the "
        "others calibrate); the shipped scoring is 10,0.5,0",
    )
    identify.add_argument(
        "--cohort-source",
        choices=("real", "blend", "gaussian"),
        default="real",
        help="the cohort's faces: the development faces, blends of two development people, "
        "or draws from a normal fitted on them (default real)",
    )
    identify.add_argument(
        "--distractors",
        choices=("singletons",),
        help="with --splits: also search each tested half with its one-image people enrolled "
        "(a larger gallery, the same mated searches); its non-mated searches are those people, "
        "each against the gallery less their own image (JSON singletons_enrolled)",
    )
    identify.add_argument(
        "--gallery-strata",
        type=float,
        metavar="Q",
        help="with --splits: also read each candidate with a table of its gallery stratum, the "
        "share Q of development faces with the highest cohort term (hubs) apart from the "
        "others, beside the shipped scoring's one table (the --cohort-norm scoring, or the "
        "shipped one)",
    )
    identify.add_argument(
        "--templates",
        type=int,
        metavar="N",
        help="with --splits: also enrol up to N images per gallery subject and compare the "
        "subject's best image (one comparison per image) with one averaged template (the unit "
        "mean of its vectors), both read with the split's single-image table, the template "
        "also with a table of template scores (the --cohort-norm scoring, or the shipped one)",
    )
    for p in (identify, calibrate):
        p.add_argument(
            "--tail",
            metavar="gpd[:TOP,FEW]",
            help="also bound the far tail of each calibration by a generalised Pareto fit (top "
            "TOP of the impostor scores, by probability-weighted moments, over the same "
            "resamples of people): above the score FEW impostor comparisons reach, the table "
            "keeps the larger of it and the bootstrap bound (gpd: 0.05,20; default none)",
        )
    for p, default in ((identify, 100), (calibrate, RESAMPLES)):
        p.add_argument(
            "--resamples",
            type=int,
            default=default,
            metavar="B",
            help="identity-bootstrap resamples of each calibration; the table keeps the 95%% "
            f"upper bound (default {default}; 0: the in-sample curve)",
        )


def tail_option(args: argparse.Namespace) -> Any:
    """The ``--tail`` model (None without it)."""
    from mobileid.eval.tail import TailModel

    return TailModel.parse(args.tail) if args.tail else None


def check_split_options(args: argparse.Namespace) -> Any:
    """The split preparation ``--cohort-norm`` asks for (None without it), after checking
    ``--gallery-strata`` and ``--tail``: all refused before any image is read."""
    from mobileid.eval.cohort_eval import option_prepare

    tail_option(args)
    prepare = option_prepare(args.cohort_norm, args.cohort_source, args.splits)
    _check_gallery_strata(args)
    _check_templates(args)
    _needs_splits(args, "distractors", "the distractors are each tested half's one-image people")
    return prepare


def _check_templates(args: argparse.Namespace) -> None:
    from mobileid.eval.templates import check_per_subject

    why = "the cohort and the table come from each split's development people"
    if _needs_splits(args, "templates", why):
        check_per_subject(args.templates)


def _check_gallery_strata(args: argparse.Namespace) -> None:
    from mobileid.eval.gallery_strata import check_share

    why = "the hub cut and the tables come from each split's development people"
    if _needs_splits(args, "gallery_strata", why):
        check_share(args.gallery_strata)


def _needs_splits(args: argparse.Namespace, name: str, why: str) -> bool:
    """Whether option ``name`` was given; it only has a meaning with --splits K."""
    from mobileid.errors import InvalidArgument

    if getattr(args, name) is None:
        return False
    if not args.splits:
        raise InvalidArgument(
            f"{name}: expected --splits K as well ({why}), got no --splits", field=name
        )
    return True


def _gallery_strata(args: argparse.Namespace, data: Any, bands: tuple[float, float]) -> dict:
    from mobileid.eval.gallery_strata import split_gallery_strata

    return split_gallery_strata(
        data,
        bands,
        splits=args.splits,
        seed=args.seed,
        share=args.gallery_strata,
        norm=_cohort_norm(args),
        resamples=args.resamples or None,
        tail=tail_option(args),
    )


def split_metrics(
    args: argparse.Namespace, data: Any, bands: tuple[float, float], prepare: Any
) -> dict[str, Any]:
    """The ``identity_disjoint`` part of ``eval faces identify``'s answer."""
    from mobileid.eval.face_strata import split_strata
    from mobileid.eval.splits import split_report

    tail = tail_option(args)
    out: dict[str, Any] = split_report(
        data,
        bands,
        args.splits,
        args.seed,
        args.resamples or None,
        prepare,
        tail,
        distractors=args.distractors == "singletons",
    )
    out["quality_strata"] = split_strata(
        data,
        bands,
        splits=args.splits,
        seed=args.seed,
        resamples=args.resamples or None,
        prepare=prepare,
        tail=tail,
    )
    if prepare is not None:
        out["scoring"] = _cohort_norm(args).label
        out["cohort_source"] = args.cohort_source
    if args.gallery_strata is not None:
        out["gallery_strata"] = _gallery_strata(args, data, bands)
    if args.templates is not None:
        out["templates"] = _templates(args, data, bands)
    return out


def _templates(args: argparse.Namespace, data: Any, bands: tuple[float, float]) -> dict:
    from mobileid.eval.templates import split_templates

    return split_templates(
        data,
        bands,
        splits=args.splits,
        seed=args.seed,
        per_subject=args.templates,
        norm=_cohort_norm(args),
        source=args.cohort_source,
        resamples=args.resamples or None,
        tail=tail_option(args),
    )


def _cohort_norm(args: argparse.Namespace) -> Any:
    """The scoring ``--cohort-norm`` names, else the shipped one."""
    from mobileid.face.cohort import SHIPPED, CohortNorm

    return CohortNorm.parse(args.cohort_norm) if args.cohort_norm else SHIPPED
