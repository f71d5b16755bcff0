"""The witness: signed audit heads kept where a database writer cannot rewrite them.

Whoever can write the database can re-hash the whole chain and delete the checkpoint rows; only
a copy of the signed heads held elsewhere shows that history was rewritten. The witness is an
append-only file of JSON lines (``heads.jsonl``), one per signed head, fsynced before it counts;
by default in ``DATA_DIR/audit-witness/``, better on another volume or machine
(``MOBILEID_AUDIT_WITNESS_DIR``), and optionally mirrored to a remote witness (see
``audit.remote``). A line holds the signed statement (sequence, entry hash, time, key id,
signature) and the hashes of the entries it covers (``first_sequence``..``sequence``), so that a
verifier can name the first entry that differs from what was signed::

    {"entry_hash": "...", "first_sequence": 41, "format": "mobileid-audit-witness/1",
     "key_id": "...", "leaves": ["<hash of 41>", ..., "<hash of 44>"], "sequence": 44,
     "signature": "...", "time": "2026-...", "every": 1}

``every`` is the schedule in force when the head was signed (the next head is due within that
many entries), so that entries added by hand after the last head are told from a slower
schedule.

Writers take an exclusive ``flock`` on the file, so service processes never interleave lines.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobileid.audit.canonical import canonical_json
from mobileid.audit.model import Checkpoint

WITNESS_FORMAT = "mobileid-audit-witness/1"
WITNESS_FILE = "heads.jsonl"
_TAIL_BYTES = 1 << 16  # the last line is read from at most this much of the file's end


@dataclass(frozen=True)
class WitnessHead:
    """One witnessed signed head and the entry hashes it covers."""

    checkpoint: Checkpoint
    first_sequence: int
    leaves: tuple[str, ...]  # entry hashes of first_sequence..checkpoint.sequence
    every: int = 1  # the schedule then in force: the next head is due within this many entries

    @property
    def sequence(self) -> int:
        return self.checkpoint.sequence

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "format": WITNESS_FORMAT,
            "sequence": cp.sequence,
            "entry_hash": cp.entry_hash,
            "time": cp.time,
            "key_id": cp.key_id,
            "signature": cp.signature,
            "first_sequence": self.first_sequence,
            "leaves": list(self.leaves),
            "every": self.every,
        }

    def line(self) -> bytes:
        return canonical_json(self.to_json()) + b"\n"


@dataclass(frozen=True)
class MalformedWitnessLine:
    """A witness line that cannot be read (edited, or cut short by a crash while writing)."""

    line_number: int
    reason: str


def parse_line(raw: bytes, line_number: int) -> WitnessHead | MalformedWitnessLine:
    try:
        d = json.loads(raw)
        if not isinstance(d, dict) or d.get("format") != WITNESS_FORMAT:
            return MalformedWitnessLine(line_number, f"not a {WITNESS_FORMAT} object")
        cp = Checkpoint(
            sequence=_int(d["sequence"]),
            entry_hash=str(d["entry_hash"]),
            time=str(d["time"]),
            key_id=str(d["key_id"]),
            signature=str(d["signature"]),
        )
        first, leaves = _int(d["first_sequence"]), tuple(str(h) for h in d["leaves"])
        every = _int(d.get("every", 1))
    except (ValueError, KeyError, TypeError) as exc:
        return MalformedWitnessLine(line_number, f"unreadable ({exc})")
    if len(leaves) != cp.sequence - first + 1 or not leaves or leaves[-1] != cp.entry_hash:
        return MalformedWitnessLine(
            line_number, f"its leaves do not cover entries {first}..{cp.sequence}"
        )
    return WitnessHead(cp, first, leaves, every)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r:.40}")
    return value


class FileWitness:
    """The append-only witness file in ``folder`` (``path``: a copy under another name)."""

    def __init__(self, folder: Path, path: Path | None = None) -> None:
        self.folder = folder
        self.path = path or folder / WITNESS_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> None:
        """Start an empty witness (a new deployment); never truncates an existing one."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)

    def heads(self) -> Iterator[WitnessHead | MalformedWitnessLine]:
        """Every line, in file order (streamed: a long witness is never held whole)."""
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if raw.strip():
                    yield parse_line(raw, number)

    def last(self) -> WitnessHead | MalformedWitnessLine | None:
        """The last line, read from the file's end only (cheap on a witness of any length)."""
        with self.path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return None
            start = max(0, size - _TAIL_BYTES)
            f.seek(start)
            chunk = f.read()
        lines = chunk.rstrip(b"\n").split(b"\n")
        if not chunk.endswith(b"\n"):
            return MalformedWitnessLine(0, "the last line is cut short (a write was interrupted)")
        if start > 0 and len(lines) == 1:
            return MalformedWitnessLine(0, f"the last line is longer than {_TAIL_BYTES} bytes")
        return parse_line(lines[-1], 0)

    def append(self, heads: Sequence[WitnessHead]) -> None:
        """Append ``heads`` durably (fsync) under an exclusive lock."""
        if not heads:
            return
        data = b"".join(h.line() for h in heads)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def lock(self, *, shared: bool = False) -> WitnessLock:
        """Exclusive for writers; ``shared`` for readers, so none reads a half-written line.
        Never nest two locks of one witness in a process (flock would wait on itself)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return WitnessLock(self.folder / ".lock", shared=shared)


class WitnessLock:
    """An exclusive inter-process lock held while a writer reads the last head and appends."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    def __enter__(self) -> WitnessLock:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
