"""The Ed25519 key that signs checkpoints: create, load, identify, export.

The private key lives in one PEM file created with mode 0600 and is refused when anyone but
its owner can read it. The public key is exported as PEM so that someone outside the system
(an oversight body, a court) can verify checkpoints with nothing but it and a copy of the log.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mobileid.audit.errors import AuditKeyError
from mobileid.errors import InvalidArgument, NotFound

PRIVATE_KEY_FILE = "audit-ed25519.pem"
PUBLIC_KEY_FILE = "audit-ed25519.pub.pem"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True, eq=False)
class CheckpointSigner:
    """A loaded private key and its id; it only ever signs checkpoint messages."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> CheckpointSigner:
        return cls(private_key, key_id(private_key.public_key()))

    def sign(self, message: bytes) -> str:
        return self.private_key.sign(message).hex()

    def public_key_pem(self) -> str:
        return public_pem(self.private_key.public_key())


def generate_key(key_dir: Path) -> CheckpointSigner:
    """Create a new key pair in ``key_dir``; refuses to overwrite an existing private key."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = key_dir / PRIVATE_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditKeyError(
            f"key file: expected no key at {path} (keys are never overwritten), got one",
            field="key_file",
        ) from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    signer = CheckpointSigner.from_private_key(private)
    (key_dir / PUBLIC_KEY_FILE).write_text(signer.public_key_pem(), encoding="ascii")
    return signer


def load_signer(key_dir: Path) -> CheckpointSigner:
    """The signing key in ``key_dir``; NotFound when there is none."""
    path = key_dir / PRIVATE_KEY_FILE
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"key file: expected an audit signing key at {path}, got no file", field="key_file"
        ) from None
    if mode & 0o077:
        raise AuditKeyError(
            f"key file: expected mode 0600 on {path}, got {mode & 0o777:04o} "
            "(others can read it; treat the key as exposed and rotate it)",
            field="key_file",
        )
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise AuditKeyError(
            f"key file: expected an unencrypted PEM Ed25519 key in {path}, got {exc}",
            field="key_file",
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise AuditKeyError(
            f"key file: expected an Ed25519 key in {path}, got {type(private).__name__}",
            field="key_file",
        )
    return CheckpointSigner.from_private_key(private)


def load_or_create_signer(key_dir: Path) -> CheckpointSigner:
    if (key_dir / PRIVATE_KEY_FILE).exists():
        return load_signer(key_dir)
    return generate_key(key_dir)


def export_public_key(key_dir: Path) -> str:
    """The PEM public key that verifies this deployment's checkpoints."""
    return load_signer(key_dir).public_key_pem()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    raw = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(raw)
    except ValueError as exc:
        raise InvalidArgument(
            f"public key: expected a PEM Ed25519 public key, got {exc}", field="public_key"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidArgument(
            f"public key: expected an Ed25519 key, got {type(key).__name__}", field="public_key"
        )
    return key


def trusted_keys(pems: list[str] | tuple[str, ...]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id."""
    keys = [load_public_key(p) for p in pems]
    return {key_id(k): k for k in keys}


def signature_valid(public_key: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    try:
        public_key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
