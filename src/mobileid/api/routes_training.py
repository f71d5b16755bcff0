"""``POST /operators/{username}/certification``: a supervisor certifies an operator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mobileid.api.deps import CallerDep, RuntimeDep, described, problems
from mobileid.service.training import certify_operator
from mobileid.training import CertificationState

router = APIRouter(tags=["training"])


class CertifyRequest(BaseModel):
    exempt: str | None = Field(
        default=None,
        max_length=500,
        description="certify despite a training record short of the criteria; the reason is "
        "audited as an exemption",
    )


class Figures(BaseModel):
    practice_searches: int
    quality_passed: int
    quality_rate: float
    mate_first: int
    mate_first_rate: float


class TrainingRecord(Figures):
    """Every practice search counts toward certification, whatever its modality."""

    by_modality: dict[str, Figures] = Field(
        default_factory=dict,
        description="the same figures per modality (face, finger, face+finger)",
    )


class CertificationPublic(BaseModel):
    status: str = Field(description="certified, exempt, expired or none")
    current: bool = Field(description="whether live searches are allowed by it")
    certified_at: str | None
    expires_at: str | None
    certified_by: str | None
    exempt_reason: str | None
    training: TrainingRecord


def certification_public(state: CertificationState) -> CertificationPublic:
    body: dict[str, Any] = state.as_dict()
    return CertificationPublic(**body)


@router.post(
    "/operators/{username}/certification",
    response_model=CertificationPublic,
    responses=problems(404, 409),
    description=described(
        "Certify an operator whose training record meets the configured criteria (practice "
        "searches, share of captures passing the quality gates, share with the mate ranked "
        "first); the certification expires after the configured days. Audited.",
        roles="supervisor",
        scopes="certify_operators",
        refuses="a record short of the criteria without `exempt` (409 with the figures, "
        "audited); another role or scope, or certifying oneself (403, audited); an unknown "
        "operator (404); an operator who does not search (400)",
    ),
)
def certify(
    username: str, body: CertifyRequest, who: CallerDep, rt: RuntimeDep
) -> CertificationPublic:
    return certification_public(certify_operator(rt.ctx, who, username, body.exempt))
