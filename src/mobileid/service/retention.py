"""Use case: retention rules per gallery, and the purge job that enforces them.

A rule is the maximum age of a gallery's captures in hours. ``purge(ctx, now)`` deletes, per
gallery with a rule, every capture (face embedding, finger template, and the capture's
reference photo) stored before ``now - rule``, and every subject created before then that is
left with none, in one transaction with one ``purge``
audit entry: the deletion receipt (gallery, rule, cutoff, counts; never biometric data). A
gallery whose receipt cannot be written keeps everything. ``now`` is the caller's clock, so
tests (and a catch-up run) say what time it is.

Probe photos are never stored: identification embeds the photo in memory, searches, and
keeps only counts and ids in the audit log, so they need no purge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mobileid.audit import AuditEvent, EventType, Outcome
from mobileid.auth import Action
from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument
from mobileid.gallery.protocol import Purged
from mobileid.service.access import authorize
from mobileid.service.caller import Caller
from mobileid.service.context import Context

if TYPE_CHECKING:
    from mobileid.records import SourceRegistry
    from mobileid.records.registry import SourceEntry


@dataclass(frozen=True)
class RetentionChange:
    gallery: str
    old_hours: int | None
    new_hours: int | None


def rule_label(hours: int | None) -> str:
    """The rule as the oversight report groups it (``12h``, or ``none``)."""
    return "none" if hours is None else f"{hours}h"


def set_retention(ctx: Context, caller: Caller, gallery: str, hours: int | None) -> RetentionChange:
    """Set (or with None, remove) a gallery's rule, audited as ``retention_change`` in the
    same unit of work."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    training = gallery in ctx.gallery.galleries(training=True)
    log = ctx.audit  # opened before the unit: opening it inside would wait on its own lock
    with UnitOfWork(ctx.engine) as uow:
        old = ctx.gallery.set_retention(gallery, hours, uow=uow)
        details = {
            "gallery": gallery,
            "old_hours": old,
            "new_hours": hours,
            "rule": rule_label(hours),
            "training": training,
        }
        who = (caller.operator, caller.role)
        event = AuditEvent(EventType.RETENTION_CHANGE, *who, "retention", details=details)
        log.append(uow, event)
    return RetentionChange(gallery, old, hours)


def retention_rules(ctx: Context, caller: Caller | None = None) -> dict[str, int | None]:
    """Every gallery's rule, by name (None: no rule); shown to a ``caller`` who may manage
    galleries (None: the service itself, as the purge job reads them)."""
    if caller is not None:
        authorize(ctx, caller, Action.MANAGE_GALLERIES)
    return {g: ctx.gallery.retention(g) for g in ctx.gallery.galleries()}


def purge(ctx: Context, caller: Caller, now: datetime) -> list[Purged]:
    """Enforce every gallery's rule as of ``now`` (timezone-aware); one receipt per gallery
    with a rule, in the transaction that deletes. A failure stops the job at that gallery,
    leaving it (and those after it) untouched; galleries already purged stay purged."""
    authorize(ctx, caller, Action.MANAGE_GALLERIES)
    if now.tzinfo is None:
        raise InvalidArgument(
            f"now: expected a time with a UTC offset, got {now.isoformat()}", field="now"
        )
    now = now.astimezone(UTC)
    training = set(ctx.gallery.galleries(training=True))
    log = ctx.audit  # opened before the units: opening it inside would wait on its own lock
    receipts = []
    for gallery, hours in retention_rules(ctx).items():
        if hours is None:
            continue
        with UnitOfWork(ctx.engine) as uow:
            purged = ctx.gallery.purge_before(gallery, now - timedelta(hours=hours), uow=uow)
            receipt = _receipt(purged, hours, now, training=purged.gallery in training)
            who = (caller.operator, caller.role)
            log.append(uow, AuditEvent(EventType.PURGE, *who, "retention", details=receipt))
        receipts.append(purged)
    return receipts


def _receipt(purged: Purged, hours: int, now: datetime, *, training: bool) -> dict[str, Any]:
    """The deletion receipt of one gallery's purge (counts and times, never biometric data)."""
    return {
        "gallery": purged.gallery,
        "rule": rule_label(hours),
        "retention_hours": hours,
        "now": now.isoformat(timespec="seconds"),
        "cutoff": purged.cutoff.isoformat(timespec="seconds"),
        # captures (face embeddings and finger templates): what the rule is about
        "deleted": purged.embeddings_deleted + purged.templates_deleted,
        "embeddings_deleted": purged.embeddings_deleted,
        "templates_deleted": purged.templates_deleted,
        # reference photos: deleted with their captures, counted apart
        "photos_deleted": purged.photos_deleted,
        "subjects_deleted": purged.subjects_deleted,
        "training": training,
    }


def purge_sources(ctx: Context, caller: Caller, now: datetime) -> dict[str, int]:
    """Enforce each record source's ``retention_days`` as of ``now``: records imported before
    the cutoff are deleted, between two audit entries (see ``_purge_source``). Returns
    {source: deleted}."""
    authorize(ctx, caller, Action.MANAGE_SOURCES)
    from mobileid.records import SourceRegistry

    if now.tzinfo is None:
        raise InvalidArgument(
            f"now: expected a time with a UTC offset, got {now.isoformat()}", field="now"
        )
    registry = SourceRegistry(ctx.settings.data_dir / "records")
    done: dict[str, int] = {}
    for entry in registry.entries():
        if entry.retention_days is not None:
            done[entry.name] = _purge_source(ctx, caller, registry, entry, now.astimezone(UTC))
    return done


def _purge_source(
    ctx: Context, caller: Caller, registry: SourceRegistry, entry: SourceEntry, now: datetime
) -> int:
    """Purge one source. Its records live in another database than the log, and neither
    engine offers a two-phase commit here (SQLite has none; PostgreSQL's needs
    max_prepared_transactions, off by default), so the order gives the guarantee instead:

    1. ``purge_started`` (the intent: source, cutoff, a purge id, how many records match) is
       committed to the log before anything is deleted, so no deletion is ever unrecorded;
    2. the source deletes in one transaction of its own;
    3. the ``purge`` receipt (the same purge id, the count deleted) is committed; a deletion
       that failed gets a ``failed`` receipt with 0 deleted (its transaction rolled back).

    A crash or an unreachable log between 2 and 3 leaves an intent without a receipt, which
    the oversight report counts as unfinished; at most the intent's count was deleted."""
    cutoff = now - timedelta(days=entry.retention_days or 0)
    details = {
        "source": entry.name,
        "rule": f"{entry.retention_days}d",
        "retention_days": entry.retention_days,
        "now": now.isoformat(timespec="seconds"),
        "cutoff": cutoff.isoformat(timespec="seconds"),
        "training": entry.synthetic,
        "purge_id": uuid.uuid4().hex[:16],
    }
    who = (caller.operator, caller.role, "retention")
    source = registry.open(entry.name)
    try:
        doomed = source.count_imported_before(cutoff)
        ctx.audit.record(
            AuditEvent(EventType.PURGE_STARTED, *who, details={**details, "matching": doomed})
        )
        try:
            deleted = source.purge_imported_before(cutoff)
        except Exception as exc:
            failed = {**details, "deleted": 0, "error": type(exc).__name__}
            ctx.audit.record(AuditEvent(EventType.PURGE, *who, Outcome.FAILED, details=failed))
            raise
    finally:
        source.close()
    ctx.audit.record(AuditEvent(EventType.PURGE, *who, details={**details, "deleted": deleted}))
    return deleted
