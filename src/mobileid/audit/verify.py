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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mobileid.audit.canonical import entry_payload, hash_payload, message_of
from mobileid.audit.keys import signature_valid, trusted_keys
from mobileid.audit.model import (
    GENESIS_HASH,
    AuditEntry,
    Checkpoint,
    EventType,
    MalformedEntry,
    VerifyReport,
)
from mobileid.audit.rows import checkpoint_in


@dataclass
class _Walk:
    """What the chain walk learned: its last good entry, hashes wanted, checkpoints seen."""

    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    fault: tuple[int, str] | None = None
    hashes: dict[int, str] = field(default_factory=dict)
    recorded: list[tuple[int, Checkpoint]] = field(default_factory=list)


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


def _walk_chain(items: Iterable[AuditEntry | MalformedEntry], wanted: set[int]) -> _Walk:
    walk, last_time = _Walk(), ""
    for item in items:
        reason = _entry_fault(item, walk, last_time)
        if reason is not None:
            walk.fault = (walk.last_seq + 1, reason)  # the first place that is wrong
            break
        assert isinstance(item, AuditEntry)  # _entry_fault refuses a MalformedEntry
        walk.entries += 1
        walk.last_seq, walk.last_hash, last_time = item.sequence, item.entry_hash, item.time
        if item.sequence in wanted:
            walk.hashes[item.sequence] = item.entry_hash
        if item.event == EventType.CHECKPOINT:
            recorded = checkpoint_in(item)
            if recorded is not None:
                walk.recorded.append((item.sequence, recorded))
    return walk


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


def verify_log(
    entries: Iterable[AuditEntry | MalformedEntry],
    checkpoints: Iterable[Checkpoint],
    public_keys: Sequence[str],
) -> VerifyReport:
    """Check entries (in stored order, by sequence number) against signed checkpoints.

    ``public_keys`` are the PEM public keys trusted to sign checkpoints.
    """
    keys = trusted_keys(tuple(public_keys))
    table = list(checkpoints)
    walk = _walk_chain(entries, {cp.sequence for cp in table})
    faults, good = [], []
    for cp in table:
        fault = _checkpoint_fault(cp, keys, walk)
        if fault is not None:
            faults.append(fault)
        elif walk.fault is None or cp.sequence < walk.fault[0]:
            good.append(cp.sequence)
    faults += _missing_from_table(walk, table)
    if walk.fault is not None:
        faults.append(walk.fault)
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
        trusted_through=max((g for g in good if g < limit), default=0),
    )
