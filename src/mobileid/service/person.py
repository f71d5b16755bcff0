"""Use case: identify a person from a face photo and fingerprints together (1:N, fused).

Both captures are checked before anything is searched; one search then leaves one audit entry
(modality ``face+finger``), as a single-modality search does. Each modality is searched as on
its own (:func:`~mobileid.service.identify.search_embedding`,
:func:`~mobileid.service.fingers.search_prints`) for its ``FUSION_SHORTLIST`` best
candidates, and the two lists are joined per subject and fused with the rule of
:mod:`mobileid.service.fusion`: a subject found by both gets both pieces of evidence; a subject
found by one (it may have no face, or no prints, enrolled) keeps that piece alone, neither
helped nor hurt. A result is a list of leads for human review, never a verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mobileid import NOTICE
from mobileid.audit import Outcome
from mobileid.config import BandParams
from mobileid.scoring import band_for
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.finger_search import FingerCandidate
from mobileid.service.fingers import (
    FingerIdentifyResult,
    finger_audit_details,
    finger_probes,
    search_prints,
)
from mobileid.service.fusion import FUSION_RULE, fuse_fmrs
from mobileid.service.identify import (
    IdentifyResult,
    audit_search,
    audited_search_step,
    candidate_refs,
    lookalike_refs,
    new_search_id,
    permitted_galleries,
    search_details,
    search_embedding,
)
from mobileid.service.lookalikes import with_lookalikes
from mobileid.service.purpose import SearchReason
from mobileid.service.stages import face_embedding
from mobileid.training import PracticeScore
from mobileid.types import Band, Candidate

__all__ = ["FusedCandidate", "PersonIdentifyResult", "fuse_modalities", "identify_person"]

FUSION_SHORTLIST = 50  # candidates taken from each modality before they are joined


@dataclass(frozen=True)
class FusedCandidate:
    """One subject's face and finger evidence together (a lead for human review)."""

    subject_id: str
    name: str
    gallery: str
    fmr: float  # fused, see mobileid.service.fusion
    band: Band
    evidence: float  # Σ -log10 FMR over the pieces
    face_fmr: float | None  # None: the face search did not return this subject
    finger_fmr: float | None  # None: the finger search did not return this subject
    source: str = ""


@dataclass(frozen=True)
class PersonIdentifyResult:
    search_id: str  # quote it when recording the disposition
    candidates: tuple[FusedCandidate, ...]  # best (lowest fused FMR) first
    galleries: tuple[str, ...]
    face: IdentifyResult  # the face search on its own (its FUSION_SHORTLIST best)
    fingers: FingerIdentifyResult  # the finger search on its own
    fmr_bounds: dict[str, float]
    fmr_resolution: float  # the finest rate the calibrations involved can show
    fusion_rule: str
    reason: SearchReason
    notice: str = NOTICE
    practice: PracticeScore | None = None  # a practice search's score (training range)


def fuse_modalities(
    face: Sequence[Candidate],
    fingers: Sequence[FingerCandidate],
    *,
    floor: float,
    bands: BandParams,
) -> list[FusedCandidate]:
    """Join face and finger candidates by subject id and fuse their FMRs with
    :func:`~mobileid.service.fusion.fuse_fmrs` (module doc). ``floor`` is the finest
    resolution of the two calibrations. Best (lowest fused FMR) first."""
    by_id: dict[str, tuple[Candidate | None, FingerCandidate | None]] = {}
    for c in face:
        if c.subject_id not in by_id:  # best first: keep a subject's best face candidate
            by_id[c.subject_id] = (c, None)
    for f in fingers:
        by_id[f.subject_id] = (by_id.get(f.subject_id, (None, None))[0], f)
    out = []
    for sid, (fc, gc) in by_id.items():
        first = fc or gc
        assert first is not None  # every entry came from one of the two lists
        rates = [c.fmr for c in (fc, gc) if c is not None]
        fmr, evidence = fuse_fmrs(rates, floor)
        band = band_for(fmr, bands.strong_fmr, bands.possible_fmr)
        out.append(
            FusedCandidate(
                sid, first.name, first.gallery, fmr, band, round(evidence, 4),
                fc.fmr if fc else None, gc.fmr if gc else None, first.source,
            )
        )  # fmt: skip
    return sorted(out, key=lambda c: (c.fmr, -c.evidence))


def identify_person(
    ctx: Context,
    caller: Caller,
    face_image: bytes,
    finger_images: Sequence[bytes],
    *,
    reason: SearchReason,
    galleries: list[str] | None = None,
    top: int = 10,
    contactless: bool = False,
    ppi: float | None = None,
    search_id: str | None = None,
) -> PersonIdentifyResult:
    """Embed the face, extract the prints, search both, fuse per subject; one audit entry.
    An unusable capture of either kind refuses the whole search (audited), before any search."""
    search_id = search_id or new_search_id()
    base = search_details(search_id, reason, caller, "face+finger")
    with audited_search_step(
        ctx, caller, {**base, "galleries": galleries or [], "contactless": contactless}
    ):
        names = permitted_galleries(ctx, caller, galleries, reason, top)
        embedding = face_embedding(ctx, face_image, field="FACE")
        probes = finger_probes(ctx, finger_images, contactless=contactless, ppi=ppi, field="FINGER")
    step = {**base, "galleries": names, "contactless": contactless}
    with audited_search_step(ctx, caller, step):
        face = search_embedding(ctx, embedding, names, FUSION_SHORTLIST, reason, search_id)
        face = with_lookalikes(ctx, face)
        fingers = search_prints(ctx, probes, names, FUSION_SHORTLIST, reason, search_id)
        # the face's FMRs come from its quality stratum's table, whose resolution may be finer
        _, face_table = ctx.face_calibration_for(embedding.quality)
    floor = min(face_table.resolution, fingers.fmr_resolution)
    bands = ctx.settings.bands
    fused = fuse_modalities(face.candidates, fingers.candidates, floor=floor, bands=bands)
    result = PersonIdentifyResult(
        search_id=search_id,
        candidates=tuple(fused[:top]),
        galleries=tuple(names),
        face=face,
        fingers=fingers,
        fmr_bounds=fingers.fmr_bounds,
        fmr_resolution=floor,
        fusion_rule=FUSION_RULE,
        reason=reason,
    )
    counts = Counter(c.band.value for c in result.candidates)
    finger_details = finger_audit_details(fingers)
    audit_search(
        ctx,
        caller,
        Outcome.OK,
        {
            **base,
            "galleries": {"face": face.gallery_sizes, "finger": fingers.gallery_sizes},
            "probes": finger_details["probes"],
            "contactless": contactless,
            "candidates": len(result.candidates),
            "bands": {b.value: counts.get(b.value, 0) for b in Band},
            "best_band": result.candidates[0].band.value if result.candidates else None,
            "candidate_ids": candidate_refs(result.candidates),
            "lookalike_ids": lookalike_refs(face.candidates),
            "pipeline_id": {"face": face.pipeline_id, "finger": fingers.pipeline_id},
            "calibrations": [ctx.calibration.matcher, *finger_details["calibrations"]],
            "thresholds": {"face": face.thresholds, "finger": fingers.thresholds},
            "fmr_bounds": result.fmr_bounds,
            "fusion_rule": FUSION_RULE,
        },
    )
    return result
