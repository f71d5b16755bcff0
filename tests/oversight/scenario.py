"""A small real audit log with a driven clock, and the figures it must give, counted by hand.

The report window is 2026-03-02..2026-03-04. Outside it: S0 (the evening before) and S8 plus a
denial (the morning after). Every search, super query, disposition, denial and purge below is
written through the public audit API, exactly as the service writes them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mobileid.audit import AuditEvent, EmbeddedAuditLog, EventType, Outcome, open_audit_log

FROM, TO = date(2026, 3, 2), date(2026, 3, 4)
REGISTRY = [
    {
        "name": "dmv",
        "owning_agency": "Department of Motor Vehicles",
        "legal_authority": "Vehicle Code s.12",
        "agreement_reference": "MOU-2025-07",
    },
    {
        "name": "wanted",
        "owning_agency": "State Police",
        "legal_authority": "Police Act s.4",
        "agreement_reference": "internal",
    },
    {"name": "unused", "owning_agency": "Nobody", "legal_authority": "-"},
]


class SetClock:
    """A clock that reads whatever time the scenario last set."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def search(
    sid: str,
    *,
    modality: str = "face",
    purpose: str = "robbery",
    authority: str = "Act B",
    case: str = "C-1",
    unit: str | None = "north",
    training: bool = False,
    galleries: dict[str, int] | None = None,
    bands: tuple[int, int, int] = (0, 0, 0),
    best: str | None = None,
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "search_id": sid,
        "modality": modality,
        "purpose": purpose,
        "legal_authority": authority,
        "case_number": case,
        "location": None,
        "unit": unit,
        "training": training,
        "galleries": galleries or {},
        "candidates": sum(bands),
        "bands": dict(zip(("strong", "possible", "none"), bands, strict=True)),
        "best_band": best,
        "pipeline_id": "face/dlib-resnet-v1",
        "thresholds": {"strong": 0.62, "possible": 0.55},
    }
    if unit is None:
        del details["unit"]  # an older writer that did not log the unit at all
    return details


def _day(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _events() -> list[tuple[datetime, str, EventType, Outcome, dict[str, Any]]]:
    sq = EventType.SEARCH
    ok, denied, failed = Outcome.OK, Outcome.DENIED, Outcome.FAILED
    disp = EventType.DISPOSITION
    return [
        (_day(1, 23, 59), "alice", sq, ok, search("S0", bands=(1, 0, 0), best="strong")),
        # --- 2026-03-02
        (_day(2, 8), "alice", sq, ok, search(
            "S1", galleries={"wanted": 100, "default": 50}, bands=(1, 1, 1), best="strong")),
        (_day(2, 9), "bob", sq, ok, search(
            "S2", modality="finger", unit="south", galleries={"wanted": 120}, bands=(0, 2, 0),
            best="possible")),
        (_day(2, 10), "carol", sq, ok, search(
            "S3", purpose="training exercise", authority="Act T", case="T-1", unit="academy",
            training=True, galleries={"training": 10}, bands=(1, 0, 0), best="strong")),
        (_day(2, 11), "dave", EventType.ACCESS_DENIED, denied, {"reason": "role_not_permitted"}),
        # --- 2026-03-03
        (_day(3, 8), "alice", sq, ok, search(
            "S4", modality="face+finger", purpose="missing person", authority="Act A", case="C-3",
            galleries={"default": 55}, bands=(2, 0, 0), best="strong")),
        (_day(3, 9), "bob", sq, Outcome.REFUSED, {
            "search_id": "S5", "modality": "face", "purpose": "robbery",
            "legal_authority": "Act B", "case_number": "C-2", "unit": "south",
            "training": False, "galleries": ["wanted"], "error": "no_face_found"}),
        (_day(3, 10), "alice", sq, ok, search(
            "S6", case="C-2", unit=None, galleries={"default": 60}, bands=(0, 0, 1), best="none")),
        (_day(3, 11), "alice", EventType.SUPER_QUERY, ok, {
            "search_id": "Q1", "purpose": "robbery", "legal_authority": "Act B",
            "case_number": "C-1", "training": False,
            "sources": {"dmv": "answered", "interpol": "not_entitled"}}),
        (_day(3, 12), "carol", EventType.SUPER_QUERY, ok, {
            "search_id": "Q2", "purpose": "training exercise", "legal_authority": "Act T",
            "case_number": "T-1", "training": True,
            "sources": {"dmv": "answered", "courts": "timed_out"}}),
        (_day(3, 13), "dave", EventType.LOGON_FAILED, failed, {"reason": "bad_password"}),
        (_day(3, 13, 1), "dave", EventType.LOGON_FAILED, failed, {"reason": "bad_password"}),
        (_day(3, 13, 2), "dave", EventType.LOCKOUT, denied, {"reason": "too_many_failures"}),
        (_day(3, 14), "admin1", EventType.ENROL, ok, {
            "gallery": "wanted", "subject_id": "P1", "embeddings_added": 2, "training": False}),
        (_day(3, 14, 5), "trainer", EventType.ENROL, ok, {
            "gallery": "training", "subject_id": "P2", "embeddings_added": 1, "training": True}),
        (_day(3, 14, 10), "admin1", EventType.DELETE, ok, {
            "gallery": "wanted", "subject_id": "P0", "embeddings_deleted": 3}),
        (_day(3, 15), "bob", disp, ok, {"search_id": "S2", "disposition": "confirmed"}),
        (_day(3, 16), "alice", disp, ok, {"search_id": "S4", "disposition": "inconclusive"}),
        # --- 2026-03-04
        (_day(4, 8), "alice", disp, ok, {"search_id": "S4", "disposition": "confirmed"}),
        (_day(4, 9), "alice", disp, ok, {"search_id": "S1", "disposition": "not_a_match"}),
        (_day(4, 9, 30), "alice", disp, ok, {"search_id": "S0", "disposition": "not_a_match"}),
        (_day(4, 10), "carol", disp, ok, {"search_id": "S3", "disposition": "no_action"}),
        (_day(4, 11), "system", EventType.PURGE, ok, {
            "gallery": "probes", "deleted": 7, "rule": "probe-24h"}),
        (_day(4, 12), "erin", EventType.ACCESS_DENIED, denied, {"reason": "not_entitled:interpol"}),
        (_day(4, 13), "system", EventType.PURGE, ok, {
            "source": "custody", "deleted": 3, "rule": "12h-class-x"}),
        # 23:00 UTC written by a clock two hours ahead of UTC: still 2026-03-04 in the report.
        (datetime(2026, 3, 5, 1, 0, tzinfo=timezone(timedelta(hours=2))), "system",
         EventType.PURGE, ok, {"gallery": "probes", "deleted": 2, "rule": "probe-24h"}),
        (datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC), "bob", sq, ok, search(
            "S7", unit="south", case="C-4", galleries={"wanted": 130}, bands=(1, 0, 0),
            best="strong")),
        # --- 2026-03-05: after the window
        (_day(5, 0), "alice", sq, ok, search("S8", galleries={"wanted": 130}, best=None)),
        (_day(5, 1), "bob", disp, ok, {"search_id": "S7", "disposition": "inconclusive"}),
        (_day(5, 2), "frank", EventType.ACCESS_DENIED, denied, {"reason": "expired_token"}),
    ]  # fmt: skip


def build_log(data_dir: Path) -> dict[str, int]:
    """Write the scenario into ``data_dir`` and sign a checkpoint at the end; return the
    sequence number of each search by its id."""
    clock = SetClock()
    log: EmbeddedAuditLog = open_audit_log(
        data_dir, clock=clock, checkpoint_every=1000, checkpoint_minutes=1e6
    )
    seqs: dict[str, int] = {}
    try:
        for when, who, kind, outcome, details in _events():
            clock.now = when
            role = "system" if who == "system" else "officer"
            entry = log.record(AuditEvent(kind, who, role, "identify", outcome, details))
            if kind == EventType.SEARCH:
                seqs[details["search_id"]] = entry.sequence
        clock.now = _day(5, 3)
        log.checkpoint()
    finally:
        log.close()
    return seqs
