"""Checking a witness while the chain is walked: every witnessed entry hash, in order.

The witness is read as a stream (a long one is never held whole): its lines are checked (format,
signature, continuity) and flattened into the sequence of entry hashes they vouch for, which the
chain walk compares entry by entry. That is how ``verify`` names the first entry that differs
from what was signed, even after the whole chain was consistently re-hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mobileid.audit.canonical import message_of
from mobileid.audit.keys import signature_valid
from mobileid.audit.witness import MalformedWitnessLine, WitnessHead


@dataclass
class WitnessStream:
    """Flattens witness lines into (sequence, entry hash) pairs, recording what is wrong."""

    lines: Iterable[WitnessHead | MalformedWitnessLine]
    keys: Mapping[str, Ed25519PublicKey]
    heads: int = 0
    last_sequence: int = 0
    fault: tuple[int, str] | None = None
    signed: set[tuple[int, str]] = field(default_factory=set)  # (sequence, signature)
    last_time: str = ""
    every: int | None = None  # the schedule the last witnessed head promised

    def leaves(self) -> Iterator[tuple[int, str]]:
        for number, line in enumerate(self.lines, start=1):
            problem = self._problem(line)
            if problem is not None:
                self.fault = (max(problem[0], 1), f"witness line {number}: {problem[1]}")
                return
            assert isinstance(line, WitnessHead)  # _problem refuses the malformed kind
            self.heads += 1
            self.signed.add((line.sequence, line.checkpoint.signature))
            self.last_time = line.checkpoint.time
            self.every = line.every
            yield from enumerate(line.leaves, start=line.first_sequence)
            self.last_sequence = line.sequence

    def _problem(self, line: WitnessHead | MalformedWitnessLine) -> tuple[int, str] | None:
        """What is wrong with a line, and the first entry it leaves unvouched for."""
        if isinstance(line, MalformedWitnessLine):
            return self.last_sequence + 1, line.reason
        cp = line.checkpoint
        if line.first_sequence != self.last_sequence + 1:
            return self.last_sequence + 1, (
                f"covers entries {line.first_sequence}..{cp.sequence}, expected it to continue "
                f"from entry {self.last_sequence + 1}"
            )
        key = self.keys.get(cp.key_id)
        if key is None:
            return (
                cp.sequence,
                f"the head of entry {cp.sequence} is signed by unknown key {cp.key_id}",
            )
        if not signature_valid(key, cp.signature, message_of(cp)):
            return cp.sequence, f"the signature of the head of entry {cp.sequence} does not verify"
        return None

    def drain(self, pending: Iterator[tuple[int, str]]) -> int:
        """Read what the chain walk did not need; the highest sequence any line vouches for."""
        highest = 0
        for seq, _ in pending:
            highest = seq
        return max(highest, self.last_sequence)
