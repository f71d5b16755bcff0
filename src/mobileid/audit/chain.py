"""The chain walk of offline verification (:mod:`mobileid.audit.verify`): entries in stored
order, each checked against the one before it (sequence, hash, previous-hash link, time) and,
with a witness, against the hash the witness holds; the walk stops at the first wrong entry
and remembers what the checkpoint checks need (hashes at checkpointed sequences, checkpoints
recorded in the chain, times of the unsigned tail).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mobileid.audit.canonical import entry_payload, hash_payload
from mobileid.audit.model import GENESIS_HASH, AuditEntry, Checkpoint, EventType, MalformedEntry
from mobileid.audit.rows import checkpoint_in

__all__ = ["Walk", "recompute_hash", "walk_chain"]


@dataclass
class Walk:
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


def _entry_fault(item: AuditEntry | MalformedEntry, walk: Walk, last_time: str) -> str | None:
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


def walk_chain(
    items: Iterable[AuditEntry | MalformedEntry],
    wanted: set[int],
    witnessed: Iterator[tuple[int, str]] | None = None,
    tail_after: int = 0,
) -> Walk:
    walk, last_time = Walk(), ""
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
