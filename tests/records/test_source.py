"""The SQL record source on SQLite and PostgreSQL: schema, every search key, one-hop links."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy.exc import OperationalError

from mobileid.records.engine import describe_failure
from mobileid.records.errors import SourceUnavailable
from mobileid.records.importer import import_records
from mobileid.records.model import PersonRecord, RecordType
from mobileid.records.query import make_query
from mobileid.records.schema import head_revision
from mobileid.records.source import SqlRecordSource
from tests.postgres import free_port

TODAY = date(2026, 1, 1)
ROWS = [
    {
        "record_type": "person",
        "record_id": "P-1",
        "name": "John Smith",
        "dob": "1980-05-17",
        "aliases": ["Johnny Smithers"],
        "subject_id": "subj-42",
        "nationality": ["US"],
        "documents": ["passport:X1234567:US"],
    },
    {"record_type": "person", "record_id": "P-2", "name": "Smith, Jon", "dob": "1991-01-01"},
    {"record_type": "person", "record_id": "P-3", "name": "John Smyth"},
    {
        "record_type": "vehicle",
        "record_id": "V-1",
        "plate": "ABC 123",
        "plate_state": "CA",
        "vin": "1M8GDM9AXKP042788",
        "make": "Ford",
        "model": "Focus",
        "owner": "John Smith",
    },
    {"record_type": "aircraft", "record_id": "A-1", "tail_number": "N-123AB"},
    {"record_type": "vessel", "record_id": "S-1", "hull_id": "ABC12345D404", "flag": "US"},
    {"record_type": "address", "record_id": "AD-1", "address": "12 North Main Street, Apt. 4"},
    {"record_type": "phone", "record_id": "T-1", "number": "+1 212 555 0123"},
    {"record_type": "firearm", "record_id": "F-1", "serial": "gl-0042x", "make": "Glock"},
    {"record_type": "link", "link_kind": "owner", "from_id": "P-1", "to_id": "V-1"},
    {"record_type": "link", "link_kind": "resident", "from_id": "P-1", "to_id": "AD-1"},
    {"record_type": "link", "link_kind": "resident", "from_id": "P-2", "to_id": "AD-1"},
]


@pytest.fixture
def loaded(make_source, tmp_path) -> SqlRecordSource:
    source = make_source()
    (tmp_path / "rows.json").write_text(json.dumps(ROWS), encoding="utf-8")
    import_records(source, tmp_path / "rows.json", today=TODAY)
    return source


def test_schema_is_created_by_migration_and_migrating_again_is_harmless(make_source):
    """Alembic brings an empty database to the head revision; a second run changes nothing."""
    source = make_source()
    assert source.counts() == {}
    source.migrate()
    source.migrate()
    assert source.schema_revision() == head_revision()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("plate", "abc-123", "V-1"),
        ("vin", "1m8gdm9axkp042788", "V-1"),
        ("tail_number", "N123AB", "A-1"),
        ("hull_id", "abc-12345-d404", "S-1"),
        ("address", "12 N Main St Apt 4", "AD-1"),
        ("phone", "(212) 555-0123", "T-1"),
        ("serial", "GL0042X", "F-1"),
        ("subject_id", "subj-42", "P-1"),
        ("record_id", "P-3", "P-3"),
    ],
)
def test_every_exact_key_finds_its_record(loaded, key, value, expected):
    """Each key, written the way a person types it, finds the record (score 100, reason)."""
    hits = loaded.search(make_query(**{key: value}))
    assert hits[0].record.record_id == expected and hits[0].score == 100.0 and hits[0].hop == 0
    assert hits[0].source == "test" and hits[0].reason


def test_related_records_are_followed_one_hop(loaded):
    """An address brings its residents; a person brings what they own and where they live."""
    hits = loaded.search(make_query(address="12 north main st apt 4"))
    related = {(h.record.record_id, h.hop, h.reason) for h in hits}
    assert related == {
        ("AD-1", 0, "address 12 N MAIN ST APT 4"),
        ("P-1", 1, "resident of address AD-1"),
        ("P-2", 1, "resident of address AD-1"),
    }
    owned = {h.record.record_id: h for h in loaded.search(make_query(record_id="P-1"))}
    assert set(owned) == {"P-1", "V-1", "AD-1"}
    assert owned["V-1"].via == "P-1" and owned["V-1"].reason == "its owner is person P-1"


def test_fuzzy_name_search_with_and_without_dob(loaded):
    """Spelling variants, swapped order and aliases match; a DOB drops persons born on
    another day but keeps those whose DOB is unknown, and says which is which."""
    found = {
        h.record.record_id: h for h in loaded.search(make_query(name="John Smith")) if not h.hop
    }
    assert set(found) == {"P-1", "P-2", "P-3"}
    assert found["P-1"].score == 100.0 and all(85 <= found[i].score < 100 for i in ("P-2", "P-3"))
    dob = {
        h.record.record_id: h
        for h in loaded.search(make_query(name="John Smith", dob="1980-05-17"))
    }
    hop0 = {i: h for i, h in dob.items() if h.hop == 0}
    assert set(hop0) == {"P-1", "P-3"}
    assert hop0["P-1"].reason.endswith("DOB equal") and hop0["P-3"].reason.endswith(
        "DOB not on record"
    )
    alias = loaded.search(make_query(name="Johnny Smithers"))
    assert alias[0].record.record_id == "P-1" and alias[0].score == 100.0
    assert loaded.search(make_query(name="Mary Jones")) == []


def test_counts_and_records_are_typed(loaded):
    """Counts are per type, and a record read back is the typed value that was imported."""
    assert loaded.counts() == {
        "person": 3,
        "vehicle": 1,
        "aircraft": 1,
        "vessel": 1,
        "address": 1,
        "phone": 1,
        "firearm": 1,
    }
    person = loaded.get("P-1")
    assert person is not None and person.record_type is RecordType.PERSON
    assert loaded.get("nope") is None


def test_a_source_that_refuses_connections_is_a_clear_error():
    """A PostgreSQL URL to a closed port fails fast with the reason, on write and on search."""
    with SqlRecordSource("down", f"postgresql://u@127.0.0.1:{free_port()}/x", timeout_s=1) as s:
        with pytest.raises(
            SourceUnavailable, match=r"expected a reachable database, got .*refused"
        ):
            s.migrate()
        with pytest.raises(OperationalError) as caught:
            s.search(make_query(plate="ABC123"))
        assert "refused" in describe_failure(caught.value)


def test_a_clashing_write_is_refused_whole(make_source):
    """A batch whose last record clashes with a stored one writes nothing, on both engines."""
    source = make_source()
    source.add([PersonRecord("P-1", "Ann Lee")])
    with pytest.raises(SourceUnavailable, match="nothing written, a record or link clashes"):
        source.add([PersonRecord("P-2", "Bo Ek"), PersonRecord("P-1", "Ann Lee")])
    assert source.counts() == {"person": 1} and source.get("P-2") is None
