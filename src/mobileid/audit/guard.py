"""The cheap check before every audited action: is the log intact since its last signed head?

Re-verifying a whole log per search would cost seconds at a million entries. Everything up to
the last head the witness holds is vouched for by a signature kept outside the database, so an
action only needs to check the stretch after it: that the witnessed entry still has the signed
hash, that every later entry hashes to itself and links to the one before, and that the log's
bookkeeping row names the last of them (nothing inserted past it, nothing cut off).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from mobileid.audit import rows
from mobileid.audit.errors import AuditIntegrityError
from mobileid.audit.model import GENESIS_HASH, AuditEntry, AuditHead, MalformedEntry
from mobileid.audit.tables import EntryRow
from mobileid.audit.verify import recompute_hash

RECOVERY = (
    "audited actions are refused until the log is investigated: run `mobileid audit verify`, "
    "then follow 'When the audit log is broken' in the README"
)


@dataclass(frozen=True)
class Anchor:
    """The last entry vouched for by a signed head (sequence 0: the start of the log)."""

    sequence: int = 0
    entry_hash: str = GENESIS_HASH
    every: int | None = None  # the schedule the witnessed head promised (None: not known)


def broken(reason: str) -> AuditIntegrityError:
    return AuditIntegrityError(f"audit log not intact: {reason}; {RECOVERY}", field="audit_log")


def _entries_after(
    conn: Connection, start: int, until: int | None
) -> Iterator[AuditEntry | MalformedEntry]:
    q = select(EntryRow).where(EntryRow.sequence > start)
    if until is not None:
        q = q.where(EntryRow.sequence <= until)
    for row in conn.execute(q.order_by(EntryRow.sequence)):
        yield rows.parse_entry(row)


def _check_anchor(conn: Connection, anchor: Anchor) -> None:
    row = conn.execute(select(EntryRow).where(EntryRow.sequence == anchor.sequence)).one_or_none()
    if row is None:
        raise broken(f"entry {anchor.sequence}, which a signed head vouches for, is missing")
    entry = rows.parse_entry(row)
    if (
        isinstance(entry, MalformedEntry)
        or entry.entry_hash != anchor.entry_hash
        or recompute_hash(entry) != anchor.entry_hash
    ):
        raise broken(f"entry {anchor.sequence} differs from its signed head")


def chain_from(conn: Connection, anchor: Anchor, until: int | None = None) -> list[str]:
    """The hashes of the entries after ``anchor`` (up to ``until``), each checked to hash to
    itself and link to the one before; AuditIntegrityError names the first that does not."""
    if anchor.sequence > 0:
        _check_anchor(conn, anchor)
    expected, prev, hashes = anchor.sequence + 1, anchor.entry_hash, []
    for item in _entries_after(conn, anchor.sequence, until):
        if item.sequence != expected:
            raise broken(f"entry {expected} is missing (the next stored entry is {item.sequence})")
        if isinstance(item, MalformedEntry):
            raise broken(f"entry {item.sequence} cannot be read: {item.reason}")
        if recompute_hash(item) != item.entry_hash:
            raise broken(f"entry {item.sequence} was changed: its fields no longer match its hash")
        if item.prev_hash != prev:
            raise broken(f"entry {item.sequence} does not follow entry {item.sequence - 1}")
        hashes.append(item.entry_hash)
        expected, prev = expected + 1, item.entry_hash
    if until is not None and expected - 1 != until:
        raise broken(f"entry {expected} is missing (a signed head vouches for entry {until})")
    return hashes


def check_head(conn: Connection, anchor: Anchor, head: AuditHead) -> list[str]:
    """The log is intact from ``anchor`` to ``head``, and ``head`` names its last entry; the
    hashes of the entries after ``anchor``."""
    hashes = chain_from(conn, anchor)
    last_seq, last_hash = (
        anchor.sequence + len(hashes),
        (hashes[-1] if hashes else anchor.entry_hash),
    )
    if last_seq > head.sequence:
        raise broken(
            f"entries {head.sequence + 1}..{last_seq} lie past the log's head (entry "
            f"{head.sequence}): they were inserted by hand"
        )
    if (last_seq, last_hash) != (head.sequence, head.entry_hash):
        raise broken(
            f"the log's head names entry {head.sequence}, but the last entry is {last_seq} "
            "or differs from it: entries were deleted or rewritten"
        )
    return hashes


def check_schedule(signed_through: int, head: AuditHead, every: int) -> None:
    """Entries after the last signed head must be fewer than the schedule allows: more means
    rows were added by hand (they carry no signature) or checkpoints were removed."""
    if signed_through > 0 and head.sequence - signed_through >= every:
        raise broken(
            f"entries {signed_through + 1}..{head.sequence} are covered by no signed head, but "
            f"one is signed at least every {every} entries: entries were added by hand or "
            "checkpoints removed"
        )


class FullVerifyMemo:
    """When the whole log was last verified against the witness, kept beside the witness (out
    of reach of a database writer): edits to entries before the last signed head are found by
    the first action after the memo is ``full_verify_minutes`` old."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "verified.json"

    def fresh(self, now: datetime, minutes: float) -> bool:
        if minutes <= 0:
            return False
        try:
            at = datetime.fromisoformat(json.loads(self.path.read_text("utf-8"))["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return timedelta(0) <= now - at < timedelta(minutes=minutes)

    def save(self, through: int, now: datetime) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"through": through, "at": now.isoformat()}), "utf-8")
        os.replace(tmp, self.path)
