"""Import: every row is checked, and a file with any bad row is refused whole, on both engines."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mobileid.errors import InputError, InvalidArgument
from mobileid.records.errors import ImportRejected
from mobileid.records.importer import import_records
from mobileid.records.model import CaseStatus, PersonRecord, RecordType
from mobileid.records.query import make_query

TODAY = date(2026, 1, 1)
HEADER = "record_type,record_id,name,aliases,dob,plate,vin,number,link_kind,from_id,to_id"
GOOD = [
    "person,P-1,John Smith,Johnny Smith;J. Smith,1980-05-17,,,,,,",
    "vehicle,V-1,,,,ABC 123,1M8GDM9AXKP042788,,,,",
    "phone,T-1,,,,,,(212) 555-0123,,,",
    "link,,,,,,,,owner,P-1,V-1",
    "link,,,,,,,,subscriber,P-1,T-1",
]


def write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_valid_csv_is_imported_with_normalised_keys(make_source, tmp_path):
    """Records and links arrive typed and normalised, and are found by their keys."""
    source = make_source()
    report = import_records(source, write_csv(tmp_path / "ok.csv", *GOOD), today=TODAY)
    assert report.records == {"person": 1, "vehicle": 1, "phone": 1} and report.links == 2
    person = source.get("P-1")
    assert isinstance(person, PersonRecord)
    assert person.aliases == ("Johnny Smith", "J. Smith") and person.dob == date(1980, 5, 17)
    assert person.source == "test"
    hits = source.search(make_query(plate="abc-123"))
    assert [(h.record.record_id, h.hop) for h in hits] == [("V-1", 0), ("P-1", 1)]
    assert hits[1].reason == "owner of vehicle V-1"
    assert source.search(make_query(phone="+1 212 555 0123"))[0].record.record_id == "T-1"


@pytest.mark.parametrize(
    ("row", "field", "expected"),
    [
        ("person,P-2,Ann Lee,,1980-02-30,,,,,,", "dob", "YYYY-MM-DD"),
        ("person,P-2,Ann Lee,,17/05/1980,,,,,,", "dob", "YYYY-MM-DD"),
        ("person,P-2,Ann Lee,,2030-01-01,,,,,,", "dob", "future"),
        ("person,P-2,Ann Lee,,1801-01-01,,,,,,", "dob", "date of birth from"),
        ("phone,T-2,,,,,,555-01,,,", "number", "phone number"),
        ("vehicle,V-2,,,,XY1,1M8GDM9A1KP042788,,,,", "vin", "check digit"),
        ("person,P-2," + "A" * 300 + ",,,,,,,,", "name", "at most 256 characters"),
        ("vehicle,V-2,,,,,,,,,", "plate", "required"),
        ("person,P-2,Ann Lee,,,ABC1,,,,,", "plate", "does not apply to a person"),
        ("spaceship,S-1,,,,,,,,,", "record_type", "expected one of"),
        ("person,P'2,Ann Lee,,,,,,,,", "record_id", "letters, digits"),
        ("person,P-1,Ann Lee,,,,,,,,", "record_id", "already given in row 1"),
        ("link,,,,,,,,owner,P-1,NOPE", "to_id", "expected a record in this file"),
        ("link,,,,,,,,resident,P-1,V-1", "to_id", "a resident link expects address"),
        ("link,,,,,,,,father,P-1,V-1", "link_kind", "expected one of owner, resident"),
    ],
)
def test_one_bad_row_rejects_the_whole_file_with_its_row_number(
    make_source, tmp_path, row, field, expected
):
    """Malformed dates, impossible DOBs, bad phones and VINs, over-long fields, misplaced
    columns and dangling links are reported by row and field, and nothing is written."""
    source = make_source()
    path = write_csv(tmp_path / "bad.csv", *GOOD, row)
    with pytest.raises(ImportRejected) as caught:
        import_records(source, path, today=TODAY)
    assert isinstance(caught.value, InputError)
    errors = [e for e in caught.value.errors if e.field == field]
    assert errors and errors[0].row == len(GOOD) + 1 and expected in errors[0].message
    assert f"row {len(GOOD) + 1}: {field}:" in caught.value.message
    assert source.counts() == {}  # the good rows before it were not written either


def test_unknown_columns_and_json_errors_are_reported(make_source, tmp_path):
    """An unknown CSV column is a header error; a JSON row of the wrong shape is row-numbered."""
    source = make_source()
    with pytest.raises(ImportRejected, match="header: ssn: unknown column"):
        import_records(source, write_csv(tmp_path / "a.csv", *GOOD, header=HEADER + ",ssn"))
    rows = [
        {"record_type": "person", "record_id": "P-9", "name": "Ann Lee", "dob": 19800101},
        {"record_type": "person", "record_id": "P-8", "name": "Bo Ek", "eye_colour": "blue"},
        "not an object",
    ]
    (tmp_path / "b.json").write_text(json.dumps({"records": rows}), encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_records(source, tmp_path / "b.json", today=TODAY)
    assert [(e.row, e.field) for e in caught.value.errors] == [
        (1, "dob"),
        (2, "eye_colour"),
        (3, "record_type"),
    ]
    assert source.counts() == {}


def test_records_already_in_the_source_reject_the_second_import(make_source, tmp_path):
    """Importing the same file twice refuses the second one and leaves the first intact."""
    source = make_source()
    path = write_csv(tmp_path / "ok.csv", *GOOD)
    import_records(source, path, today=TODAY)
    with pytest.raises(ImportRejected, match="'P-1' is already in source 'test'"):
        import_records(source, path, today=TODAY)
    assert source.counts() == {"person": 1, "vehicle": 1, "phone": 1}


def test_types_the_source_does_not_hold_are_refused(make_source, tmp_path):
    """A row of a record type outside the source's registry entry rejects the file."""
    source = make_source()
    with pytest.raises(ImportRejected, match="expected a type this source holds"):
        import_records(
            source, write_csv(tmp_path / "ok.csv", *GOOD), allowed_types=[RecordType.PERSON]
        )


def test_unreadable_and_unsupported_files_are_input_errors(make_source, tmp_path):
    """A missing file, an unknown extension and broken JSON are clear errors, not crashes."""
    source = make_source()
    (tmp_path / "x.xml").write_text("<a/>")
    (tmp_path / "broken.json").write_text("[{")
    (tmp_path / "empty.csv").write_text("")
    for name, message in (
        ("missing.csv", "readable file"),
        ("x.xml", ".csv or .json"),
        ("broken.json", "UTF-8 JSON"),
        ("empty.csv", "header row"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            import_records(source, tmp_path / name)


def test_sql_metacharacters_are_stored_and_searched_as_data(make_source, tmp_path):
    """Quotes, semicolons, comment markers and LIKE wildcards are data: stored verbatim,
    found by search, and no table is harmed (queries are parameterised)."""
    source = make_source()
    name = "Robert'); DROP TABLE records;-- O'Brien"
    row = {
        "record_type": "person",
        "record_id": "P-X",
        "name": name,
        "aliases": ['100% _Bobby_ \\ "Tables"'],
        "case_status": "open'; DELETE FROM links; --",
        "case_status_source": 'x" OR 1=1 --',
        "case_status_date": "2025-01-01",
    }
    (tmp_path / "evil.json").write_text(json.dumps([row]), encoding="utf-8")
    import_records(source, tmp_path / "evil.json", today=TODAY)
    got = source.get("P-X")
    assert isinstance(got, PersonRecord) and got.name == name
    assert got.case_status == CaseStatus(
        row["case_status"], row["case_status_source"], date(2025, 1, 1)
    )
    assert [h.record.record_id for h in source.search(make_query(name=name))] == ["P-X"]
    assert [h.record.record_id for h in source.search(make_query(name="Bobby Tables"))] == ["P-X"]
    raw = make_query(plate="X")  # bypass the normaliser: the raw text reaches the database
    assert source.search(replace(raw, plate="X' OR '1'='1", record_id="' OR 1=1 --")) == []
    assert source.counts() == {"person": 1}
