"""Synthetic record sources for demos, training and benchmarks (Faker, fixed seed).

Everything made here is marked synthetic: each record's ``synthetic`` flag, ``SYN`` in every
record number, plate, tail number, hull id and serial, phone numbers from ranges reserved for
fiction (NANP 555-0100..0199, Ofcom 020 7946 0xxx), and ``synthetic`` in each registry entry.
No record is linked to a biometric subject, so no generated record can be attached to the face
of a real person. Case statuses are neutral training labels, never a legal or immigration
status.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from mobileid.records import normalise as norm
from mobileid.records.model import (
    AddressRecord,
    AircraftRecord,
    CaseStatus,
    FirearmRecord,
    IdentityDocument,
    Link,
    LinkKind,
    PersonRecord,
    PhoneRecord,
    Record,
    RecordType,
    VehicleRecord,
    VesselRecord,
)
from mobileid.records.registry import SourceEntry
from mobileid.records.serial import record_to_row

DEFAULT_SEED = 20_240_604
_ALNUM = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # VIN alphabet: no I, O, Q
_AREA_CODES = (
    201,
    202,
    206,
    212,
    213,
    214,
    215,
    303,
    305,
    312,
    313,
    404,
    415,
    503,
    512,
    602,
    617,
    702,
    713,
    808,
)
_STATUSES = (
    "training scenario: no action",
    "training scenario: open case",
    "training scenario: closed case",
)
_OWNED = {  # source -> the type it registers, and its record-number tag
    "syn-dmv": (RecordType.VEHICLE, "VH"),
    "syn-aviation": (RecordType.AIRCRAFT, "AC"),
    "syn-maritime": (RecordType.VESSEL, "VS"),
    "syn-addresses": (RecordType.ADDRESS, "AD"),
    "syn-phones": (RecordType.PHONE, "PH"),
    "syn-firearms": (RecordType.FIREARM, "FA"),
}
_LINK_OF = {RecordType.ADDRESS: LinkKind.RESIDENT, RecordType.PHONE: LinkKind.SUBSCRIBER}


def synthetic_entries() -> list[SourceEntry]:
    """Registry entries of the seven synthetic sources."""
    kinds = {"syn-persons": RecordType.PERSON, **{n: k for n, (k, _) in _OWNED.items()}}
    return [
        SourceEntry(
            name=name,
            agency=f"Training range ({kind.value} register)",
            legal_authority="none needed: synthetic training data about no real person",
            record_types=tuple(dict.fromkeys((RecordType.PERSON, kind))),
            retention="deleted with the training range",
            entitlement=f"records.{kind.value}",
            synthetic=True,
        )
        for name, kind in kinds.items()
    ]


@dataclass
class _Maker:
    fake: Faker
    rng: random.Random
    today: date

    def person(self, rid: str) -> PersonRecord:
        f, r = self.fake, self.rng
        dob = self.today - timedelta(days=r.randint(18 * 365, 85 * 365))
        docs = (IdentityDocument("passport", f"SYN{r.randint(0, 10**6):06d}", "US"),)
        return PersonRecord(
            record_id=rid,
            name=f"{f.first_name()} {f.last_name()}",
            dob=dob,
            nationality=(f.country_code(),),
            documents=docs if r.random() < 0.5 else (),
            synthetic=True,
        )

    def variant(self, p: PersonRecord, rid: str) -> PersonRecord:
        """The same synthetic person as another register spells them."""
        first, last = p.name.split(" ", 1)
        spelt = f"{last}, {first}" if self.rng.random() < 0.3 else p.name
        return PersonRecord(rid, spelt, dob=p.dob, synthetic=True)

    def vin(self) -> str:
        body = [self.rng.choice(_ALNUM) for _ in range(17)]
        body[8] = "0"
        body[8] = norm.vin_check_digit("".join(body))
        return "".join(body)

    def syn(self, digits: int) -> str:
        return "SYN" + "".join(self.rng.choice(_ALNUM) for _ in range(digits))

    def thing(self, kind: RecordType, rid: str, owner: str) -> Record:
        f, r = self.fake, self.rng
        if kind is RecordType.VEHICLE:
            make, model = r.choice((("Ford", "Focus"), ("Toyota", "Corolla"), ("VW", "Golf")))
            return VehicleRecord(
                rid, self.syn(4), f.state_abbr(), self.vin(), make, model, owner, synthetic=True
            )
        if kind is RecordType.AIRCRAFT:
            return AircraftRecord(rid, self.syn(4), "Cessna 172", owner, synthetic=True)
        if kind is RecordType.VESSEL:
            return VesselRecord(
                rid, self.syn(9), f.last_name() + " Star", "US", owner, synthetic=True
            )
        if kind is RecordType.ADDRESS:
            text = f"{f.street_address()} {f.city()} {f.state_abbr()} {f.postcode()}"
            return AddressRecord(rid, norm.address(text), "US", synthetic=True)
        if kind is RecordType.PHONE:
            if r.random() < 0.2:
                number = f"+44207946{r.randint(0, 999):04d}"
            else:
                number = f"+1{r.choice(_AREA_CODES)}55501{r.randint(0, 99):02d}"
            return PhoneRecord(rid, number, "Synthetic Telecom", synthetic=True)
        return FirearmRecord(
            rid, self.syn(7), r.choice(("Glock", "Beretta")), "", owner, synthetic=True
        )


def generate(
    count: int, seed: int = DEFAULT_SEED, today: date | None = None
) -> dict[str, tuple[list[Record], list[Link]]]:
    """Seven sources: ``count`` persons in syn-persons, and in each other source ``count``
    owned things linked to persons drawn from the same pool (so the super query finds one
    person in several sources), with those persons' records as that register spells them."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    maker = _Maker(fake, random.Random(seed), today or date.today())
    pool = [maker.person(f"SYN-P-{i:07d}") for i in range(count)]
    statuses = [
        CaseStatus(maker.rng.choice(_STATUSES), "synthetic generator", maker.today)
        if maker.rng.random() < 0.1
        else None
        for _ in pool
    ]
    out: dict[str, tuple[list[Record], list[Link]]] = {
        "syn-persons": ([_with_status(p, s) for p, s in zip(pool, statuses, strict=True)], [])
    }
    for name, (kind, tag) in _OWNED.items():
        people: dict[str, PersonRecord] = {}
        things: list[Record] = []
        new_links: list[Link] = []
        for i in range(count):
            owner = pool[maker.rng.randrange(count)]
            local_id = f"SYN-{tag}P-{owner.record_id[6:]}"
            if local_id not in people:
                people[local_id] = maker.variant(owner, local_id)
            thing = maker.thing(kind, f"SYN-{tag}-{i:07d}", people[local_id].name)
            things.append(thing)
            new_links.append(Link(_LINK_OF.get(kind, LinkKind.OWNER), local_id, thing.record_id))
        out[name] = ([*people.values(), *things], new_links)
    return out


def _with_status(p: PersonRecord, status: CaseStatus | None) -> PersonRecord:
    return replace(p, case_status=status)


def write_synthetic(
    out_dir: Path,
    count: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """One import file per source (NAME.json) and ``sources.json`` with their registry entries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (items, new_links) in generate(count, seed).items():
        rows = [record_to_row(r) for r in items]
        rows += [
            {
                "record_type": "link",
                "link_kind": lk.kind.value,
                "from_id": lk.from_id,
                "to_id": lk.to_id,
            }
            for lk in new_links
        ]
        path = out_dir / f"{name}.json"
        body = {
            "synthetic": True,
            "notice": "synthetic training data: no real person",
            "records": rows,
        }
        path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
        if progress:
            progress(f"{path}: {len(items)} records, {len(new_links)} links")
    manifest = out_dir / "sources.json"
    manifest.write_text(
        json.dumps({"sources": [e.to_json() for e in synthetic_entries()]}, indent=2) + "\n",
        encoding="utf-8",
    )
    return [*paths, manifest]
