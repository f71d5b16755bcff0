"""The deployment key file and AES-GCM sealing of secrets at rest."""

from __future__ import annotations

import os

import pytest

from mobileid.auth import DeploymentKeyError, load_or_create_key
from mobileid.auth.crypto import SecretBox


def test_key_created_once_owner_only(tmp_path):
    """A missing key is created as 32 random bytes, mode 0600, and read back unchanged."""
    path = tmp_path / "keys" / "deployment.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key


def test_group_readable_key_refused(tmp_path):
    """A key file others can read is refused, naming the mode expected and found."""
    path = tmp_path / "deployment.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(DeploymentKeyError, match=r"expected mode 0600 .*got 0644"):
        load_or_create_key(path)


def test_truncated_key_refused(tmp_path):
    """A key file of the wrong length is refused."""
    path = tmp_path / "deployment.key"
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(DeploymentKeyError, match="expected 32 bytes, got 5"):
        load_or_create_key(path)


def test_sealed_secret_bound_to_its_owner():
    """A ciphertext moved to another operator's row, or edited, fails to open."""
    box = SecretBox(bytes(32))
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", "mobileid/totp/alice")
    assert box.open(sealed, "mobileid/totp/alice", box.key_id) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        box.open(sealed, "mobileid/totp/mallory", box.key_id)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        box.open(tampered, "mobileid/totp/alice", box.key_id)
    assert box.seal(b"x", "c") != box.seal(b"x", "c")  # a fresh nonce every time
