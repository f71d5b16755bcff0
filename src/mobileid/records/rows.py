"""What records become in a source's tables, and how those rows are written.

Kept apart from :mod:`.source` (the source object and its searches): the exact keys and name
rows written here when a record is imported are what every search reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from mobileid.records import normalise as norm
from mobileid.records import serial
from mobileid.records.model import Link, PersonRecord, Record, RecordType, VehicleRecord
from mobileid.records.schema import links, record_keys, record_names, records

__all__ = ["bulk_insert", "exact_keys_of", "table_rows"]


def exact_keys_of(record: Record) -> list[tuple[str, str]]:
    """The (kind, value) keys a record can be found by, normalised as queries are."""
    if isinstance(record, PersonRecord):
        keys = [("document", d.number) for d in record.documents]
        return keys + ([("subject", record.subject_id)] if record.subject_id else [])
    if isinstance(record, VehicleRecord):
        return [("plate", record.plate)] + ([("vin", record.vin)] if record.vin else [])
    attr = {
        RecordType.AIRCRAFT: ("tail", "tail_number"),
        RecordType.VESSEL: ("hull", "hull_id"),
        RecordType.ADDRESS: ("address", "address"),
        RecordType.PHONE: ("phone", "number"),
        RecordType.FIREARM: ("serial", "serial"),
    }[record.record_type]
    return [(attr[0], getattr(record, attr[1]))]


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows inside the caller's transaction. On PostgreSQL through COPY: measured about
    3x faster than SQLAlchemy's executemany with psycopg 3 (5.8-8.0k against 2.0-2.3k records/s
    on the 2-core bench machine). Values travel as data in COPY's own format, never as SQL
    text; the table and column names are our own."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        cols = list(rows[0])
        raw: Any = conn.connection.driver_connection
        dbapi = conn.dialect.loaded_dbapi
        statement = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
        try:
            with raw.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in cols])
        except dbapi.Error as exc:  # raised as SQLAlchemy would (IntegrityError, ...)
            raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
        return
    for start in range(0, len(rows), 10_000):
        conn.execute(insert(table), rows[start : start + 10_000])


def table_rows(
    items: Sequence[Record], new_links: Sequence[Link]
) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The rows of each table that ``items`` and ``new_links`` become, in the order they are
    inserted (records before the keys, names and links that point at them)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows, keys, names = [], [], []
    for r in items:
        rows.append(
            {
                "record_id": r.record_id,
                "record_type": r.record_type.value,
                "payload": serial.dumps(r),
                "synthetic": r.synthetic,
                "imported_at": now,
            }
        )
        keys += [{"kind": k, "value": v, "record_id": r.record_id} for k, v in exact_keys_of(r)]
        if isinstance(r, PersonRecord):
            for n in dict.fromkeys(norm.name(x) for x in (r.name, *r.aliases)):
                names.append({"block": norm.name_block(n), "name": n, "record_id": r.record_id})
    link_rows = [
        {"from_id": lk.from_id, "kind": lk.kind.value, "to_id": lk.to_id} for lk in new_links
    ]
    return [(records, rows), (record_keys, keys), (record_names, names), (links, link_rows)]
