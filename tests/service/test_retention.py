"""Retention rules and the purge job, driven by an injected clock, with audited receipts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mobileid.audit import EventType
from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.oversight.activity import retention_figures
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.retention import purge, retention_rules, set_retention

# the records tests' PostgreSQL fixtures (a real server, one database per session)

CONSOLE = console_caller()

PID = "test-pipeline/1"
T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def ctx(tmp_path):
    """Two subjects in a 12-hour gallery (enrolled at t0 and t0+10h), one in a rule-less one."""
    ctx = open_context(replace(Settings(), data_dir=tmp_path / "data"))
    g = ctx.gallery
    g.clock = lambda: T0
    g.enrol("custody", "a", "Early", "t", [("h1", vec(1))], PID)
    g.enrol("keep", "k", "Kept", "t", [("h3", vec(3))], PID)
    g.clock = lambda: T0 + timedelta(hours=10)
    g.enrol("custody", "b", "Late", "t", [("h2", vec(2))], PID)
    set_retention(ctx, CONSOLE, "custody", 12)
    return ctx


def entries(ctx, event):
    return [e for e in ctx.audit.read() if e.event == event]


def test_purge_deletes_exactly_the_expired_subject_and_writes_a_receipt(ctx):
    """At t0+13h a 12-hour rule deletes the t0 subject only; its receipt is in the log."""
    (receipt,) = purge(ctx, CONSOLE, T0 + timedelta(hours=13))
    assert (receipt.gallery, receipt.subjects_deleted, receipt.embeddings_deleted) == (
        "custody",
        1,
        1,
    )
    assert [s.name for s in ctx.gallery.subjects("custody")] == ["Late"]
    assert [s.name for s in ctx.gallery.subjects("keep")] == ["Kept"]
    (entry,) = entries(ctx, EventType.PURGE)
    assert entry.outcome == "ok" and entry.component == "retention"
    assert dict(entry.details) == {
        "gallery": "custody",
        "rule": "12h",
        "retention_hours": 12,
        "now": "2026-03-04T21:00:00+00:00",
        "cutoff": "2026-03-04T09:00:00+00:00",
        "deleted": 1,
        "embeddings_deleted": 1,
        "templates_deleted": 0,
        "photos_deleted": 0,
        "subjects_deleted": 1,
        "training": False,
    }
    assert ctx.audit.verify().ok
    figures = retention_figures(ctx.audit.read())
    assert figures["by_target"] == [
        {"kind": "gallery", "name": "custody", "rule": "12h", "purges": 1, "deleted": 1}
    ]


def test_a_purge_whose_receipt_fails_deletes_nothing(ctx, monkeypatch):
    """When the audit append raises, the gallery keeps every subject and no receipt exists."""

    def refuse(session, event):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(ctx.audit, "append", refuse)
    with pytest.raises(RuntimeError):
        purge(ctx, CONSOLE, T0 + timedelta(hours=30))
    monkeypatch.undo()
    assert sorted(s.name for s in ctx.gallery.subjects("custody")) == ["Early", "Late"]
    assert entries(ctx, EventType.PURGE) == []


def test_nothing_expired_still_leaves_a_receipt_and_keeps_data(ctx):
    """Before any capture expires the job deletes nothing and records that it ran."""
    (receipt,) = purge(ctx, CONSOLE, T0 + timedelta(hours=11))
    assert (receipt.subjects_deleted, receipt.embeddings_deleted) == (0, 0)
    assert len(ctx.gallery.subjects("custody")) == 2
    assert entries(ctx, EventType.PURGE)[0].details["deleted"] == 0


def test_rule_changes_are_audited_and_a_naive_clock_is_refused(ctx):
    """set_retention records old and new rule; purge refuses a time without a UTC offset."""
    change = set_retention(ctx, CONSOLE, "custody", None)
    assert (change.old_hours, change.new_hours) == (12, None)
    assert retention_rules(ctx) == {"custody": None, "keep": None}
    changes = [dict(e.details) for e in entries(ctx, EventType.RETENTION_CHANGE)]
    assert [(c["old_hours"], c["new_hours"], c["rule"]) for c in changes] == [
        (None, 12, "12h"),
        (12, None, "none"),
    ]
    assert purge(ctx, CONSOLE, T0 + timedelta(days=30)) == []
    with pytest.raises(InvalidArgument, match="now: expected a time with a UTC offset"):
        purge(ctx, CONSOLE, datetime(2026, 3, 5))


def test_receipts_hold_no_biometric_data(ctx):
    """The receipt's details are flat counts, names and times: nothing vector-like."""
    purge(ctx, CONSOLE, T0 + timedelta(hours=13))
    (entry,) = entries(ctx, EventType.PURGE)
    assert all(isinstance(v, str | int | bool) for v in entry.details.values())
    assert len(json.dumps(dict(entry.details))) < 400


def test_finger_templates_follow_the_gallery_rule(ctx):
    """An expired finger capture is purged with its receipt; a subject with prints left is kept."""
    from mobileid.gallery.fingers import FingerCapture
    from tests.conftest import shared_path

    template = ctx.finger_pipeline.enrol_file(
        shared_path("fingerprints", "FVC2002", "DB1_B", "102_1.tif")
    )
    fingers = ctx.fingers
    fingers.clock = lambda: T0
    fingers.enrol("custody", "p", "Printed", "t", [FingerCapture(template, "unknown", "f" * 64)])
    fingers.clock = lambda: T0 + timedelta(hours=10)
    late = FingerCapture(template, "unknown", "e" * 64)
    fingers.enrol("custody", "q", "Printed Late", "t", [late])
    (receipt,) = purge(ctx, CONSOLE, T0 + timedelta(hours=13))
    assert (receipt.templates_deleted, receipt.embeddings_deleted) == (1, 1)
    names = sorted(s.name for s in ctx.gallery.subjects("custody"))
    assert names == ["Late", "Printed Late"]
    assert fingers.count("custody") == 1
    entry = entries(ctx, EventType.PURGE)[-1]
    assert (entry.details["templates_deleted"], entry.details["deleted"]) == (1, 2)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_record_sources_are_purged_by_their_rule_with_a_receipt(ctx, engine, request):
    """A source with retention_days (a SQLite file, or a database on a real PostgreSQL
    server) loses records imported before the cutoff, with a receipt; one without a rule
    keeps everything."""
    from dataclasses import replace as dc_replace

    from mobileid.records import SourceRegistry
    from mobileid.records.generate import generate
    from mobileid.service.retention import purge_sources
    from tests.postgres import empty_postgres
    from tests.records.conftest import entry

    url = ""  # the embedded SQLite file
    if engine == "postgresql":
        url = empty_postgres(request.getfixturevalue("postgres_database"))
    persons, links = generate(5, seed=7)["syn-persons"]
    registry = SourceRegistry(ctx.settings.data_dir / "records")
    registry.register(dc_replace(entry("kept30"), retention_days=30, url=url))
    registry.register(entry("forever"))
    for name in ("kept30", "forever"):
        source = registry.open(name)
        source.add(persons, links)
        source.close()
    now = datetime.now(UTC)
    assert purge_sources(ctx, CONSOLE, now + timedelta(days=29)) == {"kept30": 0}
    assert purge_sources(ctx, CONSOLE, now + timedelta(days=31)) == {"kept30": 5}
    counts = {}
    for name in ("kept30", "forever"):
        source = registry.open(name)
        counts[name] = sum(source.counts().values())
        source.close()
    assert counts["kept30"] == 0 and counts["forever"] > 0
    last = entries(ctx, EventType.PURGE)[-1]
    assert (last.details["source"], last.details["deleted"], last.details["rule"]) == (
        "kept30",
        5,
        "30d",
    )


def _source_with_records(ctx, name: str = "kept30", n: int = 5):
    """A registered SQLite record source with ``n`` records and a 30-day rule."""
    from dataclasses import replace as dc_replace

    from mobileid.records import SourceRegistry
    from mobileid.records.generate import generate
    from tests.records.conftest import entry

    persons, links = generate(n, seed=7)["syn-persons"]
    registry = SourceRegistry(ctx.settings.data_dir / "records")
    registry.register(dc_replace(entry(name), retention_days=30))
    source = registry.open(name)
    source.add(persons, links)
    source.close()
    return registry


def _left(registry, name: str = "kept30") -> int:
    source = registry.open(name)
    try:
        return sum(source.counts().values())
    finally:
        source.close()


def test_a_source_purge_records_its_intent_before_deleting_and_its_receipt_after(ctx):
    """The intent (purge_started, with how many records match) is committed before the
    records are deleted and the receipt after, both naming one purge id; when the log refuses
    the intent, the purge stops before deleting anything."""
    from mobileid.errors import BackendUnavailable
    from mobileid.service.retention import purge_sources
    from tests.database.refusing import accept_entries_again, refuse_entries_mentioning

    registry = _source_with_records(ctx)
    later = datetime.now(UTC) + timedelta(days=31)
    refuse_entries_mentioning(ctx.engine, '"matching":')  # the intent
    with pytest.raises(BackendUnavailable, match="audit log"):
        purge_sources(ctx, CONSOLE, later)
    assert _left(registry) == 5 and entries(ctx, EventType.PURGE_STARTED) == []
    accept_entries_again(ctx.engine)
    assert purge_sources(ctx, CONSOLE, later) == {"kept30": 5}
    (intent,) = entries(ctx, EventType.PURGE_STARTED)
    (receipt,) = entries(ctx, EventType.PURGE)
    assert intent.sequence < receipt.sequence
    assert (intent.details["matching"], receipt.details["deleted"]) == (5, 5)
    assert intent.details["purge_id"] == receipt.details["purge_id"]
    figures = retention_figures(ctx.audit.read())
    assert (figures["purges"], figures["unfinished"]) == (1, 0)


def test_a_source_purge_that_cannot_delete_or_cannot_record_says_so_in_the_log(ctx):
    """When the source refuses the deletion, its records stay and a failed receipt with 0
    deleted follows the intent; when the log refuses the receipt after the deletion, the
    intent stands alone and the oversight figures count one unfinished purge."""
    from sqlalchemy import create_engine, text

    from mobileid.errors import BackendUnavailable
    from mobileid.service.retention import purge_sources
    from tests.database.refusing import refuse_entries_mentioning

    registry = _source_with_records(ctx)
    later = datetime.now(UTC) + timedelta(days=31)
    records_db = create_engine(registry.open("kept30").engine.url)
    with records_db.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER keep BEFORE DELETE ON records "
                "BEGIN SELECT RAISE(ABORT, 'deletion refused by the test'); END"
            )
        )
    with pytest.raises(Exception, match="deletion refused"):
        purge_sources(ctx, CONSOLE, later)
    (failed,) = entries(ctx, EventType.PURGE)
    assert (failed.outcome, failed.details["deleted"], _left(registry)) == ("failed", 0, 5)
    with records_db.begin() as conn:
        conn.execute(text("DROP TRIGGER keep"))
    records_db.dispose()
    refuse_entries_mentioning(ctx.engine, '"deleted":5')  # the receipt of a purge that worked
    with pytest.raises(BackendUnavailable, match="audit log"):
        purge_sources(ctx, CONSOLE, later)
    assert _left(registry) == 0
    counts = (len(entries(ctx, EventType.PURGE_STARTED)), len(entries(ctx, EventType.PURGE)))
    assert counts == (2, 1)
    figures = retention_figures(ctx.audit.read())
    assert (figures["purges"], figures["failed"], figures["unfinished"]) == (1, 1, 1)
