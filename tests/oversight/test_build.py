"""Every figure of the oversight report, against the scenario's hand count (scenario.py)."""

from __future__ import annotations

from datetime import date

import pytest

from mobileid.audit import AuditEntry, VerifyReport
from mobileid.errors import InvalidArgument
from mobileid.oversight import NOT_RECORDED, OversightReport, build_report, parse_day
from tests.oversight.conftest import Built
from tests.oversight.scenario import REGISTRY


def lt(live: int, training: int = 0) -> dict[str, int]:
    return {"live": live, "training": training}


def test_searches_per_day_operator_unit_modality_purpose(report: OversightReport) -> None:
    """Searches are counted per UTC day (every day listed), operator, unit, modality, purpose."""
    s = report.searches
    assert (s["total"], s["live"], s["training"]) == (7, 6, 1)
    assert s["by_outcome"] == {"ok": 6, "refused": 1}
    assert s["refusal_reasons"] == {"no_face_found": 1}
    assert s["failure_reasons"] == {}  # no search of the scenario failed
    assert s["distinct_cases"] == 5
    assert s["per_day"] == {"2026-03-02": lt(2, 1), "2026-03-03": lt(3), "2026-03-04": lt(1)}
    assert s["per_operator"] == {"alice": lt(3), "bob": lt(3), "carol": lt(0, 1)}
    assert s["per_unit"] == {
        NOT_RECORDED: lt(1),
        "academy": lt(0, 1),
        "north": lt(2),
        "south": lt(3),
    }
    assert s["per_modality"] == {"face": lt(4, 1), "face+finger": lt(1), "finger": lt(1)}
    assert s["per_purpose"] == {
        "missing person": lt(1),
        "robbery": lt(5),
        "training exercise": lt(0, 1),
    }


def test_super_queries_and_legal_authorities(report: OversightReport) -> None:
    """Super queries are counted like searches; each authority shows both kinds of use."""
    q = report.super_queries
    assert (q["total"], q["live"], q["training"]) == (2, 1, 1)
    assert q["per_purpose"] == {"robbery": lt(1), "training exercise": lt(0, 1)}
    assert report.legal_authorities == {
        "Act A": {"searches": 1, "super_queries": 0},
        "Act B": {"searches": 5, "super_queries": 1},
        "Act T": {"searches": 1, "super_queries": 1},
    }


def test_galleries_and_sources_reached_with_registry(report: OversightReport) -> None:
    """Galleries of completed searches and sources asked carry their registry entries."""
    r = report.reach
    assert r["registry_given"] is True
    assert r["galleries"]["wanted"] == {
        "searches": 3,
        "live": 3,
        "training": 0,
        "size_last": 130,
        "registry": REGISTRY[1],
    }
    assert r["galleries"]["default"]["searches"] == 3
    assert r["galleries"]["default"]["size_last"] == 60
    assert r["galleries"]["training"]["training"] == 1
    none = {"answered": 0, "not_entitled": 0, "timed_out": 0, "failed": 0}
    assert r["record_sources"] == {
        "courts": {"queries": 1, **none, "timed_out": 1, "registry": None},
        "dmv": {"queries": 2, **none, "answered": 2, "registry": REGISTRY[0]},
        "interpol": {"queries": 1, **none, "not_entitled": 1, "registry": None},
    }
    assert r["unregistered"] == ["courts", "default", "interpol", "training"]


def test_candidate_bands_of_live_searches(report: OversightReport) -> None:
    """Bands count completed live searches: best band per search and candidates per band."""
    b = report.bands
    assert b["searches"] == 5
    assert b["searches_by_best_band"] == {"strong": 3, "possible": 1, "none": 1}
    assert b["candidates"] == 9
    assert b["candidates_by_band"] == {"strong": 4, "possible": 3, "none": 2}


def test_dispositions_and_strong_then_not_a_match(report: OversightReport) -> None:
    """Dispositions logged in the window are counted; window searches take their latest
    disposition, even one logged after the window; strong -> not_a_match is 1 of 3."""
    d = report.dispositions
    assert d["recorded"] == {"confirmed": 2, "not_a_match": 2, "inconclusive": 1, "no_action": 1}
    zero = {"confirmed": 0, "not_a_match": 0, "inconclusive": 0, "no_action": 0} | {
        "lookalike_confirmed": 0, "pending": 0,
    }  # fmt: skip
    assert d["by_best_band"] == {
        "strong": zero | {"confirmed": 1, "not_a_match": 1, "inconclusive": 1},
        "possible": zero | {"confirmed": 1},
        "none": zero | {"pending": 1},
    }
    assert d["strong_then_not_a_match"] == {
        "strong_searches": 3,
        "judged": 3,
        "not_a_match": 1,
        "of_which_lookalike_confirmed": 0,
        "rate": pytest.approx(1 / 3),
    }


def test_training_access_retention_and_events(report: OversightReport) -> None:
    """Training vs live, denials, lockouts, failed logons, purges and events by type."""
    assert report.training_vs_live == {
        "searches": lt(6, 1),
        "super_queries": lt(1, 1),
        "enrolments": lt(1, 1),
        "deletions": lt(1),
    }
    a = report.access
    assert a["denied"] == 2 and a["lockouts"] == 1 and a["logon_failures"] == 2
    assert a["denied_by_reason"] == {"not_entitled:interpol": 1, "role_not_permitted": 1}
    assert a["denied_by_operator"] == {"dave": 1, "erin": 1}
    assert a["denied_by_event"] == {"access_denied": 2, "lockout": 1}
    assert a["lockouts_by_operator"] == {"dave": 1}
    assert a["logon_failures_by_reason"] == {"bad_password": 2}
    r = report.retention
    assert (r["purges"], r["deleted"], r["failed"]) == (3, 12, 0)
    assert r["by_target"] == [
        {"kind": "gallery", "name": "probes", "rule": "probe-24h", "purges": 2, "deleted": 9},
        {"kind": "source", "name": "custody", "rule": "12h-class-x", "purges": 1, "deleted": 3},
    ]
    assert report.events["total"] == 26
    assert report.events["by_event"] == {
        "access_denied": 2,
        "delete": 1,
        "disposition": 6,
        "enrol": 2,
        "lockout": 1,
        "logon_failed": 2,
        "purge": 3,
        "search": 7,
        "super_query": 2,
    }


def test_chain_status_and_json_layout(report: OversightReport, built: Built) -> None:
    """The report states the chain's verification and where the window stands in it."""
    body = report.as_dict()
    assert body["window"] == {
        "from": "2026-03-02",
        "to": "2026-03-04",
        "days": 3,
        "timezone": "UTC",
    }
    chain = body["chain"]
    assert chain["ok"] is True and chain["first_bad_sequence"] is None
    assert (chain["entries"], chain["checkpoints"], chain["trusted_through"]) == (31, 1, 31)
    assert chain["window_entries"] == 26 and chain["window_entries_unsigned"] == 0
    assert chain["window_entries_from_break"] == 0 and chain["unreadable_times"] == 0
    assert body["as_of_sequence"] == 31
    body["searches"]["total"] = -1  # as_dict hands out a copy
    assert report.searches["total"] == 7


def test_window_edges_are_utc_days_inclusive(built: Built) -> None:
    """23:59:59.999999 is in its day, midnight is the next; a quiet window counts zero."""
    last = build_report(
        built.entries, date_from=date(2026, 3, 4), date_to=date(2026, 3, 4), chain=built.chain
    )
    assert last.searches["per_day"] == {"2026-03-04": lt(1)}
    assert last.retention["purges"] == 3  # one written at 01:00+02:00, i.e. 23:00 UTC
    after = build_report(
        built.entries, date_from=date(2026, 3, 5), date_to=date(2026, 3, 6), chain=built.chain
    )
    assert after.searches["per_day"] == {"2026-03-05": lt(1), "2026-03-06": lt(0)}
    assert after.access["denied"] == 1 and after.reach["registry_given"] is False
    assert after.dispositions["strong_then_not_a_match"]["rate"] is None
    quiet = build_report(
        built.entries, date_from=date(2025, 1, 1), date_to=date(2025, 1, 31), chain=built.chain
    )
    assert quiet.events["total"] == 0 and len(quiet.searches["per_day"]) == 31
    assert quiet.bands["searches_by_best_band"] == {"strong": 0, "possible": 0, "none": 0}


def test_empty_log_reports_zero_activity() -> None:
    """No entries at all: every figure is zero and nothing fails."""
    r = build_report(
        [], date_from=date(2026, 1, 1), date_to=date(2026, 1, 1), chain=VerifyReport(True, 0, 0)
    )
    body = r.as_dict()
    assert body["searches"]["total"] == 0 and body["chain"]["entries"] == 0
    assert body["reach"]["galleries"] == {} and body["retention"]["by_target"] == []


def test_accuracy_is_passed_through_as_plain_json(built: Built) -> None:
    """Accuracy dicts come out as given; a non-finite number becomes null."""
    given = {"pipeline_id": "face/x", "dataset": "lfw", "metrics": {"eer": 0.01, "x": float("nan")}}
    r = build_report(
        built.entries, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2), chain=built.chain,
        accuracy=[given],
    )  # fmt: skip
    assert r.as_dict()["accuracy"] == [{**given, "metrics": {"eer": 0.01, "x": None}}]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2026, 3, 5), date(2026, 3, 4), "date_to"),
        (date(2000, 1, 1), date(2030, 1, 1), "date_to"),
    ],
)
def test_bad_window_is_refused(start: date, end: date, field: str, built: Built) -> None:
    """A window that ends before it starts, or spans over ten years, names the field."""
    with pytest.raises(InvalidArgument) as info:
        build_report(built.entries, date_from=start, date_to=end, chain=built.chain)
    assert info.value.field == field


@pytest.mark.parametrize("text", ["2026-3-4", "2026-02-30", "yesterday", "2026-03-04T00:00"])
def test_malformed_day_is_refused(text: str) -> None:
    """A day not written YYYY-MM-DD (or not on the calendar) is refused naming the field."""
    with pytest.raises(InvalidArgument) as info:
        parse_day("--from", text)
    assert info.value.field == "--from" and "YYYY-MM-DD" in info.value.message


def _entry(seq: int, event: str, details: dict[str, object], outcome: str = "ok") -> AuditEntry:
    return AuditEntry(
        seq, f"2026-06-01T10:00:{seq:02d}.000000+00:00", "op", "officer", event, "identify",
        outcome, details, False, "0" * 64, "0" * 64,
    )  # fmt: skip


def test_missing_and_odd_details_are_counted_not_dropped() -> None:
    """Events from older or partial writers count under '(not recorded)' or as zero."""
    entries = [
        _entry(1, "search", {}),
        _entry(2, "search", {"training": "yes", "bands": "many", "candidates": -3,
                             "galleries": {"g": "big"}, "best_band": "unknown"}),
        _entry(3, "super_query", {"sources": ["dmv"]}),
        _entry(4, "disposition", {"disposition": "confirmed"}),  # no search id
        _entry(5, "purge", {}),
        _entry(6, "access_denied", {}, "denied"),
        AuditEntry(7, "not a time", "op", "r", "search", "c", "ok", {}, False, "", ""),
    ]  # fmt: skip
    day = date(2026, 6, 1)
    r = build_report(entries, date_from=day, date_to=day, chain=VerifyReport(True, 7, 0))
    assert r.searches["total"] == 2 and r.searches["live"] == 2  # "yes" is not an explicit true
    assert r.searches["per_purpose"] == {NOT_RECORDED: lt(2)}
    assert r.bands["searches_by_best_band"] == {
        "strong": 0, "possible": 0, "none": 0, NOT_RECORDED: 1, "unknown": 1,
    }  # fmt: skip
    assert r.bands["candidates"] == 0
    assert r.reach["galleries"]["g"]["size_last"] is None and r.reach["record_sources"] == {}
    assert r.dispositions["by_best_band"][NOT_RECORDED]["pending"] == 1
    assert r.retention["by_target"][0]["name"] == NOT_RECORDED
    assert r.access["denied_by_reason"] == {NOT_RECORDED: 1}
    assert r.log["unreadable_times"] == 1


def test_a_disposition_logged_before_its_search_does_not_judge_it() -> None:
    """Only a disposition written after the search counts as its judgement."""
    search = {"search_id": "S", "best_band": "strong", "training": False}
    entries = [
        _entry(1, "disposition", {"search_id": "S", "disposition": "not_a_match"}),
        _entry(2, "search", search),
    ]
    day = date(2026, 6, 1)
    r = build_report(entries, date_from=day, date_to=day, chain=VerifyReport(True, 2, 0))
    assert r.dispositions["strong_then_not_a_match"] == {
        "strong_searches": 1, "judged": 0, "not_a_match": 0, "of_which_lookalike_confirmed": 0,
        "rate": None,
    }  # fmt: skip


def test_subjects_most_often_judged_not_a_match() -> None:
    """Per subject: listed, listed first, and judged by the search's current disposition naming
    it (a later one revises; a search judged as a whole names none; training searches and
    judgements written before their search do not count); the worst are listed, mean beside."""

    def search(sid: str, *subjects: str, training: bool = False) -> dict:
        refs = [{"subject_id": s, "gallery": "wanted"} for s in subjects]
        return {"search_id": sid, "best_band": "strong", "training": training,
                "candidate_ids": refs}  # fmt: skip

    def judge(sid: str, kind: str, subject: str | None) -> dict:
        return {"search_id": sid, "disposition": kind, "subject_id": subject}

    entries = [
        _entry(1, "disposition", judge("S1", "not_a_match", "P1")),  # before its search
        _entry(2, "search", search("S1", "P1", "P2")),
        _entry(3, "search", search("S2", "P1", "P3")),
        _entry(4, "search", search("S3", "P2", "P1")),
        _entry(5, "search", search("S4", "P1")),
        _entry(6, "search", search("S5", "P1", training=True)),
        _entry(7, "disposition", judge("S2", "not_a_match", "P1")),
        _entry(8, "disposition", judge("S3", "not_a_match", "P1")),
        _entry(9, "disposition", judge("S3", "confirmed", "P2")),  # revises S3's
        _entry(10, "disposition", judge("S4", "not_a_match", None)),  # the search as a whole
        _entry(11, "disposition", judge("S1", "not_a_match", "P2")),
        _entry(12, "disposition", judge("S5", "not_a_match", "P1")),  # training
    ]
    day = date(2026, 6, 1)
    r = build_report(entries, date_from=day, date_to=day, chain=VerifyReport(True, 12, 0))
    by = r.dispositions["by_subject"]
    assert (by["subjects_listed"], by["judged_not_a_match"]) == (3, 2)
    assert by["mean_not_a_match_per_subject"] == pytest.approx(2 / 3)
    row = {"gallery": "wanted", "not_a_match": 1}
    assert by["most_often_not_a_match"] == [
        row | {"subject_id": "P1", "listed": 4, "listed_first": 3, "confirmed": 0},
        row | {"subject_id": "P2", "listed": 2, "listed_first": 1, "confirmed": 1},
    ]


def test_a_look_alike_confirmed_judges_its_strong_candidate_not_a_match() -> None:
    """A search whose disposition confirms the look-alike shown beside its strong candidate
    counts as a strong candidate judged not a match (and says how), and that candidate, not
    the look-alike, is the subject judged not a match; a look-alike judged not a match
    itself judges nobody else."""
    refs = [{"subject_id": "A", "gallery": "wanted"}]
    search = {"best_band": "strong", "training": False, "candidate_ids": refs}

    def judge(sid: str, kind: str) -> dict:
        return {"search_id": sid, "disposition": kind, "subject_id": "B", "lookalike_of": "A"}

    entries = [
        _entry(1, "search", search | {"search_id": "S1"}),
        _entry(2, "search", search | {"search_id": "S2"}),
        _entry(3, "disposition", judge("S1", "confirmed")),
        _entry(4, "disposition", judge("S2", "not_a_match")),
    ]
    day = date(2026, 6, 1)
    r = build_report(entries, date_from=day, date_to=day, chain=VerifyReport(True, 4, 0))
    d = r.dispositions
    assert d["recorded"]["confirmed"] == 1 and d["recorded"]["not_a_match"] == 1
    assert d["by_best_band"]["strong"]["lookalike_confirmed"] == 1
    assert d["by_best_band"]["strong"]["confirmed"] == 0
    assert d["strong_then_not_a_match"] == {
        "strong_searches": 2, "judged": 2, "not_a_match": 2, "of_which_lookalike_confirmed": 1,
        "rate": 1.0,
    }  # fmt: skip
    assert d["by_subject"]["most_often_not_a_match"] == [
        {"subject_id": "A", "gallery": "wanted", "listed": 2, "listed_first": 2}
        | {"not_a_match": 1, "confirmed": 0},
    ]
