"""The super query: one query, sent at once to every record source the caller is entitled to.

Each entitled source is searched in its own thread under one deadline; the answer says, per
source, whether it answered, timed out or failed (and why), and which sources were not
searched because the caller is not entitled to them. Those are never touched: no connection,
no query. The same person found in two sources is linked by name and date-of-birth
similarity, with the reason shown; records linked to a hit (the owner of a vehicle, the
residents of an address) come back one hop away, marked as such.

Entitlements are the caller's business (the operator layer): this use case takes the names of
the sources the caller may search and trusts nothing else.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import combinations

from rapidfuzz import fuzz

from mobileid import NOTICE
from mobileid.records import normalise as norm
from mobileid.records.engine import describe_failure
from mobileid.records.model import PersonRecord
from mobileid.records.query import RecordHit, RecordQuery
from mobileid.records.source import RecordSource

DEFAULT_TIMEOUT_S = 2.0
LINK_NAME_SCORE = 90.0  # names this alike, with equal dates of birth, are linked
LINK_NAME_SCORE_NO_DOB = 97.0  # when a date of birth is missing, the names must be near equal


class SourceState(enum.StrEnum):
    ANSWERED = "answered"
    NOT_ENTITLED = "not_entitled"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True)
class SourceOutcome:
    source: str
    state: SourceState
    reason: str = ""  # why it timed out or failed; empty when it answered
    hits: int = 0
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class PersonLink:
    """Two person records, in different sources, that look like the same person."""

    a_source: str
    a_record_id: str
    b_source: str
    b_record_id: str
    name_score: float  # 0-100, token-sort similarity of the closest pair of names
    reason: str


@dataclass(frozen=True)
class SuperQueryResult:
    query: RecordQuery
    sources: tuple[SourceOutcome, ...]  # every registered or entitled source, by name
    hits: tuple[RecordHit, ...]  # direct hits first (best first), then one-hop records
    links: tuple[PersonLink, ...]
    notice: str = NOTICE

    @property
    def complete(self) -> bool:
        """True only when at least one source was searched and every source the caller is
        entitled to answered (no sources searched is not a complete answer)."""
        states = {o.state for o in self.sources}
        return SourceState.ANSWERED in states and states <= {
            SourceState.ANSWERED,
            SourceState.NOT_ENTITLED,
        }

    def searched(self) -> list[str]:
        return [o.source for o in self.sources if o.state is not SourceState.NOT_ENTITLED]


def super_query(
    query: RecordQuery,
    sources: Mapping[str, RecordSource],
    entitled: Collection[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 50,
) -> SuperQueryResult:
    """Search every source in ``sources`` whose name is in ``entitled``, concurrently.

    ``sources``: every registered source by name (unopened is fine: only entitled ones are
    used). ``entitled``: the source names the caller may search; a name that is not in
    ``sources`` is reported as failed. ``timeout_s``: how long the whole fan-out waits; a
    source still running then is reported as timed out and its answer is dropped.
    ``limit``: direct hits kept per source.
    """
    allowed = set(entitled)
    outcomes = {
        name: SourceOutcome(name, SourceState.NOT_ENTITLED)
        for name in sources
        if name not in allowed
    }
    for name in allowed - set(sources):
        outcomes[name] = SourceOutcome(
            name, SourceState.FAILED, "expected a registered source, got an unknown name"
        )
    wanted = sorted(n for n in allowed if n in sources)
    hits: list[RecordHit] = []
    if wanted:
        pool = ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="super-query")
        started = time.perf_counter()
        futures = {n: pool.submit(_timed, sources[n], query, limit) for n in wanted}
        wait(futures.values(), timeout=timeout_s)
        # A source still running is left to its own timeout (statement/connect timeouts on
        # SQL sources); nobody waits for it and its late answer is dropped.
        pool.shutdown(wait=False, cancel_futures=True)
        for name, future in futures.items():
            outcomes[name] = _outcome(name, future, timeout_s, started)
            if outcomes[name].state is SourceState.ANSWERED:
                hits += future.result()[0]
    ordered = sorted(hits, key=lambda h: (h.hop, -h.score, h.source, h.record.record_id))
    return SuperQueryResult(
        query=query,
        sources=tuple(outcomes[n] for n in sorted(outcomes)),
        hits=tuple(ordered),
        links=tuple(link_persons(ordered)),
    )


def _timed(source: RecordSource, query: RecordQuery, limit: int) -> tuple[list[RecordHit], float]:
    t0 = time.perf_counter()
    found = source.search(query, limit=limit)
    return found, (time.perf_counter() - t0) * 1000.0


def _outcome(
    name: str, future: Future[tuple[list[RecordHit], float]], timeout_s: float, started: float
) -> SourceOutcome:
    if not future.done():
        future.cancel()
        waited = (time.perf_counter() - started) * 1000.0
        return SourceOutcome(
            name, SourceState.TIMED_OUT, f"no answer within {timeout_s:g} s", 0, waited
        )
    exc = future.exception()
    if exc is not None:
        # Any error in one source is that source's failure, reported; never the query's.
        return SourceOutcome(name, SourceState.FAILED, describe_failure(exc))
    found, elapsed = future.result()
    return SourceOutcome(name, SourceState.ANSWERED, "", len(found), elapsed)


def link_persons(hits: list[RecordHit]) -> list[PersonLink]:
    """Pairs of person records from different sources that look like one person: names at
    least ``LINK_NAME_SCORE`` alike with equal dates of birth, or at least
    ``LINK_NAME_SCORE_NO_DOB`` alike where one date of birth is missing. Different dates of
    birth never link."""
    persons = [
        (h.source, h.record, [norm.name(n) for n in (h.record.name, *h.record.aliases)])
        for h in hits
        if isinstance(h.record, PersonRecord)
    ]
    out = []
    for (sa, a, na), (sb, b, nb) in combinations(persons, 2):
        if sa == sb or (a.dob and b.dob and a.dob != b.dob):
            continue
        score = max(fuzz.token_sort_ratio(x, y) for x in na for y in nb)
        if a.dob and b.dob and score >= LINK_NAME_SCORE:
            reason = f"names {score:.0f}/100 alike (token sort), DOB {a.dob} in both"
        elif score >= LINK_NAME_SCORE_NO_DOB:
            missing = sa if a.dob is None else sb
            reason = f"names {score:.0f}/100 alike (token sort), no DOB in {missing}"
        else:
            continue
        out.append(PersonLink(sa, a.record_id, sb, b.record_id, float(score), reason))
    return out
