"""The audit log and the oversight report, for auditors and supervisors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from mobileid.api.deps import CallerDep, RuntimeDep, described, problems
from mobileid.audit import describe
from mobileid.oversight import parse_day
from mobileid.oversight.page import html_page
from mobileid.service.audit_views import EntryFilter, audit_entries, oversight_report, verify_audit

router = APIRouter(tags=["oversight"])

# The report page has inline styles and no script at all. Reading, verifying and counting the
# whole log is CPU work that grows with the log: it runs in the bounded pool like a search.
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get(
    "/audit/entries",
    responses=problems(503),
    description=described(
        "A page of audit entries, oldest first, from sequence `start`, optionally of one "
        "`event` kind or one `operator`. The read is itself audited.",
        roles="auditor",
        scopes="read_audit",
        refuses="any other role or scope (403, audited); a bad page or event kind (400); a "
        "full work queue (503)",
    ),
)
async def entries(
    who: CallerDep,
    rt: RuntimeDep,
    start: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    event: Annotated[str | None, Query(max_length=32)] = None,
    operator: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    found = await rt.pool.run(
        audit_entries, rt.ctx, who, EntryFilter(start, limit, event, operator)
    )
    return {"entries": [describe(e) for e in found]}


@router.post(
    "/audit/verify",
    responses=problems(503),
    description=described(
        "Verify the whole hash chain and its signed checkpoints; names the first bad entry. "
        "The verification is audited.",
        roles="auditor",
        scopes="read_audit",
        refuses="any other role or scope (403, audited); a full work queue (503)",
    ),
)
async def verify(who: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return dict((await rt.pool.run(verify_audit, rt.ctx, who)).as_dict())


@router.get(
    "/reports/oversight",
    responses={
        200: {"content": {"application/json": {}, "text/html": {}}, "description": "the report"},
        **problems(503),
    },
    description=described(
        "The oversight report of a window of UTC days (`from`..`to`, both included), from the "
        "audit log alone: searches per day, operator, unit, purpose; authorities; galleries "
        "and sources reached; bands; dispositions, with the subjects most often judged not a "
        "match; denials; purges; chain status. JSON, or "
        "the HTML page with `format=html`. The read is audited.",
        roles="auditor, supervisor",
        scopes="run_report",
        refuses="any other role or scope (403, audited); bad or reversed dates (400); a full "
        "work queue (503)",
    ),
)
async def oversight(
    who: CallerDep,
    rt: RuntimeDep,
    date_from: Annotated[str, Query(alias="from", max_length=10, description="YYYY-MM-DD")],
    date_to: Annotated[str, Query(alias="to", max_length=10, description="YYYY-MM-DD")],
    format: Literal["json", "html"] = "json",
) -> Any:
    first, last = parse_day("from", date_from), parse_day("to", date_to)
    report = await rt.pool.run(oversight_report, rt.ctx, who, first, last)
    if format == "html":
        return HTMLResponse(html_page(report), headers={"Content-Security-Policy": _REPORT_CSP})
    return JSONResponse(report.as_dict())
