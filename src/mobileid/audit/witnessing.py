"""How the audit log keeps its witness: the trusted anchor, the copy of signed heads, the
periodic full verification. Mixed into ``EmbeddedAuditLog``, which owns the attributes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from mobileid.audit import rows
from mobileid.audit.canonical import message_of
from mobileid.audit.guard import Anchor, FullVerifyMemo, broken, chain_from
from mobileid.audit.keys import CheckpointSigner, signature_valid, trusted_keys
from mobileid.audit.model import AuditHead, Checkpoint, VerifyReport
from mobileid.audit.remote import RemotePublisher
from mobileid.audit.tables import HEAD_ID, CheckpointRow, HeadRow
from mobileid.audit.witness import FileWitness, MalformedWitnessLine, WitnessHead


@functools.lru_cache(maxsize=8)
def _keys_by_id(pems: tuple[str, ...]) -> Mapping[str, Ed25519PublicKey]:
    """The trusted keys parsed once per set, not on every append (read-only)."""
    return MappingProxyType(trusted_keys(pems))


class Witnessing:
    """The witness side of the log (see ``audit.witness`` and ``audit.guard``)."""

    engine: Engine
    signer: CheckpointSigner | None
    trusted_keys: tuple[str, ...]
    clock: Callable[[], datetime]
    checkpoint_every: int
    witness: FileWitness | None
    remote: RemotePublisher | None
    full_verify_minutes: float | None

    def own_keys(self) -> list[str]:
        own = [self.signer.public_key_pem()] if self.signer is not None else []
        return own + list(self.trusted_keys)

    def verify_on(
        self, conn: Connection, keys: Sequence[str], witness: FileWitness | None
    ) -> VerifyReport:
        raise NotImplementedError

    def _signed_through(self, conn: Connection, anchor: Anchor, hashes: list[str]) -> int:
        """The last entry a valid signed head covers: the witness's, or a later checkpoint in
        the database that is not witnessed yet (committed since the last copy)."""
        row = conn.execute(
            select(CheckpointRow)
            .where(CheckpointRow.sequence > anchor.sequence)
            .order_by(CheckpointRow.sequence.desc())
            .limit(1)
        ).one_or_none()
        if row is None:
            return anchor.sequence
        cp = rows.checkpoint_row(row)
        at = cp.sequence - anchor.sequence - 1
        if at >= len(hashes) or hashes[at] != cp.entry_hash or not self._valid(cp):
            raise broken(f"the checkpoint of entry {cp.sequence} does not match the log")
        return cp.sequence

    def _valid(self, cp: Checkpoint) -> bool:
        """Signed by this log's own key or a trusted one."""
        key = _keys_by_id(tuple(self.own_keys())).get(cp.key_id)
        return key is not None and signature_valid(key, cp.signature, message_of(cp))

    def _full_check(self, conn: Connection) -> None:
        assert self.witness is not None and self.full_verify_minutes is not None
        memo = FullVerifyMemo(self.witness.folder)
        if memo.fresh(self.clock(), self.full_verify_minutes):
            return
        with self.witness.lock(shared=True):
            report = self.verify_on(conn, self.own_keys(), self.witness)
        if not report.ok:
            raise broken(f"entry {report.first_bad_sequence}: {report.reason}")
        memo.save(report.head_sequence, self.clock())

    def _anchor(self, conn: Connection, head: AuditHead) -> Anchor:
        if self.witness is None:
            row = conn.execute(
                select(CheckpointRow).order_by(CheckpointRow.sequence.desc()).limit(1)
            ).one_or_none()
            return Anchor(row.sequence, row.entry_hash) if row is not None else Anchor()
        with self.witness.lock(shared=True):
            last = self._witness_last(head.sequence)
        if isinstance(last, MalformedWitnessLine):
            raise broken(f"the witness's last line is unreadable: {last.reason}")
        return Anchor(last.sequence, last.checkpoint.entry_hash, last.every) if last else Anchor()

    def _witness_last(self, entries: int) -> WitnessHead | MalformedWitnessLine | None:
        assert self.witness is not None
        if not self.witness.exists():
            if entries > 0:
                raise broken(
                    f"the witness {self.witness.path} is missing although the log holds "
                    f"{entries} entries (a data folder from before the witness, or a lost "
                    "witness: see `mobileid audit adopt-witness`)"
                )
            self.witness.create()
            return None
        return self.witness.last()

    # --- the witness ------------------------------------------------------------------------
    def sync_witness(self) -> int:
        """Copy committed signed heads the witness lacks into it (and to the remote witness);
        the number copied. Each is checked first: its signature, and that the committed
        entries since the last witnessed head chain up to it."""
        if self.witness is None or (self.signer is None and not self.trusted_keys):
            return 0
        # The connection first, then the lock: an append holding the database's write lock
        # takes this lock too (briefly, to read the witness), so whoever holds the lock must
        # never wait on the pool, which the append's own waiters may have emptied.
        with self.engine.connect() as conn, self.witness.lock():
            head = conn.execute(select(HeadRow).where(HeadRow.id == HEAD_ID)).one_or_none()
            last = self._witness_last(int(head.sequence) if head is not None else 0)
            if isinstance(last, MalformedWitnessLine):
                raise broken(f"the witness's last line is unreadable: {last.reason}")
            anchor = Anchor(last.sequence, last.checkpoint.entry_hash) if last else Anchor()
            new = self._unwitnessed(conn, anchor)
            self.witness.append(new)
            if self.remote is not None:
                self.remote.publish(new)
        return len(new)

    def _unwitnessed(self, conn: Connection, anchor: Anchor) -> list[WitnessHead]:
        q = select(CheckpointRow).where(CheckpointRow.sequence > anchor.sequence)
        new = []
        for row in conn.execute(q.order_by(CheckpointRow.sequence, CheckpointRow.id)):
            cp = rows.checkpoint_row(row)
            if cp.sequence <= anchor.sequence:
                continue  # a second checkpoint of the same head
            if not self._valid(cp):
                raise broken(f"the checkpoint of entry {cp.sequence} is not validly signed")
            leaves = chain_from(conn, anchor, cp.sequence)
            if leaves[-1] != cp.entry_hash:
                raise broken(f"entry {cp.sequence} differs from its signed checkpoint")
            new.append(WitnessHead(cp, anchor.sequence + 1, tuple(leaves), self.checkpoint_every))
            anchor = Anchor(cp.sequence, cp.entry_hash)
        return new
