"""How CLI results look: a table for people, one JSON object for scripts."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mobileid.service.answers import (
    deleted_json,
    enrol_json,
    identify_json,
    subject_json,
    subjects_json,
)
from mobileid.service.enrol import EnrolReport
from mobileid.service.identify import IdentifyResult
from mobileid.types import Subject


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def identify_result(result: IdentifyResult, *, as_json: bool) -> None:
    if as_json:
        _print_json(identify_json(result))
        return
    sizes = ", ".join(f"{g} ({n} embeddings)" for g, n in result.gallery_sizes.items())
    r = result.reason
    kind = "TRAINING" if not r.live else "live"
    print(f"search {result.search_id} ({kind}): purpose {r.purpose!r} under {r.legal_authority!r}")
    print(f"case {r.case_number}; searched: {sizes}; faces in photo: {result.faces_seen}")
    print(f"{'rank':>4}  {'score':>6}  {'est. FMR':>9}  {'band':<8}  {'subject':<17}  name")
    for i, c in enumerate(result.candidates, 1):
        print(
            f"{i:>4}  {c.score:6.3f}  {c.fmr:9.1e}  {c.band.value:<8}  {c.subject_id:<17}  {c.name}"
        )
        for x in c.lookalikes:
            print(
                f"{'':>4}  resembles {x.name} ({x.subject_id}) as strongly, score {x.score:.3f}: "
                "rule them out before acting"
            )
    t = {
        b: f"{b} never (its FMR bound is finer than the calibration resolves)"
        if v is None
        else f"{b} from score {v:.3f}"
        for b, v in result.thresholds.items()
    }
    print(
        f"bands: {t['strong']}, {t['possible']}; "
        f"expected false candidates per search of someone not enrolled: "
        f"{result.expected_false['strong']:.2g} strong, {result.expected_false['possible']:.2g} "
        "possible or stronger"
    )
    print(f"pipeline: {result.pipeline_id}")
    print(result.notice)
    print(f"record the outcome: mobileid disposition {result.search_id} DISPOSITION")


def enrol_report(report: EnrolReport, *, as_json: bool) -> None:
    if as_json:
        _print_json(enrol_json(report))
        return
    print(
        f"gallery {report.gallery!r}: {report.subjects_enrolled} subjects enrolled or extended, "
        f"{report.images_added} images added, {report.images_skipped} already enrolled, "
        f"{len(report.failures)} images failed"
    )
    for f in report.failures[:20]:
        print(f"  failed: {f.path}: {f.message}")
    if len(report.failures) > 20:
        print(f"  ... and {len(report.failures) - 20} more (use --json for all)")
    if report.subjects_failed:
        print(f"  subjects with no usable image (not enrolled): {len(report.subjects_failed)}")
    if report.lookalikes:
        print(
            f"  subjects whose faces reach the strong band against each other, to review "
            f"({len(report.lookalikes)}): one person enrolled twice, or two people who will "
            "draw each other's searches; nothing was changed:"
        )
    for x in report.lookalikes:
        print(
            f"    {x.subject_id} {x.name}  ~  {x.other_subject_id} {x.other_name}  "
            f"score {x.score:.3f}"
        )
    print(f"pipeline: {report.pipeline_id}")


def subjects(items: list[Subject], *, as_json: bool) -> None:
    if as_json:
        _print_json(subjects_json(items))
        return
    for s in items:
        print(f"{s.subject_id}  {s.gallery:<12} {s.embeddings:>3} faces  {s.name}  ({s.source})")
    print(f"{len(items)} subjects")


def subject(item: Subject, *, as_json: bool) -> None:
    if as_json:
        _print_json(subject_json(item))
        return
    for k, v in asdict(item).items():
        print(f"{k:>12}: {v}")


def deleted(item: Subject, *, as_json: bool) -> None:
    if as_json:
        _print_json(deleted_json(item))
        return
    print(f"deleted {item.subject_id} ({item.name}) and its {item.embeddings} embeddings")
