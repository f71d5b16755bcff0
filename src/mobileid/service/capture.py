"""Use case: is this preview frame good enough to capture? Faces and fingers.

A phone sends up to two preview frames a second while the person frames the shot; nothing is
stored or audited. A face frame runs the face pipeline's quality gates
(:func:`~mobileid.service.review.capture_quality`); a finger frame runs the fingertip
photo's image gates, or a contact print's, without minutiae extraction
(:mod:`mobileid.finger.preview` says what is left to the capture and why).
"""

from __future__ import annotations

from dataclasses import dataclass

from mobileid.auth import Action
from mobileid.capture.decode import decode_image
from mobileid.errors import InvalidArgument
from mobileid.finger.load import load_fingerprint
from mobileid.finger.preview import TipCheck, preview_fingertips, preview_print
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.review import CaptureAdvice, capture_quality, may

__all__ = ["MODALITIES", "FingerAdvice", "finger_quality", "preview_quality"]

MODALITIES = ("face", "finger")


@dataclass(frozen=True)
class FingerAdvice:
    """A finger preview's verdict: ``advice`` says what to change; ``problems`` are the same
    as stable codes; ``tips`` judge each fingertip found (none for a contact print)."""

    ok: bool
    advice: tuple[str, ...]
    problems: tuple[str, ...]
    faces_seen: int
    tips: tuple[TipCheck, ...]
    contactless: bool

    @property
    def fingertips_seen(self) -> int:
        return len(self.tips)


def finger_quality(
    ctx: Context, caller: Caller, image: bytes, *, contactless: bool = True
) -> FingerAdvice:
    """Would this preview frame make a usable finger capture? ``contactless``: a camera frame
    of fingertips (the phone's); otherwise a contact print (a scanner's). Needs a role that
    may search; nothing is stored or audited."""
    _may_search(ctx, caller)
    if contactless:
        decoded = decode_image(image, ctx.settings.limits, field="image")
        found = preview_fingertips(decoded)
    else:
        found = preview_print(load_fingerprint(image, limits=ctx.settings.limits, field="image"))
    return FingerAdvice(
        found.ok, found.advice, found.problems, found.faces_seen, found.tips, contactless
    )


def preview_quality(
    ctx: Context, caller: Caller, image: bytes, *, modality: str = "face", contactless: bool = True
) -> CaptureAdvice | FingerAdvice:
    """The preview check of ``modality`` (``face`` or ``finger``)."""
    if modality == "face":
        return capture_quality(ctx, caller, image)
    if modality == "finger":
        return finger_quality(ctx, caller, image, contactless=contactless)
    raise InvalidArgument(
        f"modality: expected one of {', '.join(MODALITIES)}, got {modality!r}", field="modality"
    )


def _may_search(ctx: Context, caller: Caller) -> None:
    if not may(caller.principal, Action.SEARCH_LIVE):
        authorize(ctx, caller, Action.SEARCH_TRAINING)
