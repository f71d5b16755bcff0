"""The contract every audit backend fulfils (embedded SQLite, PostgreSQL, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mobileid.audit.model import AuditEntry, AuditEvent, AuditHead, Checkpoint, VerifyReport


class AuditSink(Protocol):
    """An append-only, hash-chained log with signed checkpoints.

    Entries are numbered 1, 2, 3... without gaps; each holds the previous entry's hash. The
    log never holds biometric data: details that look like it are refused.
    """

    def append(self, target: Session | Connection, event: AuditEvent) -> AuditEntry:
        """Write ``event`` inside the caller's transaction: the caller's commit makes both the
        action and its entry durable, a rollback removes both. Raises (writing nothing)
        when the event cannot be logged, so the action must not happen either."""
        ...

    def record(self, event: AuditEvent) -> AuditEntry:
        """``append`` in a transaction of its own, committed before returning."""
        ...

    def read(
        self, start: int = 1, limit: int | None = None, target: Session | Connection | None = None
    ) -> list[AuditEntry]:
        """Entries from sequence number ``start``, in order, at most ``limit`` of them."""
        ...

    def head(self) -> AuditHead: ...

    def checkpoint(
        self,
        target: Session | Connection | None = None,
        *,
        operator: str = "system",
        role: str = "system",
    ) -> Checkpoint:
        """Sign the last entry now; the checkpoint is also logged, as ``operator``'s entry."""
        ...

    def checkpoints(self, target: Session | Connection | None = None) -> list[Checkpoint]: ...

    def verify(self, public_keys: Sequence[str] | None = None) -> VerifyReport:
        """Check the whole log; ``public_keys`` (PEM) default to the deployment's own."""
        ...
