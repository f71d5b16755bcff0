"""Record-source fixtures: every source test runs on SQLite and on a real PostgreSQL server
(the session's server, see ``tests/postgres.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mobileid.records.model import RecordType
from mobileid.records.registry import SourceEntry
from mobileid.records.source import SqlRecordSource
from tests.postgres import ENGINES, empty_postgres


@pytest.fixture(params=ENGINES)
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty record-source URL on each engine in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.sqlite3'}"
    return empty_postgres(request.getfixturevalue("postgres_database"))


@pytest.fixture
def make_source(source_url: str) -> Iterator[Callable[[str], SqlRecordSource]]:
    """Opens sources on the parametrized engine and closes them after the test."""
    opened: list[SqlRecordSource] = []

    def make(name: str = "test") -> SqlRecordSource:
        source = SqlRecordSource(name, source_url, timeout_s=5.0)
        opened.append(source)
        return source

    yield make
    for source in opened:
        source.close()


def entry(name: str = "test", *types: RecordType) -> SourceEntry:
    return SourceEntry(
        name=name,
        agency="Test agency",
        legal_authority="test statute s.1",
        record_types=types or tuple(RecordType),
        retention="deleted after the test",
        entitlement=f"records.{name}",
    )
