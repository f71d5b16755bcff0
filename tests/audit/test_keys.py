"""The checkpoint key: created private, never overwritten, exported for outside verifiers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mobileid.audit import (
    AuditKeyError,
    export_public_key,
    generate_key,
    load_or_create_signer,
    load_signer,
)
from mobileid.audit.keys import PRIVATE_KEY_FILE
from mobileid.errors import InvalidArgument, NotFound


def test_private_key_file_is_owner_only(tmp_path: Path) -> None:
    """The private key is written as PEM with mode 0600."""
    generate_key(tmp_path / "keys")
    path = tmp_path / "keys" / PRIVATE_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_key_round_trip_and_id(tmp_path: Path) -> None:
    """A loaded key equals the generated one; its id is SHA-256 of the raw public key[:16]."""
    made = generate_key(tmp_path)
    loaded = load_or_create_signer(tmp_path)
    pem = export_public_key(tmp_path)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and pem == made.public_key_pem()
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert loaded.key_id == made.key_id == hashlib.sha256(raw).hexdigest()[:16]


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    """Generating again where a key exists is refused, keeping the old key."""
    first = generate_key(tmp_path)
    with pytest.raises(AuditKeyError, match="never overwritten"):
        generate_key(tmp_path)
    assert load_signer(tmp_path).key_id == first.key_id


def test_exposed_or_missing_key_is_refused(tmp_path: Path) -> None:
    """A key others can read is refused; a missing key is NotFound; junk is not a key."""
    with pytest.raises(NotFound, match="signing key"):
        load_signer(tmp_path)
    generate_key(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).chmod(0o644)
    with pytest.raises(AuditKeyError, match="0600"):
        load_signer(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).write_text("junk")
    (tmp_path / PRIVATE_KEY_FILE).chmod(0o600)
    with pytest.raises(AuditKeyError, match="PEM"):
        load_signer(tmp_path)


def test_bad_public_key_is_refused() -> None:
    """verify refuses a public key that is not PEM Ed25519, naming the field."""
    from mobileid.audit import verify_log

    with pytest.raises(InvalidArgument, match="public key"):
        verify_log([], [], ["not a key"])
