"""What may enter the log: a fixed vocabulary, plain JSON details, never biometric data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mobileid.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditSink,
    BiometricDataRefused,
    EmbeddedAuditLog,
    EventType,
    Outcome,
    open_audit_engine,
    recompute_hash,
)
from mobileid.errors import InputError, InvalidArgument
from tests.audit.conftest import StepClock


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedAuditLog]:
    log = EmbeddedAuditLog(open_audit_engine(tmp_path / "a.sqlite3"), clock=StepClock())
    yield log
    log.close()


def _event(details: object, kind: object = EventType.SEARCH) -> AuditEvent:
    return AuditEvent(kind, "officer1", "officer", "service", Outcome.OK, details)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("details", "key"),
    [
        ({"image": "..."}, "image"),
        ({"probe": {"embedding": [0.1, 0.2]}}, "embedding"),
        ({"fingers": [{"template": "AAAA"}]}, "template"),
        ({"faceVector": [1.0]}, "faceVector"),
        ({"crop": {"pixels": []}}, "pixels"),
        ({"probe_images": ["a.jpg"]}, "probe_images"),
    ],
)
def test_biometric_keys_are_refused_anywhere(
    log: EmbeddedAuditLog, details: dict[str, object], key: str
) -> None:
    """A key naming a biometric payload, at any depth, is refused with its name and path."""
    with pytest.raises(BiometricDataRefused, match=key) as err:
        log.record(_event(details))
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)
    assert err.value.field is not None and err.value.field.endswith(key)
    assert log.head().sequence == 0


def test_vector_shaped_values_are_refused(log: EmbeddedAuditLog) -> None:
    """A long list of numbers under an innocent key is refused as a likely embedding."""
    with pytest.raises(BiometricDataRefused, match=r"details\.probe"):
        log.record(_event({"probe": [0.01] * 128}))
    with pytest.raises(BiometricDataRefused, match="photo_b64"):
        log.record(_event({"photo_b64": "x"}))  # the key already says what it holds
    with pytest.raises(BiometricDataRefused, match="characters"):
        log.record(_event({"note": "A" * 10_000}))


def test_metadata_about_images_is_allowed(log: EmbeddedAuditLog) -> None:
    """Counts and hashes about images are metadata, not biometric data, and are kept."""
    details = {"images_added": 3, "image_sha256": "ab" * 32, "template_count": 2, "top": 10}
    assert log.record(_event(details)).details == details


def test_details_must_be_plain_json(log: EmbeddedAuditLog) -> None:
    """Non-JSON values, non-string keys and NaN are refused naming the field."""
    with pytest.raises(InvalidArgument, match=r"details\.when"):
        log.record(_event({"when": object()}))
    with pytest.raises(InvalidArgument, match="string keys"):
        log.record(_event({1: "x"}))
    with pytest.raises(InvalidArgument, match="finite"):
        log.record(_event({"score": float("nan")}))
    with pytest.raises(InvalidArgument, match="JSON object"):
        log.record(_event(["not", "an", "object"]))


def test_event_vocabulary_is_fixed(log: EmbeddedAuditLog) -> None:
    """Unknown event types are refused; only the log itself writes checkpoint entries."""
    with pytest.raises(InvalidArgument, match="event"):
        log.record(_event({}, kind="made_up"))
    with pytest.raises(InvalidArgument, match="checkpoint"):
        log.record(_event({}, kind=EventType.CHECKPOINT))
    with pytest.raises(InvalidArgument, match="operator"):
        log.record(AuditEvent(EventType.LOGON, " ", "officer", "auth"))


def test_entries_chain_from_genesis(log: EmbeddedAuditLog) -> None:
    """Entry 1 follows 64 zeros, each next entry its predecessor; hashes recompute."""
    sink: AuditSink = log  # the embedded log fulfils the backend contract (checked by mypy)
    entries = [sink.record(_event({"i": i})) for i in range(3)]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:2]]
    assert all(recompute_hash(e) == e.entry_hash for e in entries)
    assert log.head().entry_hash == entries[-1].entry_hash


def test_read_range(log: EmbeddedAuditLog) -> None:
    """read(start, limit) returns that stretch in order; a bad range is refused."""
    for i in range(10):
        log.record(_event({"i": i}))
    assert [e.sequence for e in log.read(4, 3)] == [4, 5, 6]
    assert [e.sequence for e in log.read(9)] == [9, 10]
    with pytest.raises(InvalidArgument, match="start"):
        log.read(0)


def test_checkpoint_needs_a_key_and_signs_its_own_request(
    log: EmbeddedAuditLog, tmp_path: Path
) -> None:
    """Without a signing key a checkpoint is refused; with one, the request is logged as the
    operator's entry and the signed head covers it."""
    from mobileid.audit import generate_key

    with pytest.raises(InvalidArgument, match="signer"):
        log.checkpoint()
    assert log.read() == []  # the refused request left nothing
    log.signer = generate_key(tmp_path / "keys")
    log.record(_event({}))
    cp = log.checkpoint(operator="auditor1", role="auditor")
    entry = log.read(2)[0]
    assert (cp.sequence, entry.event, entry.operator) == (2, "checkpoint", "auditor1")
    assert cp.entry_hash == entry.entry_hash
    assert log.verify().trusted_through == 2
