"""Use case: identify a person from one face photo (1:N) in one or more galleries.

Every search states its purpose, legal authority and case number (checked before anything
else) and leaves exactly one audit entry: ``search`` with outcome ``ok``, ``refused`` with
the error's code (and the field it names) when the request or the photo cannot be used, or
``failed`` when a worker, a backend server or an unforeseen error stopped it
(``audited_search_step``). No answer is returned unless its audit entry
was written. The entry holds counts and ids, never images or embeddings.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from mobileid import NOTICE
from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth import AccessDenied, Action
from mobileid.errors import (
    BackendUnavailable,
    InputError,
    InvalidArgument,
    MobileIdError,
    NotFound,
    WorkerLost,
)
from mobileid.scoring import Calibration, band_for
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.config_audit import audit_config_changes
from mobileid.service.context import Context
from mobileid.service.purpose import SearchReason
from mobileid.service.stages import face_embedding
from mobileid.training import PracticeScore
from mobileid.types import Band, Candidate, FaceEmbedding, Quality, Vector

MAX_TOP = 100


@dataclass(frozen=True)
class IdentifyResult:
    search_id: str  # quote it when recording the disposition
    candidates: tuple[Candidate, ...]  # best first
    pipeline_id: str
    galleries: tuple[str, ...]
    gallery_sizes: dict[str, int]
    # band name -> the score at which it starts; None: no score can reach it (the band's FMR
    # bound is below what the calibration table resolves)
    thresholds: dict[str, float | None]
    fmr_bounds: dict[str, float]  # band name -> its false-match-rate bound per comparison
    # gallery size × FMR bound: how many false candidates a search of a person who is not
    # enrolled is expected to return in each band
    expected_false: dict[str, float]
    faces_seen: int
    face_rule: str
    quality: Quality
    calibration: str
    reason: SearchReason
    # the probe capture's quality stratum whose table gave the FMRs ("all": one pooled table)
    calibration_stratum: str = "all"
    scoring: str = "plain"  # how the scores were made (mobileid.face.cohort.FaceScoring.label)
    notice: str = NOTICE
    practice: PracticeScore | None = None  # a practice search's score (training range)


def require_reason(
    ctx: Context,
    caller: Caller,
    purpose: str | None,
    case_number: str | None,
    location: str | None = None,
    *,
    modality: str = "face",
) -> SearchReason:
    """Check the stated reason before any search; a refusal is audited, then raised.
    Any change to the purposes or band bounds since the last search is audited first."""
    audit_config_changes(ctx, caller)
    try:
        return ctx.purposes.reason(purpose, case_number, location)
    except InputError as exc:
        details = {
            "modality": modality,
            "purpose": purpose,
            "case_number": case_number,
            "error": exc.code,
            "field": exc.field,
        }
        audit_search(ctx, caller, Outcome.REFUSED, details)
        raise


def check_galleries(
    ctx: Context,
    galleries: list[str] | None,
    reason: SearchReason,
    entitled: frozenset[str] | None = None,
) -> list[str]:
    """The galleries to search: they must exist and be of the kind the purpose may reach.

    None named: the default gallery where it is of that kind, else every gallery of that kind
    the caller is entitled to (``entitled``; None: the console, entitled to all), so that a
    training-range search from the phone needs no gallery name."""
    allowed = set(ctx.gallery.galleries(training=not reason.live))
    names = galleries or [ctx.settings.default_gallery]
    if not galleries and ctx.settings.default_gallery not in allowed:
        names = sorted(allowed if entitled is None else allowed & entitled) or names
    wrong = [g for g in names if g not in allowed]
    if wrong:
        kind = "live" if reason.live else "training"
        raise NotFound(
            f"gallery: expected {kind} galleries ({sorted(allowed) or 'none exist'}) for "
            f"purpose {reason.purpose!r}, got {wrong}",
            field="gallery",
        )
    return names


def permitted_galleries(
    ctx: Context,
    caller: Caller,
    galleries: list[str] | None,
    reason: SearchReason,
    top: int,
) -> list[str]:
    """What every gallery search checks before it looks at a capture: ``top`` in range, the
    galleries (:func:`check_galleries`) and, for an operator, its role, token scope and
    gallery entitlements. Returns the gallery names to search."""
    if not 1 <= top <= MAX_TOP:
        raise InvalidArgument(f"top: expected 1..{MAX_TOP}, got {top}", field="top")
    principal = caller.principal
    entitled = frozenset(principal.galleries) if principal is not None else None
    names = check_galleries(ctx, galleries, reason, entitled)
    action = Action.SEARCH_LIVE if reason.live else Action.SEARCH_TRAINING
    authorize(ctx, caller, action, galleries=names)
    return names


def identify_face(
    ctx: Context,
    caller: Caller,
    image_bytes: bytes,
    *,
    reason: SearchReason,
    galleries: list[str] | None = None,
    top: int = 10,
    search_id: str | None = None,
) -> IdentifyResult:
    """Decode, embed and search; candidates carry a calibrated FMR and a band, and a strong
    one the other subjects it resembles as strongly (``lookalikes``). For an operator, role,
    token scope and gallery entitlements are checked first (a refusal raises AccessDenied
    and is audited)."""
    search_id = search_id or new_search_id()
    base = search_details(search_id, reason, caller, "face")
    with audited_search_step(ctx, caller, {**base, "galleries": galleries or []}):
        names = permitted_galleries(ctx, caller, galleries, reason, top)
        embedding = face_embedding(ctx, image_bytes)
    from mobileid.service.lookalikes import with_lookalikes  # it reads searches as this does

    with audited_search_step(ctx, caller, {**base, "galleries": names}):
        result = search_embedding(ctx, embedding, names, top, reason, search_id)
        result = with_lookalikes(ctx, result)
    bands = Counter(c.band.value for c in result.candidates)
    audit_search(
        ctx,
        caller,
        Outcome.OK,
        {
            **base,
            "galleries": result.gallery_sizes,
            "candidates": len(result.candidates),
            "bands": {b.value: bands.get(b.value, 0) for b in Band},
            "best_band": result.candidates[0].band.value if result.candidates else None,
            "candidate_ids": candidate_refs(result.candidates),
            "lookalike_ids": lookalike_refs(result.candidates),
            "faces_seen": result.faces_seen,
            "pipeline_id": result.pipeline_id,
            "thresholds": result.thresholds,
            "calibration_stratum": result.calibration_stratum,
            "scoring": result.scoring,
            "fmr_bounds": result.fmr_bounds,
        },
    )
    return result


class _Ranked(Protocol):
    @property
    def subject_id(self) -> str: ...

    @property
    def gallery(self) -> str: ...


def candidate_refs(candidates: Sequence[_Ranked]) -> list[dict[str, str]]:
    """Which subjects (and galleries) a search returned, best first: ids only, so that a
    disposition can be checked against the candidates it concerns."""
    return [{"subject_id": c.subject_id, "gallery": c.gallery} for c in candidates]


def lookalike_refs(candidates: Sequence[Candidate]) -> list[dict[str, str]]:
    """The subjects shown beside strong candidates as their look-alikes, with whose."""
    return [
        {"subject_id": r.subject_id, "of": c.subject_id} for c in candidates for r in c.lookalikes
    ]


def outcome_of(exc: Exception) -> Outcome:
    """A search that could not be answered: refused (the request was unusable or not allowed,
    or the deployment cannot read its scores) or failed (allowed and attempted, but a worker
    process or a backend server did not answer, or an unforeseen error stopped it)."""
    unforeseen = not isinstance(exc, MobileIdError)
    failed = unforeseen or isinstance(exc, (WorkerLost, BackendUnavailable))
    return Outcome.FAILED if failed else Outcome.REFUSED


@contextmanager
def audited_search_step(ctx: Context, caller: Caller, details: dict[str, Any]) -> Iterator[None]:
    """Run one step of a search (its checks and captures, then its gallery search). Should it
    raise, the search's one audit entry (``details``, the error's code and the field it names)
    is written before the error goes on, so no search attempt is left out of the log. A refused
    access is the exception: ``authorize`` wrote its entry already, with the reason."""
    try:
        yield
    except AccessDenied:
        raise
    except Exception as exc:
        audit_search(ctx, caller, outcome_of(exc), {**details, **error_details(exc)})
        raise


def error_details(exc: Exception) -> dict[str, Any]:
    """What a search's audit entry says about the error that ended it."""
    if not isinstance(exc, MobileIdError):
        return {"error": "internal_error"}
    return {"error": exc.code, **({"field": exc.field} if exc.field is not None else {})}


def new_search_id() -> str:
    return "Q" + uuid.uuid4().hex[:15]


def search_details(
    search_id: str, reason: SearchReason, caller: Caller, modality: str
) -> dict[str, Any]:
    """What every search's audit entry says about why it ran and who ran it."""
    return {
        "search_id": search_id,
        "modality": modality,
        "purpose": reason.purpose,
        "legal_authority": reason.legal_authority,
        "case_number": reason.case_number,
        "location": reason.location,
        "unit": caller.unit,
        "training": not reason.live,
    }


def audit_search(ctx: Context, caller: Caller, outcome: Outcome, details: dict[str, Any]) -> None:
    """The one audit entry of a search (answered or refused), naming its caller; a live
    search by an operator also says where their certification stood."""
    if caller.principal is not None and details.get("training") is False:
        from mobileid.service.training import certification_state

        details = {**details, "certification": certification_state(ctx, caller.operator).status}
    ctx.audit.record(
        AuditEvent(EventType.SEARCH, caller.operator, caller.role, "identify", outcome, details)
    )


def probe_reading(
    ctx: Context, vector: Vector, quality: Quality | None
) -> tuple[str, Calibration, float]:
    """How a face probe's raw cosine scores are read: its quality stratum and the table of that
    stratum (the pooled table when its quality was not measured), and the offset every raw
    score loses. The offset is the probe's own cohort term: it shifts every score of one search
    alike (no ranking changes); the gallery side is not normalised (face.cohort.SHIPPED)."""
    stratum, cal = (
        ctx.face_calibration_for(quality) if quality is not None else ("all", ctx.calibration)
    )
    return stratum, cal, float(ctx.face_scoring.offsets(vector)[0][0])


def search_embedding(
    ctx: Context,
    embedding: FaceEmbedding,
    galleries: list[str],
    top: int,
    reason: SearchReason,
    search_id: str,
) -> IdentifyResult:
    stratum, cal, offset = probe_reading(ctx, embedding.vector, embedding.quality)
    bands = ctx.settings.bands
    pid = embedding.pipeline_id
    candidates: list[Candidate] = []
    sizes = {}
    for gallery in galleries:
        hits = ctx.gallery.search(gallery, embedding.vector, pid, top)
        sizes[gallery] = ctx.gallery.count(gallery, pid)
        subjects = ctx.gallery.get_many([h.subject_id for h in hits])
        for hit in hits:
            subject = subjects.get(hit.subject_id)
            if subject is None:  # deleted between the search and this lookup
                continue
            score = hit.score - offset
            fmr = cal.fmr(score)
            candidates.append(
                Candidate(
                    subject_id=hit.subject_id,
                    name=subject.name,
                    gallery=gallery,
                    score=round(score, 6),
                    fmr=fmr,
                    band=band_for(fmr, bands.strong_fmr, bands.possible_fmr),
                    pipeline_id=pid,
                    source=subject.source,
                )
            )
    candidates.sort(key=lambda c: -c.score)
    n = sum(sizes.values())
    bounds = {Band.STRONG.value: bands.strong_fmr, Band.POSSIBLE.value: bands.possible_fmr}
    return IdentifyResult(
        search_id=search_id,
        candidates=tuple(candidates[:top]),
        pipeline_id=pid,
        galleries=tuple(galleries),
        gallery_sizes=sizes,
        thresholds={b: cal.threshold_or(f, None) for b, f in bounds.items()},
        fmr_bounds=bounds,
        expected_false={b: n * f for b, f in bounds.items()},
        faces_seen=embedding.faces_seen,
        face_rule="largest, then most central",
        quality=embedding.quality,
        calibration=cal.dataset,
        reason=reason,
        calibration_stratum=stratum,
        scoring=ctx.face_scoring.label,
    )
