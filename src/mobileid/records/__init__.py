"""Record sources: typed records, the source registry, import, and the SQL engine behind them.

The public verbs::

    SourceRegistry(root).register(entry) / .get(name) / .open(name) / .open_all()
    import_records(source, file, allowed_types=..., phone_region=...) -> ImportReport
    make_query(name=..., dob=..., plate=..., ...) -> RecordQuery
    SqlRecordSource(name, url).search(query) -> list[RecordHit]
    generate(count, seed) / write_synthetic(out_dir, count, seed)   (synthetic data only)

The fan-out over several sources is the use case ``mobileid.service.super_query``.
"""

from mobileid.records.errors import (
    ImportRejected,
    InvalidQuery,
    RowError,
    SourceUnavailable,
    UnknownSource,
)
from mobileid.records.importer import ImportReport, import_records
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
from mobileid.records.query import RecordHit, RecordQuery, make_query
from mobileid.records.registry import SourceEntry, SourceRegistry
from mobileid.records.source import RecordSource, SqlRecordSource

__all__ = [
    "AddressRecord",
    "AircraftRecord",
    "CaseStatus",
    "FirearmRecord",
    "IdentityDocument",
    "ImportRejected",
    "ImportReport",
    "InvalidQuery",
    "Link",
    "LinkKind",
    "PersonRecord",
    "PhoneRecord",
    "Record",
    "RecordHit",
    "RecordQuery",
    "RecordSource",
    "RecordType",
    "RowError",
    "SourceEntry",
    "SourceRegistry",
    "SourceUnavailable",
    "SqlRecordSource",
    "UnknownSource",
    "VehicleRecord",
    "VesselRecord",
    "import_records",
    "make_query",
]
