"""The tamper-evident audit log: hash-chained entries, signed checkpoints, offline verify.

Public face::

    log = open_audit_log(settings.data_dir)              # or EmbeddedAuditLog(engine, ...)
    with Session(engine) as s, s.begin():
        do_the_action(s)
        log.append(s, AuditEvent(EventType.SEARCH, operator, role, "service", details={...}))
    log.verify()                                          # -> VerifyReport
    verify_log(entries, checkpoints, [public_pem])        # outside the system
"""

from mobileid.audit.canonical import canonical_json, checkpoint_message
from mobileid.audit.embedded import EmbeddedAuditLog, describe, system_clock
from mobileid.audit.errors import AuditIntegrityError, AuditKeyError, BiometricDataRefused
from mobileid.audit.keys import (
    CheckpointSigner,
    export_public_key,
    generate_key,
    key_id,
    load_or_create_signer,
    load_signer,
)
from mobileid.audit.local import (
    audit_database,
    key_dir,
    local_public_keys,
    open_audit_log,
    open_deployment_audit_log,
)
from mobileid.audit.model import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditHead,
    Checkpoint,
    EventType,
    MalformedEntry,
    Outcome,
    VerifyReport,
)
from mobileid.audit.protocol import AuditSink
from mobileid.audit.tables import install, open_audit_engine
from mobileid.audit.verify import Bookkeeping, recompute_hash, verify_log
from mobileid.audit.witness import FileWitness, WitnessHead

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditEvent",
    "AuditHead",
    "AuditIntegrityError",
    "AuditKeyError",
    "AuditSink",
    "BiometricDataRefused",
    "Bookkeeping",
    "Checkpoint",
    "CheckpointSigner",
    "EmbeddedAuditLog",
    "EventType",
    "FileWitness",
    "MalformedEntry",
    "Outcome",
    "VerifyReport",
    "WitnessHead",
    "audit_database",
    "canonical_json",
    "checkpoint_message",
    "describe",
    "export_public_key",
    "generate_key",
    "install",
    "key_dir",
    "key_id",
    "load_or_create_signer",
    "load_signer",
    "local_public_keys",
    "open_audit_engine",
    "open_audit_log",
    "open_deployment_audit_log",
    "recompute_hash",
    "system_clock",
    "verify_log",
]
