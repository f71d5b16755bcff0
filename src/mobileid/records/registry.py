"""The record-source registry: which sources exist, who owns them, under what legal authority
they may be searched, what they hold, how long they keep it, and which entitlement an operator
needs to reach them. Kept as one JSON file beside the embedded source files, written
atomically, so an oversight report can quote it as it stood."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mobileid.errors import InvalidArgument
from mobileid.records.errors import UnknownSource
from mobileid.records.model import RecordType
from mobileid.records.source import SqlRecordSource

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class SourceEntry:
    name: str  # lower-case letters, digits, - and _; also the embedded file's name
    agency: str  # who owns the data
    legal_authority: str  # the law or agreement under which it may be searched
    record_types: tuple[RecordType, ...]
    retention: str  # the rule, in words ("records deleted 5 years after case closure")
    entitlement: str  # what an operator must hold to reach it
    url: str = ""  # empty: the embedded SQLite file DATA_DIR/records/NAME.sqlite3
    synthetic: bool = False  # demo and training data only
    # The machine-enforced part of the retention rule: records imported more than this many
    # days ago are purged by `mobileid admin purge` (None: the rule is enforced elsewhere).
    retention_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["record_types"] = [t.value for t in self.record_types]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceEntry:
        return cls(**{**data, "record_types": tuple(RecordType(t) for t in data["record_types"])})


def check_entry(entry: SourceEntry) -> SourceEntry:
    """The entry as given, or InvalidArgument naming the field that is missing or wrong."""
    if not _NAME.fullmatch(entry.name):
        raise InvalidArgument(
            f"name: expected lower-case letters, digits, - and _ (up to 63), got {entry.name!r}",
            field="name",
        )
    for field in ("agency", "legal_authority", "retention", "entitlement"):
        if not str(getattr(entry, field)).strip():
            raise InvalidArgument(
                f"{field}: expected a value (every source states it), got nothing", field=field
            )
    if entry.retention_days is not None and not 1 <= entry.retention_days <= 36500:
        raise InvalidArgument(
            f"retention_days: expected 1..36500 days, got {entry.retention_days}",
            field="retention_days",
        )
    if not entry.record_types:
        raise InvalidArgument("record_types: expected at least one, got none", field="record_types")
    return entry


class SourceRegistry:
    """The registry under ``root`` (DATA_DIR/records)."""

    def __init__(self, root: Path, *, timeout_s: float = 5.0) -> None:
        self.root = root
        self.path = root / "sources.json"
        self.timeout_s = timeout_s

    def entries(self) -> list[SourceEntry]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [SourceEntry.from_json(e) for e in data["sources"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(
                f"{self.path}: expected a source registry written by mobileid, got "
                f"{type(exc).__name__}: {exc}",
                field="registry",
            ) from None

    def get(self, name: str) -> SourceEntry:
        for entry in self.entries():
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.entries()) or "none registered"
        raise UnknownSource(
            f"source: expected a registered source ({known}), got {name!r}", field="source"
        )

    def register(self, entry: SourceEntry, *, migrate: bool = True) -> SourceEntry:
        """Add or replace an entry and create the source's schema. Replacing keeps the data."""
        check_entry(entry)
        if migrate:
            with self.open_entry(entry) as source:
                source.migrate()
        others = [e for e in self.entries() if e.name != entry.name]
        self._write([*others, entry])
        return entry

    def url_for(self, entry: SourceEntry) -> str:
        return entry.url or f"sqlite:///{self.root / (entry.name + '.sqlite3')}"

    def open_entry(self, entry: SourceEntry) -> SqlRecordSource:
        return SqlRecordSource(entry.name, self.url_for(entry), timeout_s=self.timeout_s)

    def open(self, name: str) -> SqlRecordSource:
        return self.open_entry(self.get(name))

    def open_all(self) -> dict[str, SqlRecordSource]:
        """Every registered source, unopened: nothing is connected until a source is used."""
        return {e.name: self.open_entry(e) for e in self.entries()}

    def _write(self, entries: list[SourceEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"sources": [e.to_json() for e in entries]}, indent=2)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".sources.", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body + "\n")
        os.replace(tmp, self.path)


def with_url(entry: SourceEntry, url: str) -> SourceEntry:
    return replace(entry, url=url)
