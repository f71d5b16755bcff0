"""Tampering with a real log's SQLite file by hand is caught at the right sequence number."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobileid.audit import (
    AuditEntry,
    AuditIntegrityError,
    Checkpoint,
    CheckpointSigner,
    EmbeddedAuditLog,
    checkpoint_message,
    recompute_hash,
    verify_log,
)
from tests.audit.conftest import TOTAL, sample_event


def _row(db: sqlite3.Connection, seq: int) -> dict[str, object]:
    cur = db.execute("SELECT * FROM audit_entries WHERE sequence = ?", (seq,))
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_untampered_log_verifies(reopen: EmbeddedAuditLog) -> None:
    """The log as written verifies, vouched for by its last checkpoint."""
    report = reopen.verify()
    assert report.ok, report.reason
    assert (report.entries, report.checkpoints, report.head_sequence) == (TOTAL, 3, TOTAL)
    assert report.trusted_through == 300
    assert (report.witness_heads, report.witnessed_through, report.tail_entries) == (3, 300, 50)
    assert report.first_bad_sequence is None


def test_edited_details_are_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """Changing one entry's details makes that entry the first bad one."""
    db.execute(
        "UPDATE audit_entries SET details = ? WHERE sequence = 150",
        (json.dumps({"case": "CASE-99999", "purpose": "curiosity"}),),
    )
    report = reopen.verify()
    assert not report.ok
    assert report.first_bad_sequence == 150
    assert "changed" in report.reason


def test_edited_operator_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """Changing who did something (not only what) is caught."""
    db.execute("UPDATE audit_entries SET operator = 'someone_else' WHERE sequence = 42")
    assert reopen.verify().first_bad_sequence == 42


def test_deleted_entry_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """Deleting an entry in the middle names the missing sequence number."""
    db.execute("DELETE FROM audit_entries WHERE sequence = 150")
    report = reopen.verify()
    assert report.first_bad_sequence == 150
    assert "missing" in report.reason


def test_deleted_and_renumbered_entry_is_caught(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """Closing the gap after a deletion by renumbering still breaks the chain there."""
    db.execute("DELETE FROM audit_entries WHERE sequence = 150")
    db.execute("UPDATE audit_entries SET sequence = sequence + 100000 WHERE sequence > 150")
    db.execute("UPDATE audit_entries SET sequence = sequence - 100001 WHERE sequence > 100000")
    assert reopen.verify().first_bad_sequence == 150


def test_inserted_forged_entry_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """A forged entry with a correct hash slipped in at 150 differs from the witnessed 150."""
    db.execute("UPDATE audit_entries SET sequence = sequence + 100000 WHERE sequence >= 150")
    db.execute("UPDATE audit_entries SET sequence = sequence - 99999 WHERE sequence > 100000")
    before = _row(db, 149)
    forged = AuditEntry(
        sequence=150,
        time="2026-01-05T08:02:30.000000+00:00",
        operator="officer3",
        role="officer",
        event="search",
        component="service",
        outcome="ok",
        details={"case": "CASE-FAKE", "purpose": "missing person"},
        clock_regressed=False,
        prev_hash=str(before["entry_hash"]),
        entry_hash="",
    )
    forged = replace(forged, entry_hash=recompute_hash(forged))
    db.execute(
        "INSERT INTO audit_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (150, forged.time, forged.operator, forged.role, forged.event, forged.component,
         forged.outcome, json.dumps(dict(forged.details)), 0, forged.prev_hash,
         forged.entry_hash),
    )  # fmt: skip
    report = reopen.verify()
    assert report.first_bad_sequence == 150
    assert "witness" in report.reason
    assert not report.ok
    # Without the witness, the database alone still shows the broken link after it.
    with reopen.engine.connect() as conn:
        alone = verify_log(reopen.iter_entries(conn), reopen.checkpoints(conn), reopen.own_keys())
    assert alone.first_bad_sequence == 151


def test_swapped_entries_are_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """Swapping two entries' sequence numbers names the earlier of the two."""
    db.execute("UPDATE audit_entries SET sequence = -1 WHERE sequence = 120")
    db.execute("UPDATE audit_entries SET sequence = 120 WHERE sequence = 121")
    db.execute("UPDATE audit_entries SET sequence = 121 WHERE sequence = -1")
    assert reopen.verify().first_bad_sequence == 120


def test_truncated_tail_before_checkpoint_is_caught(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """Deleting the last entries back past a signed checkpoint names the first missing one."""
    db.execute("DELETE FROM audit_entries WHERE sequence > 280")
    report = reopen.verify()
    assert report.first_bad_sequence == 281
    assert "truncated" in report.reason
    assert report.trusted_through == 200


def test_rewritten_tail_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """Truncating and fixing the bookkeeping stops the next action; a tail re-written by hand
    with correct hashes (checkpoints deleted) still differs from the witness at 281."""
    db.execute("DELETE FROM audit_entries WHERE sequence > 280")
    db.execute("DELETE FROM audit_checkpoints WHERE sequence > 200")
    last = _row(db, 280)
    db.execute(
        "UPDATE audit_head SET sequence = 280, entry_hash = ?, time = ?, last_checkpoint = 200",
        (last["entry_hash"], last["time"]),
    )
    with pytest.raises(AuditIntegrityError, match="entry 300, which a signed head vouches for"):
        reopen.record(sample_event(0))
    prev = str(last["entry_hash"])
    for seq in range(281, 321):
        prev = _insert_forged(db, seq, prev)
    db.execute("UPDATE audit_head SET sequence = 320, entry_hash = ?", (prev,))
    report = reopen.verify()
    assert report.first_bad_sequence == 281
    assert "rewritten" in report.reason


def _insert_forged(db: sqlite3.Connection, seq: int, prev: str) -> str:
    """Append a correctly hashed entry by hand, as someone with the hashing rules could."""
    forged = AuditEntry(
        sequence=seq,
        time="2026-01-05T09:00:00.000000+00:00",
        operator="officer9",
        role="officer",
        event="disposition",
        component="service",
        outcome="ok",
        details={"case": "CASE-FAKE"},
        clock_regressed=False,
        prev_hash=prev,
        entry_hash="",
    )
    forged = replace(forged, entry_hash=recompute_hash(forged))
    db.execute(
        "INSERT INTO audit_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (seq, forged.time, forged.operator, forged.role, forged.event, forged.component,
         forged.outcome, json.dumps(dict(forged.details)), 0, forged.prev_hash,
         forged.entry_hash),
    )  # fmt: skip
    return forged.entry_hash


def test_tail_cut_after_last_database_checkpoint_is_caught_by_the_witness(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """Cutting entries and checkpoints after 300 leaves a self-consistent database, which the
    witness (holding the head signed on demand at 351) contradicts."""
    reopen.checkpoint()  # logs entry 351 and signs it
    db.execute("DELETE FROM audit_entries WHERE sequence > 340")
    db.execute("DELETE FROM audit_checkpoints WHERE sequence > 300")
    last = _row(db, 340)
    db.execute("UPDATE audit_head SET sequence = 340, entry_hash = ?", (last["entry_hash"],))
    with reopen.engine.connect() as conn:
        alone = verify_log(reopen.iter_entries(conn), reopen.checkpoints(conn), reopen.own_keys())
    assert alone.ok  # the remaining database is self-consistent...
    report = reopen.verify()
    assert report.first_bad_sequence == 341  # ...but not against what was witnessed
    assert "deleted" in report.reason


def test_edited_checkpoint_signature_is_caught(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """A checkpoint whose signature was altered is reported at its sequence number."""
    sig = db.execute("SELECT signature FROM audit_checkpoints WHERE sequence = 200").fetchone()[0]
    flipped = ("1" if sig[0] == "0" else "0") + sig[1:]
    db.execute("UPDATE audit_checkpoints SET signature = ? WHERE sequence = 200", (flipped,))
    report = reopen.verify()
    assert report.first_bad_sequence == 200
    assert "signature" in report.reason


def _resign(db: sqlite3.Connection, signer: CheckpointSigner, key_id: str) -> None:
    seq, entry_hash, time = db.execute(
        "SELECT sequence, entry_hash, time FROM audit_checkpoints WHERE sequence = 200"
    ).fetchone()
    sig = signer.sign(checkpoint_message(seq, entry_hash, time, key_id))
    db.execute(
        "UPDATE audit_checkpoints SET signature = ?, key_id = ? WHERE sequence = 200",
        (sig, key_id),
    )


def test_checkpoint_resigned_with_another_key_is_caught(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """Re-signing a checkpoint with a key of one's own names an unknown key."""
    intruder = CheckpointSigner.from_private_key(Ed25519PrivateKey.generate())
    _resign(db, intruder, intruder.key_id)
    report = reopen.verify()
    assert report.first_bad_sequence == 200
    assert "unknown key" in report.reason


def test_checkpoint_resigned_under_the_real_key_id_is_caught(
    db: sqlite3.Connection, reopen: EmbeddedAuditLog
) -> None:
    """Re-signing with another key while keeping the real key id fails the signature check."""
    intruder = CheckpointSigner.from_private_key(Ed25519PrivateKey.generate())
    assert reopen.signer is not None
    _resign(db, intruder, reopen.signer.key_id)
    assert "signature" in reopen.verify().reason


def test_deleted_checkpoint_row_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """A checkpoint the chain records cannot silently vanish from the checkpoint table."""
    db.execute("DELETE FROM audit_checkpoints WHERE sequence = 200")
    report = reopen.verify()
    assert report.first_bad_sequence == 200
    assert "missing from the checkpoint table" in report.reason
    assert "witness" in report.reason


def test_unreadable_entry_is_caught(db: sqlite3.Connection, reopen: EmbeddedAuditLog) -> None:
    """An entry edited into something that is not JSON is reported, not crashed on."""
    db.execute("UPDATE audit_entries SET details = 'not json' WHERE sequence = 77")
    report = reopen.verify()
    assert report.first_bad_sequence == 77
    assert "cannot be read" in report.reason


def test_verifies_only_with_a_trusted_key(reopen: EmbeddedAuditLog) -> None:
    """Against someone else's public key, the first checkpoint's key is unknown."""
    stranger = CheckpointSigner.from_private_key(Ed25519PrivateKey.generate())
    report = reopen.verify([stranger.public_key_pem()])
    assert report.first_bad_sequence == 100
    assert isinstance(reopen.checkpoints()[0], Checkpoint)
