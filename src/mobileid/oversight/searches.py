"""Figures about searches: volume and who, where, why; legal authorities; galleries and record
sources reached; candidate bands; dispositions, and which enrolled subjects were most often
listed as a candidate and then judged not a match.

Bands and dispositions cover live searches only: training searches run against planted
subjects, and mixing them in would blur the one figure oversight asks for most, how often a
strong candidate was later judged not a match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from mobileid.audit import AuditEntry, EventType, Outcome
from mobileid.oversight.model import (
    BANDS,
    DISPOSITIONS,
    LOOKALIKE_CONFIRMED,
    NOT_RECORDED,
    PENDING,
)
from mobileid.oversight.tally import count, counter, label, live_training, mode, split

SEARCH_KEYS = ("operator", "unit", "modality", "purpose")
SOURCE_STATES = ("answered", "not_entitled", "timed_out", "failed")  # others are kept as logged


def search_figures(
    searches: Sequence[AuditEntry], date_from: date, date_to: date, days: Mapping[int, date]
) -> dict[str, Any]:
    """``days`` maps an entry's sequence number to its UTC day."""
    details = [e.details for e in searches]
    per_day = {
        (date_from + timedelta(d)).isoformat(): {"live": 0, "training": 0}
        for d in range((date_to - date_from).days + 1)
    }
    for e in searches:
        per_day[days[e.sequence].isoformat()][mode(e.details)] += 1
    out: dict[str, Any] = {
        "total": len(searches),
        **live_training(details),
        "by_outcome": counter(e.outcome for e in searches),
        "refusal_reasons": counter(
            label(e.details, "error") for e in searches if e.outcome == Outcome.REFUSED
        ),
        # allowed and attempted, but a backend, a worker or an unforeseen error stopped them
        "failure_reasons": counter(
            label(e.details, "error") for e in searches if e.outcome == Outcome.FAILED
        ),
        "distinct_cases": len({label(d, "case_number") for d in details} - {NOT_RECORDED}),
        "per_day": per_day,
        "per_operator": split((e.operator, mode(e.details)) for e in searches),
    }
    for key in SEARCH_KEYS[1:]:
        out[f"per_{key}"] = split((label(d, key), mode(d)) for d in details)
    return out


def super_query_figures(queries: Sequence[AuditEntry]) -> dict[str, Any]:
    return {
        "total": len(queries),
        **live_training(e.details for e in queries),
        "by_outcome": counter(e.outcome for e in queries),
        "per_operator": split((e.operator, mode(e.details)) for e in queries),
        "per_purpose": split((label(e.details, "purpose"), mode(e.details)) for e in queries),
    }


def authority_figures(
    searches: Sequence[AuditEntry], queries: Sequence[AuditEntry]
) -> dict[str, dict[str, int]]:
    """Each legal authority invoked, with how many searches and super queries cited it."""
    out: dict[str, dict[str, int]] = {}
    for kind, entries in (("searches", searches), ("super_queries", queries)):
        for e in entries:
            row = out.setdefault(
                label(e.details, "legal_authority"), {"searches": 0, "super_queries": 0}
            )
            row[kind] += 1
    return dict(sorted(out.items()))


def _galleries(details: Mapping[str, Any]) -> dict[str, int | None]:
    """A completed search logs ``{name: size}``; a refused one may log a list of names."""
    value = details.get("galleries")
    if isinstance(value, Mapping):
        return {str(k): (count(v) if isinstance(v, int) else None) for k, v in value.items()}
    if isinstance(value, list):
        return {str(name): None for name in value}
    return {}


def reach_figures(
    searches: Sequence[AuditEntry],
    queries: Sequence[AuditEntry],
    registry: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """Galleries searched (completed searches) and record sources asked (super queries), each
    with its registry entry when a registry was given; reached names without one are listed."""
    entries = {str(r.get("name")): dict(r) for r in registry or ()}
    galleries: dict[str, dict[str, Any]] = {}
    for e in searches:
        if e.outcome != Outcome.OK:
            continue
        for name, size in _galleries(e.details).items():
            row = galleries.setdefault(name, {"searches": 0, "live": 0, "training": 0})
            row["searches"] += 1
            row[mode(e.details)] += 1
            row["size_last"] = size if size is not None else row.get("size_last")
    sources: dict[str, dict[str, Any]] = {}
    for e in queries:
        asked = e.details.get("sources")
        for name, status in asked.items() if isinstance(asked, Mapping) else ():
            row = sources.setdefault(str(name), {"queries": 0} | dict.fromkeys(SOURCE_STATES, 0))
            row["queries"] += 1
            row[str(status)] = row.get(str(status), 0) + 1
    for table in (galleries, sources):
        for name, row in table.items():
            row["registry"] = entries.get(name)
    reached = set(galleries) | set(sources)
    return {
        "registry_given": registry is not None,
        "galleries": dict(sorted(galleries.items())),
        "record_sources": dict(sorted(sources.items())),
        "unregistered": sorted(reached - set(entries)) if registry is not None else [],
    }


def _best_band(details: Mapping[str, Any]) -> str:
    band = details.get("best_band")
    return band if band in BANDS else NOT_RECORDED if band is None else str(band)


def band_figures(live: Sequence[AuditEntry]) -> dict[str, Any]:
    """``live``: completed live searches."""
    per_band: Counter[str] = Counter()
    for e in live:
        bands = e.details.get("bands")
        for band, n in bands.items() if isinstance(bands, Mapping) else ():
            per_band[str(band)] += count(n)
    best = Counter(_best_band(e.details) for e in live)
    return {
        "scope": "live searches completed in the window",
        "searches": len(live),
        "searches_by_best_band": {b: best.pop(b, 0) for b in BANDS} | dict(sorted(best.items())),
        "candidates": sum(count(e.details.get("candidates")) for e in live),
        "candidates_by_band": {b: per_band.pop(b, 0) for b in BANDS}
        | dict(sorted(per_band.items())),
    }


def latest_dispositions(entries: Iterable[AuditEntry]) -> dict[str, AuditEntry]:
    """The last disposition logged per search id, anywhere in the log (a later one revises)."""
    out: dict[str, AuditEntry] = {}
    for e in entries:
        if e.event == EventType.DISPOSITION and isinstance(e.details.get("search_id"), str):
            out[e.details["search_id"]] = e
    return out


def judgement(search: AuditEntry, latest: Mapping[str, AuditEntry]) -> AuditEntry | None:
    """The search's current disposition: the last one logged for its id, if written after it."""
    judged = latest.get(label(search.details, "search_id"))
    return judged if judged is not None and judged.sequence > search.sequence else None


def lookalike_confirmed(judged: AuditEntry) -> str | None:
    """The strong candidate a disposition found was not the person because it confirmed the
    look-alike shown beside it (that candidate's subject id); None for any other."""
    if label(judged.details, "disposition") != "confirmed":
        return None
    of = judged.details.get("lookalike_of")
    return of if isinstance(of, str) else None


def disposition_figures(
    live: Sequence[AuditEntry],
    recorded: Sequence[AuditEntry],
    latest: Mapping[str, AuditEntry],
) -> dict[str, Any]:
    """``live``: completed live searches in the window; ``recorded``: disposition events in the
    window; ``latest``: the last disposition per search id in the whole log."""
    by_band: dict[str, dict[str, int]] = {}
    columns = (*DISPOSITIONS, LOOKALIKE_CONFIRMED, PENDING)
    for e in live:
        row = by_band.setdefault(_best_band(e.details), dict.fromkeys(columns, 0))
        judged = judgement(e, latest)
        if judged is None:
            row[PENDING] += 1
        elif lookalike_confirmed(judged) is not None:
            row[LOOKALIKE_CONFIRMED] += 1
        else:
            kind = label(judged.details, "disposition")
            row[kind] = row.get(kind, 0) + 1
    strong = by_band.get("strong", {PENDING: 0})
    judged_strong = sum(strong.values()) - strong[PENDING]
    instead = strong.get(LOOKALIKE_CONFIRMED, 0)
    wrong = strong.get("not_a_match", 0) + instead
    kinds = Counter(label(e.details, "disposition") for e in recorded)
    return {
        "scope": "dispositions logged in the window; live searches of the window as judged since",
        "recorded": {d: kinds.pop(d, 0) for d in DISPOSITIONS} | dict(sorted(kinds.items())),
        "by_best_band": {b: by_band.pop(b) for b in BANDS if b in by_band}
        | dict(sorted(by_band.items())),
        "strong_then_not_a_match": {
            "strong_searches": sum(strong.values()),
            "judged": judged_strong,
            "not_a_match": wrong,
            "of_which_lookalike_confirmed": instead,
            "rate": wrong / judged_strong if judged_strong else None,
        },
    }


WORST_SUBJECTS = 10  # rows of the per-subject table: the subjects a supervisor should look at


def subject_figures(live: Sequence[AuditEntry], latest: Mapping[str, AuditEntry]) -> dict[str, Any]:
    """Per enrolled subject listed as a candidate by ``live`` (completed live searches): how
    often listed, listed first, and judged not a match or confirmed, by the current disposition
    of the search naming that subject (a search judged as a whole names none; a look-alike
    confirmed instead judges the candidate it was shown beside not a match). The
    WORST_SUBJECTS most often judged not a match are listed beside the mean: false candidates
    gather on a few subjects (a look-alike of someone searched for, or one person enrolled
    under two names), and an average hides them."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for e in live:
        refs = e.details.get("candidate_ids")
        judged = judgement(e, latest)
        named = judged.details.get("subject_id") if judged is not None else None
        instead = lookalike_confirmed(judged) if judged is not None else None
        for rank, ref in enumerate(refs if isinstance(refs, list) else ()):
            if not isinstance(ref, Mapping):
                continue
            key = (label(ref, "subject_id"), label(ref, "gallery"))
            row = rows.setdefault(
                key,
                {"subject_id": key[0], "gallery": key[1], "listed": 0, "listed_first": 0}
                | {"not_a_match": 0, "confirmed": 0},
            )
            row["listed"] += 1
            row["listed_first"] += rank == 0
            if judged is not None and named == key[0]:
                kind = label(judged.details, "disposition")
                if kind in ("not_a_match", "confirmed"):
                    row[kind] += 1
            elif instead == key[0]:  # its look-alike was the person
                row["not_a_match"] += 1
    wrong = sum(r["not_a_match"] for r in rows.values())
    worst = sorted(
        (r for r in rows.values() if r["not_a_match"]),
        key=lambda r: (-r["not_a_match"], -r["listed"], r["subject_id"]),
    )
    return {
        "scope": "enrolled subjects listed as candidates by the window's completed live "
        "searches; judged by each search's current disposition naming the subject",
        "subjects_listed": len(rows),
        "judged_not_a_match": wrong,
        "mean_not_a_match_per_subject": wrong / len(rows) if rows else None,
        "most_often_not_a_match": worst[:WORST_SUBJECTS],
    }
