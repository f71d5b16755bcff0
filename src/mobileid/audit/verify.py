"""Offline verification: entries, checkpoints and public keys in, a typed report out.

Needs nothing but a read of the two tables and the exported PEM public key(s); it never
trusts the log's bookkeeping row. It finds the lowest sequence number at which the log stops
being what was written:

* an edited entry: its fields no longer hash to its stored hash;
* a deleted entry: a gap in the sequence numbers, or a broken previous-hash link;
* an inserted or reordered entry: a sequence number or link that does not fit its place;
* a truncated tail: the log ends before a signed checkpoint's sequence number;
* a rewritten stretch: an entry whose hash differs from the one a checkpoint signed;
* a forged checkpoint: a signature that does not verify, or one by a key nobody trusts;
* a removed checkpoint: one recorded in the chain but missing from the checkpoint table.

With the witness (signed heads kept outside the database, see ``audit.witness``) it also finds:

* a consistently re-hashed history: the first entry whose hash differs from the one witnessed;
* deleted witnessed entries, and witnessed checkpoints removed from the table;
* entries no signed head covers although the schedule says one must (rows inserted past the
  last signed head, or checkpoints removed), and a bookkeeping row that is missing or does not
  name the last entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mobileid.audit.canonical import entry_payload, hash_payload, message_of
from mobileid.audit.keys import signature_valid, trusted_keys
from mobileid.audit.model import (
    GENESIS_HASH,
    AuditEntry,
    AuditHead,
    Checkpoint,
    EventType,
    MalformedEntry,
    VerifyReport,
)
from mobileid.audit.rows import checkpoint_in
from mobileid.audit.witness import MalformedWitnessLine, WitnessHead
from mobileid.audit.witness_check import WitnessStream


@dataclass
class _Walk:
    """What the chain walk learned: its last good entry, hashes wanted, checkpoints seen."""

    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    fault: tuple[int, str] | None = None
    hashes: dict[int, str] = field(default_factory=dict)
    recorded: list[tuple[int, Checkpoint]] = field(default_factory=list)
    times: dict[int, str] = field(default_factory=dict)  # times of entries that may be unsigned


def recompute_hash(entry: AuditEntry) -> str:
    return hash_payload(
        entry_payload(
            sequence=entry.sequence,
            time=entry.time,
            operator=entry.operator,
            role=entry.role,
            event=entry.event,
            component=entry.component,
            outcome=entry.outcome,
            details=entry.details,
            clock_regressed=entry.clock_regressed,
            prev_hash=entry.prev_hash,
        )
    )


def _entry_fault(item: AuditEntry | MalformedEntry, walk: _Walk, last_time: str) -> str | None:
    expected = walk.last_seq + 1
    if item.sequence != expected:
        if item.sequence > expected:
            return f"entry {expected} is missing (the next stored entry is {item.sequence})"
        return f"entry {item.sequence} appears again or out of order after {walk.last_seq}"
    if isinstance(item, MalformedEntry):
        return f"entry {item.sequence} cannot be read: {item.reason}"
    if recompute_hash(item) != item.entry_hash:
        return f"entry {item.sequence} was changed: its fields no longer match its hash"
    if item.prev_hash != walk.last_hash:
        return (
            f"entry {item.sequence} does not follow entry {walk.last_seq}: previous-hash link "
            f"expected {walk.last_hash[:16]}…, got {item.prev_hash[:16]}…"
        )
    if last_time and item.time < last_time and not item.clock_regressed:
        return f"entry {item.sequence} is older than entry {walk.last_seq} but not flagged"
    return None


def _walk_chain(
    items: Iterable[AuditEntry | MalformedEntry],
    wanted: set[int],
    witnessed: Iterator[tuple[int, str]] | None = None,
    tail_after: int = 0,
) -> _Walk:
    walk, last_time = _Walk(), ""
    for item in items:
        reason = _entry_fault(item, walk, last_time)
        if reason is None and witnessed is not None:
            reason = _witness_fault(item, witnessed)
        if reason is not None:
            walk.fault = (walk.last_seq + 1, reason)  # the first place that is wrong
            break
        assert isinstance(item, AuditEntry)  # _entry_fault refuses a MalformedEntry
        walk.entries += 1
        if item.sequence > tail_after:
            walk.times[item.sequence] = item.time
        walk.last_seq, walk.last_hash, last_time = item.sequence, item.entry_hash, item.time
        if item.sequence in wanted:
            walk.hashes[item.sequence] = item.entry_hash
        if item.event == EventType.CHECKPOINT:
            recorded = checkpoint_in(item)
            if recorded is not None:
                walk.recorded.append((item.sequence, recorded))
    return walk


def _witness_fault(
    item: AuditEntry | MalformedEntry, witnessed: Iterator[tuple[int, str]]
) -> str | None:
    """Whether the entry differs from the hash the witness holds for it (None past its end)."""
    assert isinstance(item, AuditEntry)
    for seq, expected in witnessed:
        if seq == item.sequence:
            if expected != item.entry_hash:
                return (
                    f"entry {seq} differs from the entry the witness holds a signed head for: "
                    "the log was rewritten from here"
                )
            return None
    return None


def _checkpoint_fault(
    cp: Checkpoint, keys: Mapping[str, Ed25519PublicKey], walk: _Walk
) -> tuple[int, str] | None:
    key = keys.get(cp.key_id)
    if key is None:
        return cp.sequence, f"checkpoint at {cp.sequence} is signed by unknown key {cp.key_id}"
    if not signature_valid(key, cp.signature, message_of(cp)):
        return cp.sequence, f"checkpoint at {cp.sequence}: the signature does not verify"
    if walk.fault is not None and cp.sequence >= walk.fault[0]:
        return None  # that part of the chain is already reported as broken
    if cp.sequence > walk.last_seq:
        return walk.last_seq + 1, (
            f"the log ends at entry {walk.last_seq} but a signed checkpoint vouches for entry "
            f"{cp.sequence}: the tail was truncated"
        )
    if walk.hashes.get(cp.sequence) != cp.entry_hash:
        return cp.sequence, (
            f"entry {cp.sequence} differs from the one its signed checkpoint vouches for: "
            "the log was rewritten up to it"
        )
    return None


def _missing_from_table(walk: _Walk, table: list[Checkpoint]) -> list[tuple[int, str]]:
    """Checkpoints the chain records but the table lacks: deleting the last checkpoint row
    would otherwise let a truncated tail pass."""
    signed = {(cp.sequence, cp.signature) for cp in table}
    return [
        (
            cp.sequence,
            f"checkpoint at {cp.sequence} (logged as entry {at}) is missing from "
            "the checkpoint table",
        )
        for at, cp in walk.recorded
        if (cp.sequence, cp.signature) not in signed
    ]


@dataclass(frozen=True)
class Bookkeeping:
    """What the database says besides the record: its head row (None when it is missing)."""

    head: AuditHead | None


def verify_log(
    entries: Iterable[AuditEntry | MalformedEntry],
    checkpoints: Iterable[Checkpoint],
    public_keys: Sequence[str],
    *,
    witness: Iterable[WitnessHead | MalformedWitnessLine] | None = None,
    bookkeeping: Bookkeeping | None = None,
    every: int | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Check entries (in stored order, by sequence number) against signed checkpoints.

    ``public_keys`` are the PEM public keys trusted to sign checkpoints. ``witness`` is the
    witness's lines (None: no witness to compare with); ``bookkeeping`` the head row to check
    against the record; ``every`` the schedule (a signed head at least every ``every``
    entries), so that a longer unsigned tail is a fault; ``now`` dates the tail.
    """
    keys = trusted_keys(tuple(public_keys))
    table = list(checkpoints)
    stream = WitnessStream(witness, keys) if witness is not None else None
    leaves = stream.leaves() if stream is not None else None
    tail_after = max((cp.sequence for cp in table), default=0)
    walk = _walk_chain(entries, {cp.sequence for cp in table}, leaves, tail_after)
    # Faults of the checkpoint table (rows removed or forged) count only where no entry is
    # wrong: the first entry that differs from what was written is what an investigator needs.
    faults, table_faults, good = [], [], []
    for cp in table:
        fault = _checkpoint_fault(cp, keys, walk)
        if fault is not None:
            faults.append(fault)
        elif walk.fault is None or cp.sequence < walk.fault[0]:
            good.append(cp.sequence)
    table_faults += _missing_from_table(walk, table)
    if walk.fault is not None:
        faults.append(walk.fault)
    witnessed_through = 0
    notes: list[str] = []
    if stream is not None and leaves is not None:
        witnessed_through = stream.drain(leaves)
        entry_faults, missing_rows = _witness_faults(stream, walk, table, witnessed_through)
        faults += entry_faults
        table_faults += missing_rows
        notes += _unwitnessed(table, good, witnessed_through)
    signed_through = max([witnessed_through, *good])
    tail = max(0, walk.last_seq - signed_through)
    if stream is not None and stream.every is not None:
        every = stream.every  # what the last witnessed head promised, not today's setting
    if every is not None and tail >= every and not faults + table_faults:  # else they explain it
        faults.append(
            (
                signed_through + 1,
                f"entries {signed_through + 1}..{walk.last_seq} are covered by no signed head, "
                f"but one is signed at least every {every} entries: entries were added by hand "
                "or checkpoints removed",
            )
        )
    if bookkeeping is not None:
        faults += _head_faults(bookkeeping.head, walk)
    if faults and table_faults:
        notes.append(f"{len(table_faults)} signed checkpoint(s) are also missing or altered")
    faults = faults or table_faults
    first = min(faults, key=lambda f: f[0]) if faults else None
    limit = first[0] if first else walk.last_seq + 1
    return VerifyReport(
        ok=first is None,
        entries=walk.entries,
        checkpoints=len(table),
        first_bad_sequence=first[0] if first else None,
        reason=first[1] if first else "",
        head_sequence=walk.last_seq,
        head_hash=walk.last_hash,
        trusted_through=max((g for g in [*good, witnessed_through] if g < limit), default=0),
        witness_heads=stream.heads if stream is not None else None,
        witnessed_through=witnessed_through,
        tail_entries=tail,
        tail_age_seconds=_age(walk.times.get(signed_through + 1), now) if tail else 0.0,
        notes=tuple(notes),
    )


def _witness_faults(
    stream: WitnessStream, walk: _Walk, table: list[Checkpoint], witnessed_through: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Entries that differ from the witness, and witnessed heads missing from the table."""
    faults = [stream.fault] if stream.fault is not None else []
    if walk.fault is None and witnessed_through > walk.last_seq:
        faults.append(
            (
                walk.last_seq + 1,
                f"the log ends at entry {walk.last_seq} but the witness holds signed heads up to "
                f"entry {witnessed_through}: entries were deleted",
            )
        )
    in_table = {(cp.sequence, cp.signature) for cp in table}
    missing = [
        (
            seq,
            f"the signed head of entry {seq} is in the witness but missing from the "
            "checkpoint table",
        )
        for seq, sig in stream.signed
        if (seq, sig) not in in_table
    ]
    return faults, missing


def _unwitnessed(table: list[Checkpoint], good: list[int], witnessed_through: int) -> list[str]:
    later = sorted(seq for seq in good if seq > witnessed_through)
    if not later:
        return []
    return [
        f"{len(later)} signed checkpoint(s) up to entry {later[-1]} are not yet in the witness "
        "(the next audited action adds them)"
    ]


def _head_faults(head: AuditHead | None, walk: _Walk) -> list[tuple[int, str]]:
    if head is None:
        return [(walk.last_seq + 1, "the log's bookkeeping row (audit_head) is missing")]
    if walk.fault is not None:
        return []  # the walk stopped early: its last entry is not the log's last
    if head.sequence < walk.last_seq:
        return [
            (
                head.sequence + 1,
                f"entries {head.sequence + 1}..{walk.last_seq} lie past the log's head "
                f"(entry {head.sequence}): they were inserted by hand",
            )
        ]
    if head.sequence > walk.last_seq or head.entry_hash != walk.last_hash:
        return [
            (
                min(head.sequence, walk.last_seq + 1),
                f"the log's head names entry {head.sequence} ({head.entry_hash[:16]}…), "
                f"but the last entry is {walk.last_seq} ({walk.last_hash[:16]}…)",
            )
        ]
    return []


def _age(time: str | None, now: datetime | None) -> float | None:
    if time is None or now is None:
        return None
    try:
        return max(0.0, (now - datetime.fromisoformat(time)).total_seconds())
    except ValueError:
        return None
