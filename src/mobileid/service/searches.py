"""Use cases of a search, as every front end calls them: state the reason, search, answer.

Each takes the shared :class:`~mobileid.service.context.Context`, the per-request
:class:`~mobileid.service.caller.Caller` and the request's plain values, and returns a typed
result (its JSON answer is in :mod:`mobileid.service.answers`). The order is the same for
every front end: the reason is checked first (a missing or unknown purpose or case is refused
and audited), then role, token scope and entitlements, then the captures; exactly one audit
entry says what happened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn, TypeVar

from mobileid.audit import Outcome
from mobileid.errors import InputError, InvalidArgument
from mobileid.records.query import RecordQuery
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.fingers import FingerIdentifyResult, identify_fingers
from mobileid.service.identify import (
    IdentifyResult,
    audit_search,
    audited_search_step,
    check_galleries,
    identify_face,
    new_search_id,
    require_reason,
    search_details,
)
from mobileid.service.person import PersonIdentifyResult, identify_person
from mobileid.service.purpose import SearchReason
from mobileid.service.super_query import SuperQueryResult
from mobileid.service.training import practice_target, score_practice
from mobileid.types import Subject


@dataclass(frozen=True)
class Why:
    """Why a search is run, as the caller stated it (checked by the use case)."""

    purpose: str | None
    case_number: str | None
    location: str | None = None
    # a practice search: the training subject photographed (subject id or name), so that the
    # range can say where the mate ranked
    target: str | None = None


@dataclass(frozen=True)
class Where:
    """Which galleries to search and how many candidates to return."""

    galleries: tuple[str, ...] = ()  # empty: the default gallery
    top: int = 10

    def names(self) -> list[str] | None:
        return list(self.galleries) or None


@dataclass(frozen=True)
class FingerOptions:
    contactless: bool = False
    ppi: float | None = None


@dataclass(frozen=True)
class QueryAnswer:
    search_id: str
    reason: SearchReason
    result: SuperQueryResult


def refuse_capture(
    ctx: Context, caller: Caller, why: Why, modality: str, error: InputError
) -> NoReturn:
    """A capture that could not even be read (not a regular file, too large...): the search
    is refused and audited like one whose photo could not be decoded, then ``error`` raised."""
    reason = require_reason(
        ctx, caller, why.purpose, why.case_number, why.location, modality=modality
    )
    details = search_details(new_search_id(), reason, caller, modality)
    details.update(galleries=[], error=error.code, field=error.field)
    audit_search(ctx, caller, Outcome.REFUSED, details)
    raise error


def search_face(
    ctx: Context, caller: Caller, image: bytes, why: Why, where: Where = Where()
) -> IdentifyResult:
    """A face photo searched 1:N (``identify face``). A practice search (non-live purpose) is
    scored and kept in the operator's training record."""
    return _search(
        ctx, caller, why, where, "face", functools.partial(identify_face, ctx, caller, image)
    )


@dataclass(frozen=True)
class Practice:
    """What scoring a search on the training range needs (nothing, for a live search)."""

    reason: SearchReason
    target: Subject | None
    modality: str
    search_id: str


R = TypeVar("R", IdentifyResult, FingerIdentifyResult, PersonIdentifyResult)


def _problems(
    result: IdentifyResult | FingerIdentifyResult | PersonIdentifyResult,
) -> tuple[str, ...]:
    """What the capture's quality gates found: the face's advice, the fingertips refused."""
    if isinstance(result, IdentifyResult):
        return tuple(result.quality.problems)
    if isinstance(result, FingerIdentifyResult):
        return result.refused_fingertips
    return _problems(result.face) + _problems(result.fingers)


def _search(
    ctx: Context, caller: Caller, why: Why, where: Where, modality: str, search: Callable[..., R]
) -> R:
    """Check the reason and the practice target, then run ``search`` (an ``identify_*`` with
    its captures bound) under a new search id, scored on the training range."""
    reason = require_reason(
        ctx, caller, why.purpose, why.case_number, why.location, modality=modality
    )
    target = _target(ctx, caller, reason, why, where, modality)
    search_id = new_search_id()
    run = functools.partial(
        search, reason=reason, galleries=where.names(), top=where.top, search_id=search_id
    )
    return _scored(ctx, caller, Practice(reason, target, modality, search_id), run)


def _scored(ctx: Context, caller: Caller, p: Practice, run: Callable[[], R]) -> R:
    """Run a search; on the training range, score it (a refused capture too) and keep the
    score in the operator's record."""
    try:
        result = run()
    except InputError as exc:
        if not p.reason.live and not isinstance(exc, InvalidArgument):
            score_practice(
                ctx, caller, p.search_id, p.target, modality=p.modality, refused=exc.code
            )
        raise
    if p.reason.live:
        return result
    score = score_practice(
        ctx, caller, p.search_id, p.target, modality=p.modality,
        ranked=[c.subject_id for c in result.candidates], problems=_problems(result),
    )  # fmt: skip
    return replace(result, practice=score)


def _target(
    ctx: Context, caller: Caller, reason: SearchReason, why: Why, where: Where, modality: str
) -> Subject | None:
    """The practice target, checked before the search; a refusal is audited like any other."""
    details = {"modality": modality, "purpose": reason.purpose, "training": not reason.live}
    with audited_search_step(ctx, caller, details):
        names = where.names()
        if why.target is not None and not reason.live:
            # where the search will look (a phone names no gallery: the entitled training ones)
            p = caller.principal
            names = check_galleries(ctx, names, reason, frozenset(p.galleries) if p else None)
        return practice_target(ctx, reason, why.target, names, modality)


def search_fingers(
    ctx: Context,
    caller: Caller,
    images: Sequence[bytes],
    why: Why,
    where: Where = Where(),
    options: FingerOptions = FingerOptions(),
) -> FingerIdentifyResult:
    """Fingerprints of one person searched 1:N, fused per subject (``identify finger``). A
    practice search is scored like a face one."""
    search = functools.partial(
        identify_fingers, ctx, caller, images, contactless=options.contactless, ppi=options.ppi
    )
    return _search(ctx, caller, why, where, "finger", search)


def search_person(
    ctx: Context,
    caller: Caller,
    face: bytes,
    fingers: Sequence[bytes],
    why: Why,
    where: Where = Where(),
    options: FingerOptions = FingerOptions(),
) -> PersonIdentifyResult:
    """A face photo and fingerprints searched together, fused per subject. A practice search
    is scored like a face one (its quality gates: the face's and every fingertip's)."""
    search = functools.partial(
        identify_person, ctx, caller, face, fingers, contactless=options.contactless,
        ppi=options.ppi,
    )  # fmt: skip
    return _search(ctx, caller, why, where, "face+finger", search)


def run_super_query(
    ctx: Context,
    caller: Caller,
    query: RecordQuery,
    why: Why,
    sources: Sequence[str] | None = None,
    *,
    timeout_s: float = 2.0,
    limit: int = 50,
) -> QueryAnswer:
    """The super query (``mobileid query``) over the sources the caller may reach; ``sources``
    narrows it (None: every registered source)."""
    from mobileid.records.registry import SourceRegistry
    from mobileid.service.records_search import audited_super_query

    if not 0 < timeout_s <= 60:
        raise InvalidArgument(f"timeout: expected 0..60 s, got {timeout_s}", field="timeout")
    if not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit: expected 1..1000, got {limit}", field="limit")
    reason = require_reason(
        ctx, caller, why.purpose, why.case_number, why.location, modality="records"
    )
    registry = SourceRegistry(ctx.settings.data_dir / "records", timeout_s=timeout_s)
    opened = registry.open_all()
    entries = {e.name: e for e in registry.entries()}
    wanted = list(sources) if sources is not None else list(opened)
    try:
        search_id, result = audited_super_query(
            ctx, caller, reason, query, opened, entries, wanted, timeout_s=timeout_s, limit=limit
        )
    finally:
        for source in opened.values():
            source.close()
    return QueryAnswer(search_id, reason, result)
