"""``import_records``: a CSV or JSON file into a source, every row checked, all or nothing.

Rows are numbered from 1 in file order (a CSV header is not a row; a JSON file is a list of
objects, or an object whose ``records`` member is). A file with any invalid row is rejected
whole, with every problem listed by row, and nothing is written: the rows are all checked
before the one transaction that writes them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mobileid.capture.files import read_regular
from mobileid.errors import InvalidArgument
from mobileid.records.errors import ImportRejected, RowError
from mobileid.records.model import LINK_TARGETS, Link, Record, RecordType
from mobileid.records.source import SqlRecordSource
from mobileid.records.validate import ALL_COLUMNS, RowContext, RowInvalid, parse_row

MAX_FILE_BYTES = 1 << 30
MAX_ERRORS = 1000  # past this many problems the file is clearly not what was meant


@dataclass(frozen=True)
class ImportReport:
    source: str
    file: str
    records: dict[str, int]  # per record type
    links: int
    synthetic: int


def _read_rows(path: Path, errors: list[RowError]) -> Iterator[Mapping[str, object]]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InvalidArgument(
            f"FILE: expected a .csv or .json file, got {path.name!r}", field="FILE"
        )
    # Only a regular file, read whole under the limit: a FIFO or /dev/zero named FILE.csv is
    # refused instead of hanging or filling memory.
    data = read_regular(path, MAX_FILE_BYTES, field="FILE", too_large=InvalidArgument)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"FILE: expected UTF-8, got {exc}", field="FILE") from None
    if suffix == ".csv":
        yield from _csv_rows(text, errors)
    else:
        yield from _json_rows(text)


def _csv_rows(text: str, errors: list[RowError]) -> Iterator[Mapping[str, object]]:
    try:
        with io.StringIO(text, newline="") as fh:
            # strict: an unterminated quote is an error, not a row that swallows the rest.
            reader = csv.DictReader(fh, strict=True)
            header = reader.fieldnames or []
            if not header:
                raise InvalidArgument(
                    "FILE: expected a CSV header row, got an empty file", field="FILE"
                )
            errors += [
                RowError(
                    0,
                    c or f"column {i}",
                    "unknown column" if c else "expected a column name, got none",
                )
                for i, c in enumerate(header, 1)
                if c not in ALL_COLUMNS
            ]
            errors += [
                RowError(0, c, "column given twice")
                for c, n in Counter(header).items()
                if n > 1 and c
            ]
            for i, row in enumerate(reader, 1):
                extra = row.pop(None, None)
                if extra:
                    errors.append(RowError(i, "-", f"expected {len(header)} cells, got more"))
                yield {k: v for k, v in row.items() if k in ALL_COLUMNS}
    except csv.Error as exc:
        raise InvalidArgument(f"FILE: expected well-formed CSV, got {exc}", field="FILE") from None


def _json_rows(text: str) -> Iterator[Mapping[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"FILE: expected UTF-8 JSON, got {exc}", field="FILE") from None
    rows = data.get("records") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InvalidArgument(
            "FILE: expected a JSON list of records or an object with a 'records' list",
            field="FILE",
        )
    for row in rows:
        yield row if isinstance(row, dict) else {"record_type": None, "-": row}


@dataclass(frozen=True)
class CheckedFile:
    """Every row of a file parsed on its own, with its row number; ``errors`` empty if valid."""

    records: list[tuple[int, Record]]
    links: list[tuple[int, Link]]
    errors: list[RowError]


def check_file(
    path: Path,
    *,
    allowed_types: Collection[RecordType] | None = None,
    phone_region: str | None = "US",
    today: date | None = None,
) -> CheckedFile:
    """Parse and check every row of the file (no source is consulted)."""
    ctx = RowContext(today=today or date.today(), phone_region=phone_region)
    out = CheckedFile([], [], [])
    first_row: dict[str, int] = {}
    for i, row in enumerate(_read_rows(path, out.errors), 1):
        if len(out.errors) >= MAX_ERRORS:
            out.errors.append(RowError(i, "-", f"stopped checking after {MAX_ERRORS} problems"))
            break
        try:
            parsed = parse_row(row, ctx)
        except RowInvalid as exc:
            out.errors.extend(RowError(i, f, m) for f, m in exc.problems)
            continue
        if isinstance(parsed, Link):
            out.links.append((i, parsed))
            continue
        if allowed_types is not None and parsed.record_type not in allowed_types:
            held = ", ".join(t.value for t in allowed_types)
            out.errors.append(
                RowError(
                    i,
                    "record_type",
                    f"expected a type this source holds ({held}), got {parsed.record_type.value!r}",
                )
            )
        if parsed.record_id in first_row:
            out.errors.append(
                RowError(
                    i,
                    "record_id",
                    f"{parsed.record_id!r} already given in row {first_row[parsed.record_id]}",
                )
            )
        first_row.setdefault(parsed.record_id, i)
        out.records.append((i, parsed))
    if not out.records and not out.links and not out.errors:
        out.errors.append(RowError(0, "-", "expected at least one row, got none"))
    return out


def _check_links(
    checked: CheckedFile, held: Mapping[str, RecordType], source: SqlRecordSource
) -> list[RowError]:
    types = {**held, **{r.record_id: r.record_type for _, r in checked.records}}
    errors: list[RowError] = []
    for row, link in checked.links:
        if types.get(link.from_id, RecordType.PERSON) is not RecordType.PERSON:
            errors.append(
                RowError(row, "from_id", f"expected a person, got a {types[link.from_id].value}")
            )
        for field, rid in (("from_id", link.from_id), ("to_id", link.to_id)):
            if rid not in types:
                errors.append(
                    RowError(
                        row,
                        field,
                        f"expected a record in this file or in source {source.name!r}, got {rid!r}",
                    )
                )
        target = types.get(link.to_id)
        if target is not None and target not in LINK_TARGETS[link.kind]:
            allowed = ", ".join(sorted(t.value for t in LINK_TARGETS[link.kind]))
            errors.append(
                RowError(
                    row,
                    "to_id",
                    f"a {link.kind.value} link expects {allowed}, got a {target.value}",
                )
            )
        elif link.from_id in held and link.to_id in held and source.has_link(link):
            errors.append(RowError(row, "link_kind", "this link is already in the source"))
    return errors


def import_records(
    source: SqlRecordSource,
    file: Path,
    *,
    allowed_types: Collection[RecordType] | None = None,
    phone_region: str | None = "US",
    today: date | None = None,
) -> ImportReport:
    """Import the file into the source, all or nothing; ImportRejected lists every problem.

    ``allowed_types``: the record types the source's registry entry says it holds.
    ``phone_region``: the country assumed for phone numbers written without +code."""
    checked = check_file(file, allowed_types=allowed_types, phone_region=phone_region, today=today)
    source.migrate()
    ends = [x for _, lk in checked.links for x in (lk.from_id, lk.to_id)]
    held = source.types_of([*(r.record_id for _, r in checked.records), *ends])
    errors = list(checked.errors)
    errors += [
        RowError(row, "record_id", f"{r.record_id!r} is already in source {source.name!r}")
        for row, r in checked.records
        if r.record_id in held
    ]
    errors += _check_links(checked, held, source)
    if errors:
        raise ImportRejected(str(file), tuple(sorted(errors, key=lambda e: e.row)))
    items = [r for _, r in checked.records]
    source.add(items, [lk for _, lk in checked.links])
    return ImportReport(
        source=source.name,
        file=str(file),
        records=dict(Counter(r.record_type.value for r in items)),
        links=len(checked.links),
        synthetic=sum(r.synthetic for r in items),
    )
