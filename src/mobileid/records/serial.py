"""Records to and from plain JSON-able dicts: the stored payload and the ``--json`` output."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from typing import Any

from mobileid.records.model import (
    RECORD_CLASSES,
    CaseStatus,
    IdentityDocument,
    PersonRecord,
    Record,
    RecordType,
)

_FIELDS: dict[type, tuple[str, ...]] = {
    c: tuple(f.name for f in fields(c)) for c in RECORD_CLASSES.values()
}


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool | None):
        return value
    if isinstance(value, RecordType):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, CaseStatus):
        return {"status": value.status, "source": value.source, "as_of": str(value.as_of)}
    if isinstance(value, IdentityDocument):
        return {"kind": value.kind, "number": value.number, "issuer": value.issuer}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def record_to_dict(record: Record) -> dict[str, Any]:
    return {name: _plain(getattr(record, name)) for name in _FIELDS[type(record)]}


def record_from_dict(data: dict[str, Any]) -> Record:
    kind = RecordType(data["record_type"])
    values = dict(data)
    values["record_type"] = kind
    if kind is RecordType.PERSON:
        values["aliases"] = tuple(values.get("aliases", ()))
        values["nationality"] = tuple(values.get("nationality", ()))
        values["documents"] = tuple(IdentityDocument(**d) for d in values.get("documents", ()))
        dob = values.get("dob")
        values["dob"] = date.fromisoformat(dob) if dob else None
        cs = values.get("case_status")
        values["case_status"] = (
            CaseStatus(cs["status"], cs["source"], date.fromisoformat(cs["as_of"])) if cs else None
        )
        return PersonRecord(**values)
    return RECORD_CLASSES[kind](**values)


def dumps(record: Record) -> str:
    """The stored payload; ``source`` is left out because the source itself says it."""
    data = record_to_dict(record)
    data.pop("source", None)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def loads(payload: str, source: str) -> Record:
    data = json.loads(payload)
    data["source"] = source
    return record_from_dict(data)


def record_to_row(record: Record) -> dict[str, Any]:
    """The record as an import row (the JSON import format; lists stay lists)."""
    data = record_to_dict(record)
    data.pop("source", None)
    if isinstance(record, PersonRecord):
        data["documents"] = [
            ":".join(p for p in (d.kind, d.number, d.issuer) if p) for d in record.documents
        ]
        status = data.pop("case_status")
        if status:
            data["case_status"] = status["status"]
            data["case_status_source"] = status["source"]
            data["case_status_date"] = status["as_of"]
    data["synthetic"] = "true" if record.synthetic else "false"
    return {k: v for k, v in data.items() if v not in ("", [], None)}
