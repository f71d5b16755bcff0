"""Property tests of the records importer: any CSV or JSON file is checked into rows or refused
with an ``InputError``; an import is all or nothing; what is stored is what the file said
(bounded here, longer under ``make fuzz``)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobileid.errors import InputError
from mobileid.records.importer import check_file, import_records
from mobileid.records.model import PersonRecord
from mobileid.records.source import SqlRecordSource
from mobileid.records.validate import ALL_COLUMNS

pytestmark = pytest.mark.property

TODAY = date(2026, 1, 1)
COLUMNS = sorted(ALL_COLUMNS)
TYPES = ["person", "vehicle", "aircraft", "vessel", "address", "phone", "firearm", "link"]
# Any text a spreadsheet could hold, surrogates aside (they cannot be written as UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("import-properties")


@pytest.fixture(scope="module")
def source(folder: Path) -> Iterator[SqlRecordSource]:
    """One SQLite source for every example (each uses record ids of its own)."""
    opened = SqlRecordSource("prop", f"sqlite:///{folder / 'source.sqlite3'}", timeout_s=5.0)
    yield opened
    opened.close()


def _file(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    return path


def _checked(path: Path) -> None:
    try:
        out = check_file(path, today=TODAY)
    except InputError as exc:
        assert str(exc).startswith("FILE: expected ") and exc.field == "FILE"
        return
    for error in out.errors:
        assert error.row >= 0 and error.field and error.message


cell = st.one_of(TEXT, st.sampled_from(TYPES), st.sampled_from(["P-1", "1980-01-02", ";", '"']))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A header of known (and some unknown) columns, then rows of any cells, any length."""
    header = draw(st.lists(st.one_of(st.sampled_from(COLUMNS), TEXT), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(cell, max_size=10), max_size=6))
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    text = out.getvalue()
    if draw(st.booleans()):  # then damage the text itself: quotes, cuts, stray bytes
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\r", "\n", ",", "\x00", ""])) + text[at:]
    return text.encode("utf-8")


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def json_files(draw: st.DrawFn) -> bytes:
    """Lists (or {"records": [...]}) of objects with known columns and values of any JSON type."""
    row = st.dictionaries(
        st.one_of(st.sampled_from(COLUMNS), TEXT), st.one_of(json_value, st.sampled_from(TYPES))
    )
    rows = draw(st.lists(st.one_of(row, json_value), max_size=5))
    body: object = {"records": rows} if draw(st.booleans()) else rows
    if draw(st.booleans()):
        body = draw(json_value)
    return json.dumps(body).encode("utf-8")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_any_csv_is_checked_or_refused(folder: Path, data: bytes) -> None:
    """Any CSV, well-formed or damaged, gives rows and per-row problems, or an InputError."""
    _checked(_file(folder, ".csv", data))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(json_files())
def test_any_json_is_checked_or_refused(folder: Path, data: bytes) -> None:
    """Any JSON document, with values of any type where text is expected, gives rows and
    per-row problems, or an InputError."""
    _checked(_file(folder, ".json", data))


@given(st.binary(max_size=512), st.sampled_from([".csv", ".json"]))
def test_any_bytes_are_checked_or_refused(folder: Path, data: bytes, suffix: str) -> None:
    """Bytes that may not even be UTF-8 give rows and problems, or an InputError."""
    _checked(_file(folder, suffix, data))


@st.composite
def people(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(record id, name) rows; names of any characters, quotes, commas and line breaks."""
    names = draw(st.lists(TEXT, min_size=1, max_size=4))
    run = uuid.uuid4().hex[:8]
    return [(f"P-{run}-{i}", name) for i, name in enumerate(names)]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(people())
def test_an_import_is_all_or_nothing_and_stores_what_the_file_said(
    folder: Path, source: SqlRecordSource, rows: list[tuple[str, str]]
) -> None:
    """Either every row is stored, each name as written (cells are trimmed), or the file is
    refused and not one of its rows is stored."""
    out = io.StringIO()
    csv.writer(out).writerows([["record_type", "record_id", "name"]])
    csv.writer(out).writerows([["person", rid, name] for rid, name in rows])
    path = _file(folder, ".csv", out.getvalue().encode("utf-8"))
    try:
        report = import_records(source, path, today=TODAY)
    except InputError:
        assert [source.get(rid) for rid, _ in rows] == [None] * len(rows)
        return
    assert report.records == {"person": len(rows)}
    stored = [source.get(rid) for rid, _ in rows]
    assert all(isinstance(r, PersonRecord) for r in stored)
    assert [r.name for r in stored if isinstance(r, PersonRecord)] == [n.strip() for _, n in rows]
