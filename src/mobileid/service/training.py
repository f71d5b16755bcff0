"""Use cases of the training range: score a practice search, certify an operator, and the
certification every live search needs.

A practice search is a search with a non-live purpose (``training``) on training galleries.
The operator states which training subject was photographed (``target``); the answer then
says whether the capture passed the quality gates, where that subject ranked, and what a good
capture of the same person looks like (the reference photo, where the range keeps one). Every
operator's practice searches are kept (``TrainingStore``), and a supervisor certifies an
operator whose record meets ``Settings.certification``; a lapsed or missing certification
refuses live searches. The console of a deployment without operators is never asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth import AccessDenied, Action, Role
from mobileid.errors import CertificationRefused, InvalidArgument, NotFound
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.purpose import SearchReason
from mobileid.service.review import photo_urls
from mobileid.training import (
    Certification,
    CertificationState,
    PracticeScore,
    TrainingFigures,
)
from mobileid.types import Subject

CERTIFIABLE = (Role.OFFICER, Role.SUPERVISOR, Role.TRAINEE)  # roles that search, or will
MAX_EXEMPT_REASON = 500


def _now() -> datetime:
    return datetime.now(UTC)


def certification_state(
    ctx: Context, username: str, now: datetime | None = None
) -> CertificationState:
    """Where ``username`` stands: certified, exempt, expired or none, with their figures."""
    store = ctx.training
    latest = store.latest_certification(username)
    when = now or _now()
    if latest is None:
        status = "none"
    elif latest.expires_at <= when:
        status = "expired"
    else:
        status = "exempt" if latest.exempt_reason else "certified"
    split = store.figures_by_modality(username)
    total = sum(split.values(), TrainingFigures(0, 0, 0))
    return CertificationState(username, status, latest, total, split)


def require_certified(ctx: Context, caller: Caller) -> CertificationState | None:
    """Before a live search: the operator's certification must be current. A refusal is
    audited (``access_denied`` with the reason) and raised as AccessDenied naming what is
    missing. The console (no operators) is not asked."""
    if caller.principal is None:
        return None
    state = certification_state(ctx, caller.operator)
    if state.current:
        return state
    if state.latest is None:
        missing = "holds no certification"
    else:
        missing = f"certification expired on {state.latest.expires_at.date().isoformat()}"
    reason = f"{missing}: a supervisor certifies with `mobileid operators certify`"
    details = {"action": Action.SEARCH_LIVE.value, "reason": "not certified", "detail": missing,
               "certification": state.status}  # fmt: skip
    ctx.audit.record(
        AuditEvent(
            EventType.ACCESS_DENIED, caller.operator, caller.role, "training", Outcome.DENIED,
            details,
        )
    )  # fmt: skip
    raise AccessDenied(
        f"certification: operator {caller.operator!r} may not search live data: {reason}",
        operator=caller.operator,
        action=Action.SEARCH_LIVE.value,
        reason=reason,
    )


def practice_target(
    ctx: Context,
    reason: SearchReason,
    target: str | None,
    galleries: list[str] | None,
    modality: str = "face",
) -> Subject | None:
    """The training subject a practice search says was photographed (by subject id or name),
    in the galleries searched; None when not stated. A live search may not state one. A
    finger search's target must have enrolled fingerprints, or its mate could never rank."""
    if target is None:
        return None
    if reason.live:
        raise InvalidArgument(
            f"target: expected none for the live purpose {reason.purpose!r} (only a practice "
            f"search states whom it photographed), got {target!r}",
            field="target",
        )
    names = galleries or [ctx.settings.default_gallery]
    found = next(
        (s for g in names for s in ctx.gallery.subjects(g) if target in (s.subject_id, s.name)),
        None,
    )
    if found is None:
        raise NotFound(
            f"target: expected a subject of training gallery {names}, got {target!r}",
            field="target",
        )
    if modality == "finger" and not ctx.fingers.positions(found.subject_id):
        raise InvalidArgument(
            f"target: expected a training subject with enrolled fingerprints, got {target!r} "
            "(enrolled by face only)",
            field="target",
        )
    return found


def score_practice(
    ctx: Context,
    caller: Caller,
    search_id: str,
    target: Subject | None,
    *,
    modality: str = "face",
    ranked: Sequence[str] = (),
    problems: tuple[str, ...] = (),
    refused: str | None = None,
) -> PracticeScore:
    """Score one practice search and keep it in the operator's record (the console has none).
    ``ranked``: the candidates' subject ids, best first; ``problems``: what the capture's
    quality gates found (face advice, fingertips refused); ``refused``: the error code of a
    capture the pipeline would not use: it failed the gates and ranked nobody."""
    rank = None
    if target is not None and refused is None:
        ids = list(ranked)
        rank = ids.index(target.subject_id) + 1 if target.subject_id in ids else None
    photo = None
    if target is not None and modality != "finger":  # the range keeps face photos only
        photo = photo_urls(ctx, [target.subject_id])[target.subject_id]
    score = PracticeScore(
        search_id=search_id,
        modality=modality,
        target=target.subject_id if target else None,
        quality_passed=refused is None and not problems,
        problems=(refused,) if refused else problems,
        mate_rank=rank,
        target_name=target.name if target else None,
        reference_photo_url=photo,
    )
    if caller.principal is not None:
        ctx.training.add_practice(caller.operator, score, _now())
    return score


def _shortfalls(ctx: Context, state: CertificationState) -> list[str]:
    c, f = ctx.settings.certification, state.figures
    wanted = [
        (f.practice_searches >= c.min_practice_searches,
         f"{f.practice_searches} practice searches (needs {c.min_practice_searches})"),
        (f.quality_rate >= c.min_quality_rate,
         f"{f.quality_rate:.0%} of captures passed the quality gates (needs "
         f"{c.min_quality_rate:.0%})"),
        (f.mate_first_rate >= c.min_mate_first_rate,
         f"mate ranked first in {f.mate_first_rate:.0%} (needs {c.min_mate_first_rate:.0%})"),
    ]  # fmt: skip
    return [text for ok, text in wanted if not ok]


def _check_exempt(exempt: str | None) -> str | None:
    if exempt is None:
        return None
    text = exempt.strip()
    if not 3 <= len(text) <= MAX_EXEMPT_REASON:
        raise InvalidArgument(
            f"exempt: expected a reason of 3-{MAX_EXEMPT_REASON} characters, got {len(text)}",
            field="exempt",
        )
    return text


def certify_operator(
    ctx: Context, caller: Caller, username: str, exempt: str | None = None
) -> CertificationState:
    """A supervisor (or the console) certifies ``username``: refused with the figures when
    the training record falls short of the criteria, unless an exemption reason is given.
    Every outcome is one ``certification`` audit entry."""
    authorize(ctx, caller, Action.CERTIFY_OPERATORS)
    reason = _check_exempt(exempt)
    info = ctx.auth.operator(username)
    if info.role not in CERTIFIABLE:
        raise InvalidArgument(
            f"username: expected an operator who searches ({', '.join(CERTIFIABLE)}), got "
            f"{username!r} ({info.role_name})",
            field="username",
        )
    if caller.operator == username:
        _refuse_self(ctx, caller)
    state = certification_state(ctx, username)
    short = _shortfalls(ctx, state)
    details = _details(ctx, username, state, short, reason)
    if short and reason is None:
        _audit(ctx, caller, Outcome.REFUSED, details)
        raise CertificationRefused(
            f"username: {username!r} does not meet the certification criteria: "
            + "; ".join(short) + " (or certify with --exempt REASON, which is audited)",
            figures=state.figures.as_dict(),
        )  # fmt: skip
    now = _now()
    cert = Certification(
        username, caller.operator, now,
        now + timedelta(days=ctx.settings.certification.valid_days),
        reason if short else None, state.figures,
    )  # fmt: skip
    ctx.training.add_certification(cert)
    _audit(ctx, caller, Outcome.OK, {**details, "expires_at": cert.expires_at.isoformat()})
    return certification_state(ctx, username)


def _refuse_self(ctx: Context, caller: Caller) -> NoReturn:
    """Nobody certifies themself: refused, and audited like any access refusal."""
    action = Action.CERTIFY_OPERATORS.value
    details = {"action": action, "reason": "may not certify themself"}
    ctx.audit.record(
        AuditEvent(EventType.ACCESS_DENIED, caller.operator, caller.role, "training",
                   Outcome.DENIED, details)
    )  # fmt: skip
    raise AccessDenied(
        f"username: operator {caller.operator!r} may not certify themself",
        operator=caller.operator, action=action, reason=details["reason"],
    )  # fmt: skip


def _details(
    ctx: Context,
    username: str,
    state: CertificationState,
    short: list[str],
    exempt: str | None,
) -> dict[str, Any]:
    c = ctx.settings.certification
    return {
        "username": username,
        "figures": state.figures.as_dict(),
        "criteria": {
            "min_practice_searches": c.min_practice_searches,
            "min_quality_rate": c.min_quality_rate,
            "min_mate_first_rate": c.min_mate_first_rate,
            "valid_days": c.valid_days,
        },
        "shortfalls": short,
        "exempt": bool(short and exempt),
        "exempt_reason": exempt if short else None,
    }


def _audit(ctx: Context, caller: Caller, outcome: Outcome, details: dict[str, Any]) -> None:
    ctx.audit.record(
        AuditEvent(EventType.CERTIFICATION, caller.operator, caller.role, "training", outcome,
                   details)
    )  # fmt: skip
