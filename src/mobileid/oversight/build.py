"""``build_report``: audit entries and the chain's verification in, every figure out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from mobileid.audit import AuditEntry, EventType, Outcome, VerifyReport
from mobileid.errors import InvalidArgument
from mobileid.oversight.activity import (
    access_figures,
    event_figures,
    of,
    retention_figures,
    training_figures,
)
from mobileid.oversight.certification import certification_figures
from mobileid.oversight.model import OversightReport
from mobileid.oversight.searches import (
    authority_figures,
    band_figures,
    disposition_figures,
    latest_dispositions,
    reach_figures,
    search_figures,
    subject_figures,
    super_query_figures,
)
from mobileid.oversight.tally import entry_day, is_training

MAX_DAYS = 3660  # ten years of per-day rows is already a long table; beyond that, split it


def parse_day(field: str, text: str) -> date:
    """A calendar day written ``YYYY-MM-DD``, or InvalidArgument naming ``field``."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"{field}: expected a date as YYYY-MM-DD, got {text!r:.40}", field=field
        ) from None


def check_window(date_from: date, date_to: date, names: tuple[str, str] = ("from", "to")) -> None:
    """Refuse an empty or absurdly long window, naming the field at fault."""
    if date_from > date_to:
        raise InvalidArgument(
            f"{names[1]}: expected a date on or after {names[0]} ({date_from.isoformat()}), "
            f"got {date_to.isoformat()}",
            field=names[1],
        )
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise InvalidArgument(
            f"{names[1]}: expected a window of at most {MAX_DAYS} days, got "
            f"{(date_to - date_from).days + 1}",
            field=names[1],
        )


def _plain(value: Any) -> Any:
    """A JSON round trip: accuracy figures are passed through, but as plain JSON values."""
    return json.loads(json.dumps(value, default=str, allow_nan=True), parse_constant=_nan)


def _nan(_: str) -> None:
    return None


def build_report(
    entries: Sequence[AuditEntry],
    *,
    date_from: date,
    date_to: date,
    chain: VerifyReport,
    sources: Sequence[Mapping[str, Any]] | None = None,
    accuracy: Sequence[Mapping[str, Any]] = (),
    generated_at: str | None = None,
) -> OversightReport:
    """Count every figure of the window ``date_from``..``date_to`` (inclusive, UTC days).

    ``entries`` may be the whole log: the window is applied here, and dispositions logged after
    the window still judge the window's searches. ``chain`` is ``verify()`` of the same log.
    ``sources`` are registry entries (``name``, ``owning_agency``, ``legal_authority``,
    ``agreement_reference``...) matched by name to the galleries and sources reached; None
    means no registry was consulted. ``accuracy`` is passed through (non-finite numbers as
    null). Pure: no I/O, no clock.
    """
    check_window(date_from, date_to, ("date_from", "date_to"))
    in_days: dict[int, date] = {}
    unreadable = 0
    for e in entries:
        day = entry_day(e)
        unreadable += day is None
        if day is not None and date_from <= day <= date_to:
            in_days[e.sequence] = day
    window = [e for e in entries if e.sequence in in_days]
    searches = of(window, EventType.SEARCH)
    queries = of(window, EventType.SUPER_QUERY)
    live = [e for e in searches if e.outcome == Outcome.OK and not is_training(e.details)]
    bad = chain.first_bad_sequence
    latest = latest_dispositions(entries)  # a later disposition still judges the window's
    return OversightReport(
        date_from=date_from,
        date_to=date_to,
        chain=chain,
        log={
            "window_entries": len(window),
            "window_entries_unsigned": sum(1 for e in window if e.sequence > chain.trusted_through),
            "window_entries_from_break": sum(1 for e in window if bad and e.sequence >= bad),
            "window_clock_regressed": sum(1 for e in window if e.clock_regressed),
            "unreadable_times": unreadable,
        },
        events=event_figures(window),
        searches=search_figures(searches, date_from, date_to, in_days),
        super_queries=super_query_figures(queries),
        legal_authorities=authority_figures(searches, queries),
        reach=reach_figures(searches, queries, sources),
        bands=band_figures(live),
        dispositions=disposition_figures(live, of(window, EventType.DISPOSITION), latest)
        | {"by_subject": subject_figures(live, latest)},
        training_vs_live=training_figures(window),
        certification=certification_figures(window, entries, date_to),
        access=access_figures(window),
        retention=retention_figures(window),
        accuracy=tuple(_plain(dict(a)) for a in accuracy),
        generated_at=generated_at,
    )
