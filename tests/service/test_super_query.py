"""The super query: fan-out to entitled sources only, per-source outcomes, person links."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from mobileid.records.model import AddressRecord, Link, LinkKind, PersonRecord
from mobileid.records.query import RecordHit, RecordQuery, make_query
from mobileid.records.source import SqlRecordSource
from mobileid.service.super_query import SourceState, link_persons, super_query

# postgres_server is the session's real server (tests/conftest.py)
from tests.postgres import empty_postgres, free_port

SMITH = PersonRecord("P-1", "John Smith", dob=None)


class Tripwire:
    """A source the caller is not entitled to: any use of it is recorded and fails the test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.touched: list[str] = []

    def search(self, query: RecordQuery, *, limit: int = 50) -> list[RecordHit]:
        self.touched.append("search")
        raise AssertionError(f"{self.name} searched without entitlement")

    def __getattr__(self, attr: str) -> object:
        self.touched.append(attr)
        raise AssertionError(f"{self.name}.{attr} used without entitlement")


class Hanging:
    """A source that never answers until released."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = threading.Event()
        self.answered = threading.Event()

    def search(self, query: RecordQuery, *, limit: int = 50) -> list[RecordHit]:
        self.release.wait(30)
        self.answered.set()
        return []


class Exploding:
    name = "exploding"

    def search(self, query: RecordQuery, *, limit: int = 50) -> list[RecordHit]:
        raise RuntimeError("disk on fire")


def sqlite_source(path: Path, name: str, *records: PersonRecord | AddressRecord, links=()):
    return url_source(f"sqlite:///{path / (name + '.sqlite3')}", name, *records, links=links)


def url_source(url: str, name: str, *records: PersonRecord | AddressRecord, links=()):
    source = SqlRecordSource(name, url)
    source.add(list(records), list(links))
    return source


@pytest.fixture(scope="module")
def postgres_pair(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Two databases of our own on the test server (each source owns its tables)."""
    server: str = request.getfixturevalue("postgres_server")
    names = [f"mobileid_sq_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(server, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    base = server.rsplit("/", 1)[0]
    yield (f"{base}/{names[0]}", f"{base}/{names[1]}")
    with psycopg.connect(server, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def two_sources(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, SqlRecordSource]]:
    """Two real sources (SQLite files, or PostgreSQL databases) holding the same person,
    spelt differently, plus others."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / (n + '.sqlite3')}" for n in ("persons", "housing")]
    else:
        urls = [empty_postgres(u) for u in request.getfixturevalue("postgres_pair")]
    home = AddressRecord("AD-9", "1 MAIN ST")
    a = url_source(
        urls[0],
        "persons",
        PersonRecord("P-1", "John Smith", dob=date.fromisoformat("1980-05-17")),
        PersonRecord("P-2", "John Smith", dob=date.fromisoformat("1999-09-09")),
    )
    b = url_source(
        urls[1],
        "housing",
        PersonRecord("H-7", "Smith, Jon", dob=date.fromisoformat("1980-05-17")),
        home,
        links=[Link(LinkKind.RESIDENT, "H-7", "AD-9")],
    )
    yield {"persons": a, "housing": b}
    a.close()
    b.close()


def test_unentitled_sources_are_never_touched(two_sources):
    """A source outside the caller's entitlements is listed as not_entitled and never used."""
    wire = Tripwire("secret")
    result = super_query(
        make_query(name="John Smith"), {**two_sources, "secret": wire}, ["persons"]
    )
    states = {o.source: o.state for o in result.sources}
    assert states == {
        "persons": SourceState.ANSWERED,
        "housing": SourceState.NOT_ENTITLED,
        "secret": SourceState.NOT_ENTITLED,
    }
    assert wire.touched == [] and result.complete
    assert {h.source for h in result.hits} == {"persons"}


def test_the_same_person_in_two_sources_is_linked_with_the_reason(two_sources):
    """Name + equal DOB links records across sources; a different DOB never does; the
    housing record's address comes back one hop away."""
    result = super_query(make_query(name="John Smith"), two_sources, ["persons", "housing"])
    assert [{lk.a_record_id, lk.b_record_id} for lk in result.links] == [{"H-7", "P-1"}]
    assert "DOB 1980-05-17 in both" in result.links[0].reason
    hop = [h for h in result.hits if h.hop == 1]
    assert [(h.record.record_id, h.via) for h in hop] == [("AD-9", "H-7")]
    assert [h.hop for h in result.hits] == sorted(h.hop for h in result.hits)


def test_a_hanging_source_times_out_and_the_rest_still_answer(two_sources):
    """A source that does not answer is reported timed_out after the deadline, not awaited:
    the answer comes while it still hangs (it answers only once released, after that)."""
    hang = Hanging("slow")
    try:
        result = super_query(
            make_query(name="John Smith"),
            {**two_sources, "slow": hang},
            ["persons", "slow"],
            timeout_s=0.5,
        )
        assert not hang.answered.is_set()
    finally:
        hang.release.set()
    outcome = {o.source: o for o in result.sources}
    assert outcome["slow"].state is SourceState.TIMED_OUT and "0.5 s" in outcome["slow"].reason
    assert outcome["persons"].state is SourceState.ANSWERED and outcome["persons"].hits == 2
    assert not result.complete


def test_failing_refusing_and_unknown_sources_are_reported_not_raised(two_sources):
    """An exception, a refused PostgreSQL connection and an unregistered name each become a
    failed outcome with its reason; the other sources still answer."""
    down = SqlRecordSource("down", f"postgresql://u@127.0.0.1:{free_port()}/x", timeout_s=1)
    sources = {**two_sources, "exploding": Exploding(), "down": down}
    result = super_query(
        make_query(plate="ABC123"), sources, ["persons", "exploding", "down", "ghost"], timeout_s=5
    )
    down.close()
    outcome = {o.source: o for o in result.sources}
    assert outcome["exploding"].state is SourceState.FAILED
    assert outcome["exploding"].reason == "RuntimeError: disk on fire"
    assert outcome["down"].state is SourceState.FAILED and "refused" in outcome["down"].reason
    assert outcome["ghost"].state is SourceState.FAILED and "unknown" in outcome["ghost"].reason
    assert outcome["persons"].state is SourceState.ANSWERED and result.hits == ()
    assert not result.complete


def test_person_links_need_a_near_equal_name_when_a_dob_is_missing():
    """Without a DOB on one side, only near-identical names link, and the reason says so."""

    def hit(source: str, record: PersonRecord) -> RecordHit:
        return RecordHit(source, record, "test", 100.0)

    close = link_persons(
        [
            hit("a", SMITH),
            hit("b", PersonRecord("X", "Smith, John", dob=date.fromisoformat("1980-01-01"))),
        ]
    )
    assert len(close) == 1 and "no DOB in a" in close[0].reason
    far = link_persons([hit("a", SMITH), hit("b", PersonRecord("X", "Jon Smyth"))])
    assert far == []
    same_source = link_persons([hit("a", SMITH), hit("a", PersonRecord("X", "John Smith"))])
    assert same_source == []


def test_no_source_searched_is_not_a_complete_answer(two_sources):
    """With no entitlements at all nothing is queried, and the answer is not called complete."""
    result = super_query(make_query(name="John Smith"), two_sources, [])
    assert {o.state for o in result.sources} == {SourceState.NOT_ENTITLED}
    assert result.hits == () and not result.complete
