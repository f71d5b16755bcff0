"""Frozen values that leave the training package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PracticeScore:
    """How one practice search scored.

    ``target`` is the training subject the operator said was photographed (None: not stated,
    so the mate cannot be ranked and the search counts as a miss). ``mate_rank`` is the
    target's 1-based rank among the candidates, None when it was not returned.
    """

    search_id: str
    modality: str
    target: str | None
    quality_passed: bool
    problems: tuple[str, ...]  # the capture's advice, or the refusal's error code
    mate_rank: int | None
    target_name: str | None = None
    # what a good capture of the target looks like: its reference photo, where the range
    # keeps one (None otherwise)
    reference_photo_url: str | None = None

    @property
    def mate_first(self) -> bool:
        return self.mate_rank == 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_name": self.target_name,
            "quality_passed": self.quality_passed,
            "problems": list(self.problems),
            "mate_rank": self.mate_rank,
            "mate_first": self.mate_first,
            "modality": self.modality,
            "reference_photo_url": self.reference_photo_url,
            "good_capture": self.good_capture,
        }

    @property
    def good_capture(self) -> str:
        """What the answer can show of a good capture of the same person, in words."""
        if self.reference_photo_url is not None:
            if self.modality == "face":
                return "the reference photo shows a good capture of the same person"
            return "the reference photo shows a good face capture of the same person"
        if self.modality == "finger":
            return (
                "the range keeps no fingertip photos (fingerprint enrolment keeps templates "
                "only), so no good capture of this finger can be shown"
            )
        return "no reference photo of this subject is kept on the range"


@dataclass(frozen=True)
class TrainingFigures:
    """An operator's practice record, as certification judges it."""

    practice_searches: int
    quality_passed: int
    mate_first: int

    def __add__(self, other: TrainingFigures) -> TrainingFigures:
        return TrainingFigures(
            self.practice_searches + other.practice_searches,
            self.quality_passed + other.quality_passed,
            self.mate_first + other.mate_first,
        )

    @property
    def quality_rate(self) -> float:
        return self.quality_passed / self.practice_searches if self.practice_searches else 0.0

    @property
    def mate_first_rate(self) -> float:
        return self.mate_first / self.practice_searches if self.practice_searches else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "practice_searches": self.practice_searches,
            "quality_passed": self.quality_passed,
            "quality_rate": round(self.quality_rate, 4),
            "mate_first": self.mate_first,
            "mate_first_rate": round(self.mate_first_rate, 4),
        }


@dataclass(frozen=True)
class Certification:
    """One recorded certification; ``exempt_reason`` set when the criteria were waived."""

    username: str
    certified_by: str
    certified_at: datetime
    expires_at: datetime
    exempt_reason: str | None
    figures: TrainingFigures


@dataclass(frozen=True)
class CertificationState:
    """Where an operator stands: ``status`` is ``certified``, ``exempt`` (certified with the
    criteria waived), ``expired`` or ``none``; ``latest`` the most recent certification."""

    username: str
    status: str
    latest: Certification | None
    figures: TrainingFigures  # every practice search counts, whatever its modality
    by_modality: dict[str, TrainingFigures] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return self.status in ("certified", "exempt")

    def as_dict(self) -> dict[str, Any]:
        c = self.latest
        return {
            "status": self.status,
            "current": self.current,
            "certified_at": c.certified_at.isoformat(timespec="seconds") if c else None,
            "expires_at": c.expires_at.isoformat(timespec="seconds") if c else None,
            "certified_by": c.certified_by if c else None,
            "exempt_reason": c.exempt_reason if c else None,
            "training": {
                **self.figures.as_dict(),
                "by_modality": {m: f.as_dict() for m, f in self.by_modality.items()},
            },
        }
