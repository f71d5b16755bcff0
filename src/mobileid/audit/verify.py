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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mobileid.audit.canonical import message_of
from mobileid.audit.chain import Walk, recompute_hash, walk_chain
from mobileid.audit.keys import signature_valid, trusted_keys
from mobileid.audit.model import AuditEntry, AuditHead, Checkpoint, MalformedEntry, VerifyReport
from mobileid.audit.witness import MalformedWitnessLine, WitnessHead
from mobileid.audit.witness_check import WitnessStream

__all__ = ["Bookkeeping", "recompute_hash", "verify_log"]


def _checkpoint_fault(
    cp: Checkpoint, keys: Mapping[str, Ed25519PublicKey], walk: Walk
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


def _missing_from_table(walk: Walk, table: list[Checkpoint]) -> list[tuple[int, str]]:
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
    walk = walk_chain(entries, {cp.sequence for cp in table}, leaves, tail_after)
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
    stream: WitnessStream, walk: Walk, table: list[Checkpoint], witnessed_through: int
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


def _head_faults(head: AuditHead | None, walk: Walk) -> list[tuple[int, str]]:
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
