"""Use case: identify a person from one or more fingerprints (1:N, fused per subject).

Enrolment is in :mod:`mobileid.service.finger_enrol`. Searches are accountable exactly as face
searches are (:mod:`mobileid.service.identify`): the reason is checked first, every search
leaves one ``search`` audit entry (``ok``, or ``refused`` with the error's code), and the entry
holds counts and ids, never templates.

Searching the galleries with the probes, per-probe calibrations and their fusion per subject
(contact prints and phone photos) are in :mod:`mobileid.service.finger_search`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mobileid import NOTICE
from mobileid.audit import Outcome
from mobileid.errors import InvalidArgument
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.finger_search import (
    CalibrationUse,
    FingerCandidate,
    FingerProbes,
    calibration_use,
    fused_candidates,
    probe_calibrations,
    search_galleries,
)
from mobileid.service.fusion import FUSION_RULE
from mobileid.service.identify import (
    audit_search,
    audited_search_step,
    candidate_refs,
    new_search_id,
    permitted_galleries,
    search_details,
)
from mobileid.service.purpose import SearchReason
from mobileid.service.stages import MAX_PROBES, ProbePrint, finger_extraction
from mobileid.training import PracticeScore
from mobileid.types import Band


@dataclass(frozen=True)
class FingerIdentifyResult:
    search_id: str  # quote it when recording the disposition
    candidates: tuple[FingerCandidate, ...]  # best first
    pipeline_id: str  # of the probes
    galleries: tuple[str, ...]
    gallery_sizes: dict[str, int]  # templates searched per gallery
    probes: tuple[ProbePrint, ...]
    thresholds: dict[str, float | None]  # of the first calibration (contact prints)
    fmr_bounds: dict[str, float]
    expected_false: dict[str, float]  # templates × probes × bound, for someone not enrolled
    fmr_resolution: float  # the smallest rate any calibration used can show
    fusion_rule: str
    calibration: str
    reason: SearchReason
    contactless: bool = False
    calibrations: tuple[CalibrationUse, ...] = ()
    refused_fingertips: tuple[str, ...] = ()  # fingertips of photos that gave no template
    notice: str = NOTICE
    practice: PracticeScore | None = None  # a practice search's score (training range)


def identify_fingers(
    ctx: Context,
    caller: Caller,
    images: Sequence[bytes],
    *,
    reason: SearchReason,
    galleries: list[str] | None = None,
    top: int = 10,
    contactless: bool = False,
    ppi: float | None = None,
    search_id: str | None = None,
) -> FingerIdentifyResult:
    """Extract each probe print (every fingertip of each photo when ``contactless``), search
    1:N, fuse per subject; audited like a face search. For an operator, role, token scope and
    gallery entitlements are checked first."""
    search_id = search_id or new_search_id()
    base = search_details(search_id, reason, caller, "finger")
    with audited_search_step(
        ctx, caller, {**base, "galleries": galleries or [], "contactless": contactless}
    ):
        names = permitted_galleries(ctx, caller, galleries, reason, top)
        probes = finger_probes(ctx, images, contactless=contactless, ppi=ppi)
    with audited_search_step(ctx, caller, {**base, "galleries": names, "contactless": contactless}):
        result = search_prints(ctx, probes, names, top, reason, search_id)
    audit_search(ctx, caller, Outcome.OK, {**base, **finger_audit_details(result)})
    return result


def finger_probes(
    ctx: Context,
    images: Sequence[bytes],
    *,
    contactless: bool,
    ppi: float | None = None,
    field: str = "IMAGE",
) -> FingerProbes:
    """Templates of the probe images (``{field}[i]`` in errors) and the calibrations they need;
    raises ``InputError`` for an unusable image, ``PipelineMismatch`` without a calibration."""
    if not 1 <= len(images) <= MAX_PROBES:
        raise InvalidArgument(
            f"{field}: expected 1..{MAX_PROBES} prints, got {len(images)}", field=field
        )
    templates, prints, refused = finger_extraction(ctx, images, contactless, ppi, field)
    cals = probe_calibrations(ctx, ctx.finger_pipeline, contactless)
    if contactless:
        return FingerProbes(templates, prints, refused, cals, contactless)
    strata = [ctx.finger_calibration_for(t.quality) for t in templates]
    prints = [replace(p, calibration_stratum=s) for p, (s, _) in zip(prints, strata, strict=True)]
    return FingerProbes(templates, prints, refused, cals, contactless, [c for _, c in strata])


def search_prints(
    ctx: Context,
    probes: FingerProbes,
    names: list[str],
    top: int,
    reason: SearchReason,
    search_id: str,
) -> FingerIdentifyResult:
    """Search checked galleries with ready probes and fuse per subject (not audited here)."""
    cals = probes.calibrations
    pid = probes.templates[0].pipeline_id
    pipe = ctx.finger_pipeline
    best, sizes, used = search_galleries(ctx, pipe, names, probes, cals)
    floors = {gp: cal.resolution for gp, cal in cals}
    candidates = fused_candidates(ctx, best, len(probes.templates), pid, floors)
    bands = ctx.settings.bands
    bounds = {Band.STRONG.value: bands.strong_fmr, Band.POSSIBLE.value: bands.possible_fmr}
    uses = tuple(calibration_use(gp, cal, used[gp], bounds) for gp, cal in cals)
    n = len(probes.templates)
    return FingerIdentifyResult(
        search_id=search_id,
        candidates=tuple(candidates[:top]),
        pipeline_id=pid,
        galleries=tuple(names),
        gallery_sizes=sizes,
        probes=tuple(probes.prints),
        thresholds=uses[0].thresholds,
        fmr_bounds=bounds,
        expected_false={
            b: sum(u.templates * n * max(f, u.fmr_resolution) for u in uses)
            for b, f in bounds.items()
        },
        fmr_resolution=min(u.fmr_resolution for u in uses),
        fusion_rule=FUSION_RULE,
        calibration="; ".join(u.dataset for u in uses),
        reason=reason,
        contactless=probes.contactless,
        calibrations=uses,
        refused_fingertips=tuple(probes.refused),
    )


def finger_audit_details(result: FingerIdentifyResult) -> dict[str, Any]:
    """What an answered finger search adds to its audit entry (counts and ids only)."""
    counts = Counter(c.band.value for c in result.candidates)
    return {
        "galleries": result.gallery_sizes,
        "probes": len(result.probes),
        "probe_quality": [p.quality for p in result.probes],
        "calibration_strata": [p.calibration_stratum for p in result.probes],
        "contactless": result.contactless,
        "candidates": len(result.candidates),
        "bands": {b.value: counts.get(b.value, 0) for b in Band},
        "best_band": result.candidates[0].band.value if result.candidates else None,
        "candidate_ids": candidate_refs(result.candidates),
        "pipeline_id": result.pipeline_id,
        "calibrations": [u.matcher for u in result.calibrations],
        "thresholds": result.thresholds,
        "fmr_bounds": result.fmr_bounds,
        "fusion_rule": result.fusion_rule,
    }
