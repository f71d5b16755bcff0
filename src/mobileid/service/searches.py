"""Use cases of a search, as every front end calls them: state the reason, search, answer.

Each takes the shared :class:`~mobileid.service.context.Context`, the per-request
:class:`~mobileid.service.caller.Caller` and the request's plain values, and returns a typed
result (its JSON answer is in :mod:`mobileid.service.answers`). The order is the same for
every front end: the reason is checked first (a missing or unknown purpose or case is refused
and audited), then role, token scope and entitlements, then the captures; exactly one audit
entry says what happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from mobileid.audit import Outcome
from mobileid.errors import InputError
from mobileid.records.query import RecordQuery
from mobileid.service.caller import Caller
from mobileid.service.context import Context
from mobileid.service.fingers import FingerIdentifyResult, identify_fingers
from mobileid.service.identify import (
    IdentifyResult,
    audit_search,
    identify_face,
    require_reason,
    search_details,
)
from mobileid.service.person import PersonIdentifyResult, identify_person
from mobileid.service.purpose import SearchReason
from mobileid.service.super_query import SuperQueryResult


@dataclass(frozen=True)
class Why:
    """Why a search is run, as the caller stated it (checked by the use case)."""

    purpose: str | None
    case_number: str | None
    location: str | None = None


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
    details = search_details("Q" + uuid.uuid4().hex[:15], reason, caller, modality)
    details.update(galleries=[], error=error.code, field=error.field)
    audit_search(ctx, caller, Outcome.REFUSED, details)
    raise error


def search_face(
    ctx: Context, caller: Caller, image: bytes, why: Why, where: Where = Where()
) -> IdentifyResult:
    """A face photo searched 1:N (``identify face``)."""
    reason = require_reason(ctx, caller, why.purpose, why.case_number, why.location)
    return identify_face(ctx, caller, image, reason=reason, galleries=where.names(), top=where.top)


def search_fingers(
    ctx: Context,
    caller: Caller,
    images: Sequence[bytes],
    why: Why,
    where: Where = Where(),
    options: FingerOptions = FingerOptions(),
) -> FingerIdentifyResult:
    """Fingerprints of one person searched 1:N, fused per subject (``identify finger``)."""
    reason = require_reason(
        ctx, caller, why.purpose, why.case_number, why.location, modality="finger"
    )
    return identify_fingers(
        ctx,
        caller,
        images,
        reason=reason,
        galleries=where.names(),
        top=where.top,
        contactless=options.contactless,
        ppi=options.ppi,
    )


def search_person(
    ctx: Context,
    caller: Caller,
    face: bytes,
    fingers: Sequence[bytes],
    why: Why,
    where: Where = Where(),
    options: FingerOptions = FingerOptions(),
) -> PersonIdentifyResult:
    """A face photo and fingerprints searched together, fused per subject."""
    reason = require_reason(
        ctx, caller, why.purpose, why.case_number, why.location, modality="face+finger"
    )
    return identify_person(
        ctx,
        caller,
        face,
        fingers,
        reason=reason,
        galleries=where.names(),
        top=where.top,
        contactless=options.contactless,
        ppi=options.ppi,
    )


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
    from mobileid.errors import InvalidArgument
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
