"""Turn one import row (CSV cells or a JSON object) into a typed record, or say what is wrong.

A row names its ``record_type`` (person, vehicle, aircraft, vessel, address, phone, firearm or
link). List fields (aliases, nationality, documents) are ``;``-separated text in CSV and either
that or a JSON list of strings in JSON. A document is ``KIND:NUMBER`` or ``KIND:NUMBER:ISSUER``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mobileid.records import normalise as norm
from mobileid.records.model import (
    RECORD_CLASSES,
    CaseStatus,
    IdentityDocument,
    Link,
    LinkKind,
    Record,
    RecordType,
)
from mobileid.records.schema import ID_LEN, NAME_LEN

TEXT_LEN = 128  # free-text fields (make, model, owner, carrier, ...)
ADDRESS_LEN = 256
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")


@dataclass(frozen=True)
class RowContext:
    today: date
    phone_region: str | None = "US"  # assumed for numbers written without +country code


Parse = Callable[[str, RowContext], Any]


@dataclass(frozen=True)
class FieldSpec:
    parse: Parse
    max_len: int = TEXT_LEN
    required: bool = False
    many: bool = False  # a list: ';'-separated text or a JSON list


class RowInvalid(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _text(raw: str, _ctx: RowContext) -> str:
    return raw


def _record_id(raw: str, _ctx: RowContext) -> str:
    if not _RECORD_ID.fullmatch(raw):
        raise ValueError(f"expected letters, digits and . _ : / - only, got {raw!r}")
    return raw


def _name(raw: str, _ctx: RowContext) -> str:
    norm.name(raw)  # a name must have letters to compare; it is stored as written
    return raw


def _key(max_len: int) -> Parse:
    return lambda raw, _ctx: norm.key(raw, max_len=max_len)


def _document(raw: str, _ctx: RowContext) -> IdentityDocument:
    parts = [p.strip() for p in raw.split(":")]
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"expected KIND:NUMBER or KIND:NUMBER:ISSUER, got {raw!r}")
    return IdentityDocument(
        parts[0].lower(), norm.key(parts[1]), parts[2] if len(parts) == 3 else ""
    )


def _link_kind(raw: str, _ctx: RowContext) -> LinkKind:
    try:
        return LinkKind(raw.lower())
    except ValueError:
        kinds = ", ".join(k.value for k in LinkKind)
        raise ValueError(f"expected one of {kinds}, got {raw!r}") from None


def _dob(raw: str, ctx: RowContext) -> date:
    return norm.check_dob(norm.parse_date(raw), ctx.today)


def _past_date(raw: str, ctx: RowContext) -> date:
    d = norm.parse_date(raw)
    if d > ctx.today:
        raise ValueError(f"expected a date not after {ctx.today}, got {d} (future)")
    return d


COMMON: dict[str, FieldSpec] = {
    "record_type": FieldSpec(_text, 16),
    "record_id": FieldSpec(_record_id, ID_LEN, required=True),
    "synthetic": FieldSpec(_text, 5),
}
SPECS: dict[str, dict[str, FieldSpec]] = {
    RecordType.PERSON: {
        "name": FieldSpec(_name, NAME_LEN, required=True),
        "aliases": FieldSpec(_name, NAME_LEN, many=True),
        "dob": FieldSpec(_dob, 10),
        "nationality": FieldSpec(lambda r, _c: norm.country(r), 3, many=True),
        "documents": FieldSpec(_document, 80, many=True),
        "case_status": FieldSpec(_text),
        "case_status_source": FieldSpec(_text),
        "case_status_date": FieldSpec(_past_date, 10),
        "subject_id": FieldSpec(_record_id, ID_LEN),
    },
    RecordType.VEHICLE: {
        "plate": FieldSpec(_key(10), 16, required=True),
        "plate_state": FieldSpec(lambda r, _c: norm.key(r, max_len=6), 8),
        "vin": FieldSpec(lambda r, _c: norm.vin(r), 20),
        "make": FieldSpec(_text),
        "model": FieldSpec(_text),
        "owner": FieldSpec(_text, NAME_LEN),
    },
    RecordType.AIRCRAFT: {
        "tail_number": FieldSpec(_key(10), 12, required=True),
        "aircraft_type": FieldSpec(_text),
        "owner": FieldSpec(_text, NAME_LEN),
    },
    RecordType.VESSEL: {
        "hull_id": FieldSpec(_key(20), 24, required=True),
        "name": FieldSpec(_text),
        "flag": FieldSpec(lambda r, _c: norm.country(r), 3),
        "owner": FieldSpec(_text, NAME_LEN),
    },
    RecordType.ADDRESS: {
        "address": FieldSpec(lambda r, _c: norm.address(r), ADDRESS_LEN, required=True),
        "country": FieldSpec(lambda r, _c: norm.country(r), 3),
    },
    RecordType.PHONE: {
        "number": FieldSpec(lambda r, c: norm.phone_e164(r, c.phone_region), 32, required=True),
        "carrier": FieldSpec(_text),
    },
    RecordType.FIREARM: {
        "serial": FieldSpec(_key(32), 40, required=True),
        "make": FieldSpec(_text),
        "model": FieldSpec(_text),
        "owner": FieldSpec(_text, NAME_LEN),
    },
    "link": {
        "link_kind": FieldSpec(_link_kind, 16, required=True),
        "from_id": FieldSpec(_record_id, ID_LEN, required=True),
        "to_id": FieldSpec(_record_id, ID_LEN, required=True),
    },
}
ALL_COLUMNS = frozenset(COMMON).union(*(spec.keys() for spec in SPECS.values()))
KINDS = ", ".join(SPECS)


def _cells(value: object, spec: FieldSpec) -> list[str]:
    """The cell as a list of stripped strings (one element unless ``many``); [] when empty."""
    if value is None:
        return []
    if isinstance(value, list) and spec.many:
        items = value
    elif isinstance(value, str):
        items = value.split(";") if spec.many else [value]
    else:
        raise ValueError(f"expected text, got {type(value).__name__}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected text, got {type(item).__name__}")
        item = item.strip()
        if len(item) > spec.max_len:
            raise ValueError(f"expected at most {spec.max_len} characters, got {len(item)}")
        if "\x00" in item:
            raise ValueError("expected text, got a NUL character")
        if item:
            out.append(item)
    return out


def _synthetic(value: object) -> bool:
    if value in (None, "", False, "false", "0", "no"):
        return False
    if value in (True, "true", "1", "yes"):
        return True
    raise ValueError(f"expected true or false, got {value!r}")


def parse_row(row: Mapping[str, object], ctx: RowContext) -> Record | Link:
    """The row as a record or a link; RowInvalid listing every problem in it."""
    problems: list[tuple[str, str]] = []
    kind = str(row.get("record_type") or "").strip().lower()
    if kind not in SPECS:
        raise RowInvalid([("record_type", f"expected one of {KINDS}, got {kind or 'nothing'!r}")])
    spec = SPECS[kind] if kind == "link" else {**COMMON, **SPECS[kind]}
    values: dict[str, Any] = {}
    for column, raw in row.items():
        if column not in ALL_COLUMNS:
            problems.append((column, "unknown column") if column else ("-", "empty column name"))
        elif column not in spec:
            if raw not in (None, "", []) and column not in COMMON:
                problems.append((column, f"does not apply to a {kind} record"))
        elif column == "synthetic":
            try:
                values[column] = _synthetic(raw)
            except ValueError as exc:
                problems.append((column, str(exc)))
        else:
            try:
                parsed = [spec[column].parse(c, ctx) for c in _cells(raw, spec[column])]
            except ValueError as exc:
                problems.append((column, str(exc)))
                continue
            if parsed:
                values[column] = tuple(parsed) if spec[column].many else parsed[0]
    problems += [
        (c, "required, got nothing")
        for c, s in spec.items()
        if s.required and c not in values and c not in dict(problems)
    ]
    if problems:
        raise RowInvalid(problems)
    if kind == "link":
        return Link(values["link_kind"], values["from_id"], values["to_id"])
    return _build(RecordType(kind), values)


def _build(kind: RecordType, values: dict[str, Any]) -> Record:
    values.pop("record_type", None)
    if kind is RecordType.PERSON:
        status = [
            values.pop(k, None) for k in ("case_status", "case_status_source", "case_status_date")
        ]
        if any(status) and not all(status):
            raise RowInvalid(
                [
                    (
                        "case_status",
                        "expected case_status, case_status_source and case_status_date "
                        "together (a status always says who recorded it and when)",
                    )
                ]
            )
        if all(status):
            values["case_status"] = CaseStatus(status[0], status[1], status[2])
    return RECORD_CLASSES[kind](**values)
