"""A record source: the contract the super query relies on, and the SQL engine behind it.

``SqlRecordSource`` runs the same SQLAlchemy code on the embedded default (one SQLite file per
source, ``sqlite:///PATH``) and on PostgreSQL (``postgresql://...``), chosen by URL alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from rapidfuzz import fuzz, process
from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mobileid.database import release_engine
from mobileid.records import normalise as norm
from mobileid.records import serial
from mobileid.records.engine import describe_failure, open_engine
from mobileid.records.errors import SourceUnavailable
from mobileid.records.model import Link, PersonRecord, Record, RecordType
from mobileid.records.query import RecordHit, RecordQuery
from mobileid.records.rows import bulk_insert, table_rows
from mobileid.records.schema import current_revision, links, record_keys, record_names, records
from mobileid.records.schema import upgrade as upgrade_schema

NAME_THRESHOLD = 85.0  # token-sort similarity (0-100) a name needs to be a hit
NAME_CANDIDATES = 200  # best-scoring names kept before the DOB filter
_CHUNK = 500  # ids per IN (...) clause


class RecordSource(Protocol):
    """What the super query needs from a source: its name and one search."""

    name: str

    def search(self, query: RecordQuery, *, limit: int = 50) -> list[RecordHit]:
        """Hits for the query (at most ``limit`` direct ones), then the records linked to them
        one hop away (owner of the vehicle, residents of the address), each with its reason."""
        ...


class SqlRecordSource:
    """One record source in its own database. Thread-safe; the engine is created on first use
    so that building a source object touches nothing."""

    def __init__(self, name: str, url: str, *, timeout_s: float = 5.0) -> None:
        self.name = name
        self.url = url
        self.timeout_s = timeout_s
        self._engine: Engine | None = None
        self._migrated = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = open_engine(self.url, self.timeout_s)
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                release_engine(self._engine)
                self._engine = None

    def __enter__(self) -> SqlRecordSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- schema and writing ---------------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic); SourceUnavailable when unreachable. Done
        once per source object: a schema does not go back while the object lives."""
        if self._migrated:
            return
        try:
            upgrade_schema(self.engine)
            self._migrated = True
        except SQLAlchemyError as exc:
            raise SourceUnavailable(
                f"source {self.name!r}: expected a reachable database, got {describe_failure(exc)}",
                field="source",
            ) from exc

    def schema_revision(self) -> str | None:
        return current_revision(self.engine)

    def add(self, items: Sequence[Record], new_links: Sequence[Link] = ()) -> None:
        """Write records and links in one transaction: all of them or, on any error, none."""
        tables = table_rows(items, new_links)
        self.migrate()
        try:
            with self.engine.begin() as conn:
                for table, batch in tables:
                    bulk_insert(conn, table, batch)
        except IntegrityError as exc:
            raise SourceUnavailable(
                f"source {self.name!r}: nothing written, a record or link clashes with one "
                f"already there ({describe_failure(exc)})",
                field="source",
            ) from exc
        except SQLAlchemyError as exc:
            raise SourceUnavailable(
                f"source {self.name!r}: nothing written ({describe_failure(exc)})", field="source"
            ) from exc

    # -- reading ---------------------------------------------------------------------------

    def count_imported_before(self, cutoff: datetime) -> int:
        """How many records were imported before ``cutoff`` (what a purge would delete)."""
        cut = cutoff.astimezone(UTC).isoformat(timespec="seconds")
        with self.engine.connect() as conn:
            q = select(func.count()).select_from(records).where(records.c.imported_at < cut)
            return int(conn.execute(q).scalar_one())

    def purge_imported_before(self, cutoff: datetime) -> int:
        """Delete records imported before ``cutoff`` with their keys, names and links, in one
        transaction (all or none); returns how many records. The audit entries around it are
        the caller's (``service/retention.py``): this database is not the log's."""
        cut = cutoff.astimezone(UTC).isoformat(timespec="seconds")
        with self.engine.begin() as conn:
            old = select(records.c.record_id).where(records.c.imported_at < cut)
            conn.execute(delete(links).where(links.c.from_id.in_(old)))
            conn.execute(delete(links).where(links.c.to_id.in_(old)))
            conn.execute(delete(record_keys).where(record_keys.c.record_id.in_(old)))
            conn.execute(delete(record_names).where(record_names.c.record_id.in_(old)))
            done = conn.execute(delete(records).where(records.c.imported_at < cut))
            return int(done.rowcount or 0)

    def types_of(self, record_ids: Iterable[str]) -> dict[str, RecordType]:
        """The type of each of these records that the source holds (absent ones left out)."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, RecordType] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                q = select(records.c.record_id, records.c.record_type).where(
                    records.c.record_id.in_(chunk)
                )
                out.update({i: RecordType(t) for i, t in conn.execute(q)})
        return out

    def has_link(self, link: Link) -> bool:
        with self.engine.connect() as conn:
            q = (
                select(func.count())
                .select_from(links)
                .where(
                    links.c.from_id == link.from_id,
                    links.c.kind == link.kind.value,
                    links.c.to_id == link.to_id,
                )
            )
            return bool(conn.execute(q).scalar_one())

    def counts(self) -> dict[str, int]:
        """Records held per type (an empty dict for a source with no schema yet)."""
        try:
            if self.schema_revision() is None:
                return {}
            with self.engine.connect() as conn:
                q = select(records.c.record_type, func.count()).group_by(records.c.record_type)
                return {t: int(n) for t, n in conn.execute(q)}
        except SQLAlchemyError as exc:
            raise SourceUnavailable(
                f"source {self.name!r}: expected a reachable database, got {describe_failure(exc)}",
                field="source",
            ) from exc

    def get(self, record_id: str) -> Record | None:
        with self.engine.connect() as conn:
            found = self._load(conn, [record_id])
        return found.get(record_id)

    def _load(self, conn: Connection, ids: Sequence[str]) -> dict[str, Record]:
        out: dict[str, Record] = {}
        for start in range(0, len(ids), _CHUNK):
            q = select(records.c.record_id, records.c.payload).where(
                records.c.record_id.in_(ids[start : start + _CHUNK])
            )
            out.update({i: serial.loads(p, self.name) for i, p in conn.execute(q)})
        return out

    def search(self, query: RecordQuery, *, limit: int = 50) -> list[RecordHit]:
        direct: dict[str, tuple[str, float]] = {}
        with self.engine.connect() as conn:
            if query.record_id:
                direct[query.record_id] = ("record number", 100.0)
            for kind, value, words in query.exact_keys():
                q = (
                    select(record_keys.c.record_id)
                    .where(record_keys.c.kind == kind, record_keys.c.value == value)
                    .limit(limit)
                )
                for (rid,) in conn.execute(q):
                    direct.setdefault(rid, (f"{words} {value}", 100.0))
            loaded = self._load(conn, list(direct))
            if query.name:
                for rid, (reason, score, record) in self._name_hits(conn, query, limit).items():
                    direct.setdefault(rid, (reason, score))
                    loaded[rid] = record
            hits = [
                RecordHit(self.name, loaded[rid], reason, score)
                for rid, (reason, score) in direct.items()
                if rid in loaded
            ][:limit]
            return hits + self._one_hop(conn, hits)

    def _name_hits(
        self, conn: Connection, query: RecordQuery, limit: int
    ) -> dict[str, tuple[str, float, Record]]:
        blocks = norm.query_blocks(query.name)
        cond = or_(
            *(
                record_names.c.block.between(b, b + "~")
                if b.endswith(":")
                else record_names.c.block == b
                for b in blocks
            )
        )
        rows = conn.execute(select(record_names.c.name, record_names.c.record_id).where(cond)).all()
        best: dict[str, tuple[float, str]] = {}
        for name, score, i in process.extract(
            query.name,
            [r[0] for r in rows],
            scorer=fuzz.token_sort_ratio,
            score_cutoff=NAME_THRESHOLD,
            limit=NAME_CANDIDATES,
        ):
            rid = rows[i][1]
            if rid not in best or score > best[rid][0]:
                best[rid] = (score, name)
        out: dict[str, tuple[str, float, Record]] = {}
        ranked = sorted(best, key=lambda r: -best[r][0])
        for rid, record in self._load(conn, ranked).items():
            score, name = best[rid]
            reason = f"name {name!r} {score:.0f}/100 (token sort) to {query.name!r}"
            if query.dob is not None and isinstance(record, PersonRecord):
                if record.dob is not None and record.dob != query.dob:
                    continue
                reason += "; DOB equal" if record.dob == query.dob else "; DOB not on record"
            out[rid] = (reason, float(score), record)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1])[:limit])

    def _one_hop(self, conn: Connection, hits: list[RecordHit]) -> list[RecordHit]:
        ids = [h.record.record_id for h in hits]
        found: list[tuple[str, str, str]] = []  # (from, kind, to)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            q = select(links.c.from_id, links.c.kind, links.c.to_id).where(
                or_(links.c.from_id.in_(chunk), links.c.to_id.in_(chunk))
            )
            found += [(f, k, t) for f, k, t in conn.execute(q)]
        seen = set(ids)
        wanted: dict[str, tuple[str, str]] = {}  # related id -> (via, reason)
        types = {h.record.record_id: h.record.record_type.value for h in hits}
        for from_id, kind, to_id in found:
            if to_id in types and from_id not in seen:
                wanted.setdefault(from_id, (to_id, f"{kind} of {types[to_id]} {to_id}"))
            if from_id in types and to_id not in seen:
                wanted.setdefault(to_id, (from_id, f"its {kind} is {types[from_id]} {from_id}"))
        related = self._load(conn, list(wanted))
        return [
            RecordHit(self.name, related[rid], reason, 100.0, hop=1, via=via)
            for rid, (via, reason) in wanted.items()
            if rid in related
        ]
