"""Records as frozen typed values: persons, vehicles, aircraft, vessels, addresses, phones,
firearms, and the links between them.

Every record has a ``record_id``: the source's own record number, unique within that source
across all record types (links name records by it). ``source`` is filled in when a record is
read back, so a record always says where it came from. ``synthetic`` marks generated demo and
training data; it is shown beside the record wherever it is printed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class RecordType(enum.StrEnum):
    PERSON = "person"
    VEHICLE = "vehicle"
    AIRCRAFT = "aircraft"
    VESSEL = "vessel"
    ADDRESS = "address"
    PHONE = "phone"
    FIREARM = "firearm"


class LinkKind(enum.StrEnum):
    """Links point from a person to what the person owns, lives at or subscribes to."""

    OWNER = "owner"  # person -> vehicle, aircraft, vessel or firearm
    RESIDENT = "resident"  # person -> address
    SUBSCRIBER = "subscriber"  # person -> phone


LINK_TARGETS: dict[LinkKind, frozenset[RecordType]] = {
    LinkKind.OWNER: frozenset(
        {RecordType.VEHICLE, RecordType.AIRCRAFT, RecordType.VESSEL, RecordType.FIREARM}
    ),
    LinkKind.RESIDENT: frozenset({RecordType.ADDRESS}),
    LinkKind.SUBSCRIBER: frozenset({RecordType.PHONE}),
}


@dataclass(frozen=True)
class IdentityDocument:
    kind: str  # "passport", "national_id", "driving_licence", ...
    number: str
    issuer: str = ""  # ISO 3166 country code or issuing authority


@dataclass(frozen=True)
class CaseStatus:
    """A status as some authority recorded it, with who said so and when: never a verdict."""

    status: str
    source: str
    as_of: date


@dataclass(frozen=True)
class PersonRecord:
    record_id: str
    name: str
    aliases: tuple[str, ...] = ()
    dob: date | None = None
    nationality: tuple[str, ...] = ()  # ISO 3166 alpha-2 or alpha-3 codes
    documents: tuple[IdentityDocument, ...] = ()
    case_status: CaseStatus | None = None
    subject_id: str = ""  # the biometric subject this record belongs to, when one is known
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.PERSON


@dataclass(frozen=True)
class VehicleRecord:
    record_id: str
    plate: str  # as issued, upper case without spaces or hyphens
    plate_state: str = ""
    vin: str = ""
    make: str = ""
    model: str = ""
    owner: str = ""  # registered owner as the registry holds it (the link names the record)
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.VEHICLE


@dataclass(frozen=True)
class AircraftRecord:
    record_id: str
    tail_number: str
    aircraft_type: str = ""
    owner: str = ""
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.AIRCRAFT


@dataclass(frozen=True)
class VesselRecord:
    record_id: str
    hull_id: str
    name: str = ""
    flag: str = ""
    owner: str = ""
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.VESSEL


@dataclass(frozen=True)
class AddressRecord:
    record_id: str
    address: str  # normalised: upper case, standard abbreviations, single spaces
    country: str = ""
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.ADDRESS


@dataclass(frozen=True)
class PhoneRecord:
    record_id: str
    number: str  # E.164
    carrier: str = ""
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.PHONE


@dataclass(frozen=True)
class FirearmRecord:
    record_id: str
    serial: str
    make: str = ""
    model: str = ""
    owner: str = ""
    source: str = ""
    synthetic: bool = False
    record_type: RecordType = RecordType.FIREARM


Record = (
    PersonRecord
    | VehicleRecord
    | AircraftRecord
    | VesselRecord
    | AddressRecord
    | PhoneRecord
    | FirearmRecord
)

RECORD_CLASSES: dict[RecordType, type[Record]] = {
    RecordType.PERSON: PersonRecord,
    RecordType.VEHICLE: VehicleRecord,
    RecordType.AIRCRAFT: AircraftRecord,
    RecordType.VESSEL: VesselRecord,
    RecordType.ADDRESS: AddressRecord,
    RecordType.PHONE: PhoneRecord,
    RecordType.FIREARM: FirearmRecord,
}


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    from_id: str  # the person
    to_id: str  # what they own, live at or subscribe to
