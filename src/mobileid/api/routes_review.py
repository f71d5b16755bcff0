"""Dispositions, this operator's searches, the super query, subjects and their photos."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mobileid.api.deps import CallerDep, Runtime, RuntimeDep, described, problems
from mobileid.records.query import make_query
from mobileid.service.answers import query_json, subject_json
from mobileid.service.caller import Caller
from mobileid.service.disposition import Disposition, record_disposition
from mobileid.service.review import (
    recent_searches,
    reference_photo,
    search_summary,
    subject_photo_urls,
    view_subject,
)
from mobileid.service.searches import Why, run_super_query

router = APIRouter(tags=["review"])

SubjectId = Annotated[str, Path(max_length=64, description="as in a candidate")]


class DispositionIn(BaseModel):
    disposition: Disposition
    subject_id: str | None = Field(default=None, max_length=64)


@router.post(
    "/searches/{search_id}/disposition",
    responses=problems(404, 503),
    description=described(
        "Record what a person concluded, by other means, about a search's candidates "
        "(audited against the search). `subject_id` must be one of the search's candidates, or a "
        "subject shown beside a strong candidate among its `lookalikes` (the answer's "
        "`lookalike_of` then names that candidate). "
        "A later disposition of the same search supersedes the earlier one: the answer's "
        "`supersedes` names the earlier entry (kept in the log), and the latest is `current`.",
        roles="officer",
        scopes="record_disposition, and an entitlement to the candidate's gallery",
        refuses="an unknown search (404), a search that was refused or a subject that was not "
        "one of its candidates or their look-alikes (400), a role, scope or gallery "
        "entitlement that does not allow it (403, audited), a full work queue (503)",
    ),
)
async def disposition(
    who: CallerDep,
    rt: RuntimeDep,
    search_id: Annotated[str, Path(max_length=64)],
    body: DispositionIn,
) -> dict[str, Any]:
    # In the bounded pool like the searches: audit writers then take turns within SQLite's
    # busy timeout; dozens of them at once (one per request thread) would outwait it
    return await rt.pool.run(_disposition, rt, who, search_id, body)


def _disposition(rt: Runtime, who: Caller, search_id: str, body: DispositionIn) -> dict[str, Any]:
    done = record_disposition(rt.ctx, who, search_id, body.disposition.value, body.subject_id)
    return done.as_json()


@router.get(
    "/searches",
    responses=problems(),
    description=described(
        "Recent searches and super queries, newest first: this operator's own (`mine=true`), "
        "or everyone's (`mine=false`, supervisors).",
        roles="any operator for mine=true; supervisor for mine=false",
        scopes="none for mine=true; review for mine=false",
        refuses="everyone's searches without the review permission (403, audited)",
    ),
)
def searches(
    who: CallerDep,
    rt: RuntimeDep,
    mine: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    found = recent_searches(rt.ctx, who, mine=mine, limit=limit)
    return {"searches": [search_summary(e) for e in found]}


class QueryIn(BaseModel):
    purpose: str | None = Field(default=None, max_length=64)
    case: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=200)
    name: str = Field(default="", max_length=256)
    dob: str = Field(default="", max_length=32)
    subject_id: str = Field(default="", max_length=256)
    record_id: str = Field(default="", max_length=256)
    plate: str = Field(default="", max_length=256)
    vin: str = Field(default="", max_length=256)
    tail: str = Field(default="", max_length=256)
    hull: str = Field(default="", max_length=256)
    address: str = Field(default="", max_length=256)
    phone: str = Field(default="", max_length=256)
    serial: str = Field(default="", max_length=256)
    sources: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=50)
    region: str = Field(default="US", min_length=2, max_length=2)
    timeout: float = Field(default=2.0, gt=0, le=60)
    limit: int = Field(default=50, ge=1, le=1000)


def _query(rt: Runtime, who: Caller, q: QueryIn) -> dict[str, Any]:
    query = make_query(
        name=q.name, dob=q.dob, subject_id=q.subject_id, record_id=q.record_id,
        plate=q.plate, vin=q.vin, tail_number=q.tail, hull_id=q.hull, address=q.address,
        phone=q.phone, serial=q.serial, phone_region=q.region,
    )  # fmt: skip
    why = Why(q.purpose, q.case, q.location)
    answer = run_super_query(rt.ctx, who, query, why, q.sources, timeout_s=q.timeout, limit=q.limit)
    return query_json(answer.search_id, answer.result)


@router.post(
    "/queries",
    responses=problems(502, 503),
    description=described(
        "The super query: the same fields as `mobileid query`, sent at once to every record "
        "source the caller may use; records, links and each source's status (answered, "
        "not_entitled, timed_out, failed). One audit entry.",
        roles="officer (live or training purposes), trainee (training purpose only)",
        scopes="search_live and view_record for a live purpose, search_training for the "
        "training purpose",
        refuses="no query key (400), a missing or unknown purpose or case (400, audited), a "
        "role or scope that does not allow it (403, audited)",
    ),
)
async def queries(body: QueryIn, who: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return await rt.pool.run(_query, rt, who, body)


@router.get(
    "/subjects/{subject_id}",
    responses=problems(404),
    description=described(
        "One enrolled subject (name, gallery, source, capture counts, the URLs of its reference "
        "photos). Every view is an audit "
        "entry (record_view).",
        roles="officer, supervisor",
        scopes="view_record, and an entitlement to the subject's gallery",
        refuses="a role, scope or gallery entitlement that does not allow it (403, audited); "
        "an unknown subject (404)",
    ),
)
def subject(subject_id: SubjectId, who: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    found = view_subject(rt.ctx, who, subject_id)
    return {**subject_json(found), "photos": subject_photo_urls(rt.ctx, subject_id)}


@router.get(
    "/subjects/{subject_id}/photos/{n}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the photo (Cache-Control: no-store)"},
        **problems(404),
    },
    description=described(
        "The n-th reference photo of a subject (from 1): the JPEG kept at enrolment (long "
        "side at most 480 px), sent with Cache-Control: no-store; every view is a record_view "
        "audit entry. A subject enrolled before photos were kept has none: the answer is then "
        "404 'no reference photo'.",
        roles="officer, supervisor",
        scopes="view_record, and an entitlement to the subject's gallery",
        refuses="a role, scope or gallery entitlement that does not allow it (403, audited); "
        "an unknown subject or photo (404)",
    ),
)
def photo(
    who: CallerDep,
    rt: RuntimeDep,
    subject_id: SubjectId,
    n: Annotated[int, Path(ge=1, le=1000)],
) -> Response:
    found = reference_photo(rt.ctx, who, subject_id, n)
    return Response(found.data, media_type=found.media_type, headers={"Cache-Control": "no-store"})
