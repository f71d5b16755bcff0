"""The super query over real engines at once: SQLite and PostgreSQL side by side, and a
PostgreSQL source held up by a lock (a real hang) timing out."""

from __future__ import annotations

import time
from datetime import date

import psycopg

from mobileid.records.model import PersonRecord
from mobileid.records.query import make_query
from mobileid.records.source import SqlRecordSource
from mobileid.service.super_query import SourceState, super_query
from tests.postgres import empty_postgres

DOB = date(1975, 3, 14)


def test_one_person_on_sqlite_and_postgresql_is_linked(tmp_path, postgres_database):
    """Both engines answer the same query and the person in each is linked by name + DOB."""
    lite = SqlRecordSource("lite", f"sqlite:///{tmp_path / 'lite.sqlite3'}")
    pg = SqlRecordSource("pg", empty_postgres(postgres_database))
    try:
        lite.add([PersonRecord("L-1", "Maria Garcia", dob=DOB)])
        pg.add([PersonRecord("G-1", "Garcia, María", dob=DOB)])
        result = super_query(
            make_query(name="Maria Garcia"), {"lite": lite, "pg": pg}, ["lite", "pg"]
        )
    finally:
        lite.close()
        pg.close()
    assert [(o.source, o.state, o.hits) for o in result.sources] == [
        ("lite", SourceState.ANSWERED, 1),
        ("pg", SourceState.ANSWERED, 1),
    ]
    assert result.complete and len(result.links) == 1
    assert "DOB 1975-03-14 in both" in result.links[0].reason


def test_a_locked_postgresql_source_times_out_and_the_server_ends_the_query(postgres_database):
    """A table held by another session's exclusive lock makes the source hang: the fan-out
    reports it timed out at its deadline, and the statement timeout frees the worker."""
    url = empty_postgres(postgres_database)
    source = SqlRecordSource("locked", url, timeout_s=1.0)
    source.add([PersonRecord("P-1", "Ann Lee")])
    with psycopg.connect(url, autocommit=False) as blocker:
        blocker.execute("LOCK TABLE record_names IN ACCESS EXCLUSIVE MODE")
        result = super_query(
            make_query(name="Ann Lee"), {"locked": source}, ["locked"], timeout_s=0.3
        )
        time.sleep(1.5)  # past the 1 s statement timeout: the server has cancelled the query
        with psycopg.connect(url, autocommit=True) as watcher:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE '%record_names%' AND pid <> pg_backend_pid()"
            ).fetchone()
        blocker.rollback()
    assert waiting == (0,)
    source.close()
    assert result.sources[0].state is SourceState.TIMED_OUT and "0.3 s" in result.sources[0].reason
    assert not result.complete
