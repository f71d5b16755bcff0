"""A record query: the keys a super query searches by, normalised once before fan-out, and the
hits a source answers with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from mobileid.records import normalise as norm
from mobileid.records.errors import InvalidQuery
from mobileid.records.model import Record

MAX_QUERY_LEN = 256


@dataclass(frozen=True)
class RecordQuery:
    """Normalised keys; empty means "not searched by". Build it with :func:`make_query`."""

    name: str = ""  # normalised (see ``normalise.name``)
    dob: date | None = None  # narrows a name search; never searched alone
    subject_id: str = ""
    record_id: str = ""
    plate: str = ""
    vin: str = ""
    tail_number: str = ""
    hull_id: str = ""
    address: str = ""
    phone: str = ""  # E.164
    serial: str = ""

    def exact_keys(self) -> list[tuple[str, str, str]]:
        """(stored key kind, value, words for the match reason) for each exact key given."""
        pairs = [
            ("subject", self.subject_id, "subject id"),
            ("plate", self.plate, "plate"),
            ("vin", self.vin, "VIN"),
            ("tail", self.tail_number, "tail number"),
            ("hull", self.hull_id, "hull id"),
            ("address", self.address, "address"),
            ("phone", self.phone, "phone"),
            ("serial", self.serial, "serial"),
        ]
        return [p for p in pairs if p[1]]

    def describe(self) -> str:
        return ", ".join(
            f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name)
        )


@dataclass(frozen=True)
class RecordHit:
    """One record a source answered with, and why: a lead for review, not a finding."""

    source: str
    record: Record
    reason: str
    score: float  # 100 for an exact key; the name similarity (0-100) for a name match
    hop: int = 0  # 0: matched the query; 1: linked to a record that did
    via: str = ""  # for hop 1, the record_id it was reached through


def make_query(
    *,
    name: str = "",
    dob: str = "",
    subject_id: str = "",
    record_id: str = "",
    plate: str = "",
    vin: str = "",
    tail_number: str = "",
    hull_id: str = "",
    address: str = "",
    phone: str = "",
    serial: str = "",
    phone_region: str | None = "US",
    today: date | None = None,
) -> RecordQuery:
    """Validate and normalise raw query text; InvalidQuery names the field that is wrong."""
    raw = {
        "name": name,
        "dob": dob,
        "subject_id": subject_id,
        "record_id": record_id,
        "plate": plate,
        "vin": vin,
        "tail_number": tail_number,
        "hull_id": hull_id,
        "address": address,
        "phone": phone,
        "serial": serial,
    }
    given = {k: v.strip() for k, v in raw.items() if v and v.strip()}
    if not set(given) - {"dob"}:
        raise InvalidQuery(
            "query: expected at least one of name, subject_id, record_id, plate, vin, "
            "tail_number, hull_id, address, phone, serial; got none",
            field="query",
        )
    if "dob" in given and "name" not in given:
        raise InvalidQuery("dob: expected together with a name, got a DOB alone", field="dob")
    for key, value in given.items():
        if len(value) > MAX_QUERY_LEN:
            raise InvalidQuery(
                f"{key}: expected at most {MAX_QUERY_LEN} characters, got {len(value)}", field=key
            )
    parsers: dict[str, Callable[[str], object]] = {
        "name": norm.name,
        "dob": lambda v: norm.check_dob(norm.parse_date(v), today or date.today()),
        "plate": lambda v: norm.key(v, max_len=10),
        "vin": norm.vin,
        "tail_number": lambda v: norm.key(v, max_len=10),
        "hull_id": lambda v: norm.key(v, max_len=20),
        "address": norm.address,
        "phone": lambda v: norm.phone_e164(v, phone_region),
        "serial": norm.key,
    }
    values: dict[str, Any] = {}
    for key, value in given.items():
        try:
            values[key] = parsers[key](value) if key in parsers else value
        except ValueError as exc:
            raise InvalidQuery(f"{key}: {exc}", field=key) from None
    return RecordQuery(**values)
