"""Use cases of record-source administration: registering a source and importing records,
each needing ``manage_sources`` and leaving a ``source_change`` audit entry.

A record source is its own database, so its change and the audit entry cannot commit in one
transaction: the entry is written right after the change (an import that is rejected whole is
recorded as refused, with its error count). The entry never holds the source's URL (it may
carry a database password) nor any record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth import Action
from mobileid.records.errors import ImportRejected
from mobileid.records.importer import ImportReport, import_records
from mobileid.records.registry import SourceEntry, SourceRegistry
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context


def _registry(ctx: Context) -> SourceRegistry:
    return SourceRegistry(ctx.settings.data_dir / "records")


def _record(ctx: Context, caller: Caller, outcome: Outcome, details: dict[str, Any]) -> None:
    event = AuditEvent(
        EventType.SOURCE_CHANGE, caller.operator, caller.role, "records", outcome, details
    )
    ctx.audit.record(event)


def register_source(ctx: Context, caller: Caller, entry: SourceEntry) -> SourceEntry:
    """Add or replace a source entry (the data is kept), audited with what it now says."""
    authorize(ctx, caller, Action.MANAGE_SOURCES)
    registry = _registry(ctx)
    existed = any(e.name == entry.name for e in registry.entries())
    registry.register(entry)
    details = {k: v for k, v in entry.to_json().items() if k != "url"}
    details["change"] = "updated" if existed else "registered"
    details["external_database"] = bool(entry.url)
    _record(ctx, caller, Outcome.OK, details)
    return entry


def import_into(
    ctx: Context, caller: Caller, name: str, file: Path, *, phone_region: str = "US"
) -> ImportReport:
    """Import a CSV or JSON file into a registered source, all or nothing; audited either
    way (the counts imported, or that the file was refused and how many rows were wrong)."""
    authorize(ctx, caller, Action.MANAGE_SOURCES)
    registry = _registry(ctx)
    entry = registry.get(name)
    base = {"change": "import", "source": entry.name, "file": file.name}
    with registry.open_entry(entry) as source:
        try:
            report = import_records(
                source, file, allowed_types=entry.record_types, phone_region=phone_region
            )
        except ImportRejected as exc:
            _record(ctx, caller, Outcome.REFUSED, {**base, "errors": len(exc.errors)})
            raise
    details = {**base, "records": report.records, "links": report.links}
    _record(ctx, caller, Outcome.OK, {**details, "synthetic": report.synthetic})
    return report
