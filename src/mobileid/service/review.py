"""Use cases of human review: a subject, its reference photos, the records linked to a
candidate, this operator's recent searches, and the quality of a preview frame.

Every view of a subject or its photos is an audit entry (``record_view``); a view needs
``view_record`` and the entitlement to the subject's gallery. Reference photos are not stored
yet: the photo use case answers "no reference photo" (NotFound) for every subject, so the
front ends can already offer the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mobileid.audit import AuditEntry, AuditEvent, EventType
from mobileid.auth import Action, Principal
from mobileid.auth.access import denial
from mobileid.capture.decode import decode_image
from mobileid.errors import InvalidArgument, NoFaceFound, NotFound
from mobileid.face.align import align_face
from mobileid.face.detect import detect_faces
from mobileid.face.quality import assess_quality
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.types import Subject

MAX_RECENT = 200
RECENT_WINDOW = 50_000  # audit entries looked back through for a list of searches
_PAGE = 1_000


@dataclass(frozen=True)
class CaptureAdvice:
    """Is this preview frame good enough to capture? ``advice`` says what to change."""

    ok: bool
    advice: tuple[str, ...]
    faces_seen: int


@dataclass(frozen=True)
class ReferencePhoto:
    subject_id: str
    n: int
    media_type: str
    data: bytes


def _record_view(ctx: Context, caller: Caller, subject: Subject, what: str) -> None:
    details = {"subject_id": subject.subject_id, "gallery": subject.gallery, "view": what}
    ctx.audit.record(
        AuditEvent(EventType.RECORD_VIEW, caller.operator, caller.role, "review", details=details)
    )


def view_subject(ctx: Context, caller: Caller, subject_id: str) -> Subject:
    """One enrolled subject, for a caller entitled to its gallery; the view is audited. The
    role is checked before the lookup, so a caller who may not view learns nothing."""
    authorize(ctx, caller, Action.VIEW_RECORD)
    subject = ctx.gallery.get(subject_id)
    authorize(ctx, caller, Action.VIEW_RECORD, galleries=[subject.gallery])
    _record_view(ctx, caller, subject, "subject")
    return subject


def reference_photo(ctx: Context, caller: Caller, subject_id: str, n: int) -> ReferencePhoto:
    """The ``n``-th reference photo of a subject (from 1), audited as a view. No gallery keeps
    reference photos yet, so this refuses with NotFound after the access check."""
    if n < 1:
        raise InvalidArgument(f"n: expected a photo number >= 1, got {n}", field="n")
    authorize(ctx, caller, Action.VIEW_RECORD)
    subject = ctx.gallery.get(subject_id)
    authorize(ctx, caller, Action.VIEW_RECORD, galleries=[subject.gallery])
    raise NotFound(
        f"photo: no reference photo {n} for subject {subject_id!r} (this gallery keeps none)",
        field="n",
    )


def photo_url(subject_id: str, n: int = 1) -> str | None:
    """Where a candidate's reference photo is served; None while no photos are kept."""
    return None


def may(principal: Principal | None, action: Action) -> bool:
    """Whether the role and token scope allow ``action`` (no entitlement check, no audit)."""
    return principal is None or denial(principal, action, None, None) is None


def recent_searches(
    ctx: Context, caller: Caller, *, mine: bool = True, limit: int = 50
) -> list[AuditEntry]:
    """The latest searches and super queries (newest first): the caller's own, or with
    ``mine=False`` everyone's, which needs ``review`` (a supervisor). The log is read
    backwards in pages, and only its last ``RECENT_WINDOW`` entries: "recent" is bounded, so
    a long log never makes this slow."""
    if not 1 <= limit <= MAX_RECENT:
        raise InvalidArgument(f"limit: expected 1..{MAX_RECENT}, got {limit}", field="limit")
    if not mine:
        authorize(ctx, caller, Action.REVIEW)
    kinds = {EventType.SEARCH.value, EventType.SUPER_QUERY.value}
    head = ctx.audit.head().sequence
    found: list[AuditEntry] = []
    end, floor = head, max(1, head - RECENT_WINDOW + 1)
    while end >= floor and len(found) < limit:
        start = max(floor, end - _PAGE + 1)
        page = ctx.audit.read(start, end - start + 1)
        found += [
            e
            for e in reversed(page)
            if e.event in kinds and (not mine or e.operator == caller.operator)
        ]
        end = start - 1
    return found[:limit]


def search_summary(entry: AuditEntry) -> dict[str, Any]:
    """What a list of searches shows: when, what, why and how it ended (no candidates)."""
    d = entry.details
    keys = ("search_id", "modality", "purpose", "case_number", "location", "best_band", "error")
    return {
        "sequence": entry.sequence,
        "time": entry.time,
        "operator": entry.operator,
        "outcome": entry.outcome,
        "training": d.get("training"),
        **{k: d.get(k) for k in keys},
    }


def capture_quality(ctx: Context, caller: Caller, image: bytes) -> CaptureAdvice:
    """Would this (low-resolution) preview frame make a usable face capture? Needs a role that
    may search; nothing is stored or audited (a phone sends up to two frames a second)."""
    if not may(caller.principal, Action.SEARCH_LIVE):
        authorize(ctx, caller, Action.SEARCH_TRAINING)
    decoded = decode_image(image, ctx.settings.limits, field="image")
    pipe = ctx.pipeline
    try:
        found = detect_faces(decoded, pipe.models, pipe.params)
    except NoFaceFound:
        return CaptureAdvice(False, ("no face found: face the camera and move closer",), 0)
    aligned = align_face(decoded, found.chosen, pipe.models, pipe.params)
    quality = assess_quality(aligned, pipe.params)
    return CaptureAdvice(quality.acceptable, tuple(quality.problems), found.faces_seen)
