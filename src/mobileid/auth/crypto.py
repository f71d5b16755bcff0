"""Secrets at rest: AES-GCM under the deployment key, and that key's file.

The key is 32 random bytes in a file readable by its owner only; losing it makes the stored
TOTP secrets unreadable (operators then re-enrol their authenticator), so back it up apart
from the database.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mobileid.auth.errors import DeploymentKeyError

KEY_BYTES = 32
_NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, stored beside each ciphertext."""
    return hashlib.sha256(b"mobileid/key-id/" + key).hexdigest()[:16]


class SecretBox:
    """Encrypts small secrets; ``context`` binds a ciphertext to its owner (as AAD)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise DeploymentKeyError(
                f"deployment key: expected {KEY_BYTES} bytes, got {len(key)}", field="key"
            )
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def seal_many(self, plaintexts: Sequence[bytes], contexts: Sequence[str]) -> list[bytes]:
        """``seal`` of each pair; the nonces come from one read of the system's random source,
        which per item cost as much as the encryption in bulk enrolment."""
        nonces = os.urandom(_NONCE_BYTES * len(plaintexts))
        encrypt, out = self._aead.encrypt, []
        for i, (plain, context) in enumerate(zip(plaintexts, contexts, strict=True)):
            nonce = nonces[i * _NONCE_BYTES : (i + 1) * _NONCE_BYTES]
            out.append(nonce + encrypt(nonce, plain, context.encode()))
        return out

    def open(self, sealed: bytes, context: str, stored_key_id: str) -> bytes:
        if stored_key_id != self.key_id:
            raise self._wrong_key(stored_key_id)
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag:
            raise _broken(context) from None

    def open_many(
        self, sealed: Sequence[bytes], contexts: Sequence[str], stored_key_ids: Sequence[str]
    ) -> list[bytes]:
        """``open`` of each triple in one loop: reading a 10M gallery back, the per-item calls
        around the decryption cost twice the decryption itself."""
        for stored in stored_key_ids:
            if stored != self.key_id:
                raise self._wrong_key(stored)
        decrypt, out = self._aead.decrypt, []
        try:
            for blob, context in zip(sealed, contexts, strict=True):
                out.append(decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode()))
        except InvalidTag:
            raise _broken(contexts[len(out)]) from None
        return out

    def _wrong_key(self, stored_key_id: str) -> DeploymentKeyError:
        return DeploymentKeyError(
            f"deployment key: expected key {stored_key_id} (the one that sealed this "
            f"secret), got key {self.key_id}",
            field="key",
        )


def _broken(context: str) -> DeploymentKeyError:
    return DeploymentKeyError(
        f"sealed secret of {context!r}: expected an intact ciphertext, got one that "
        "fails authentication (edited or moved between rows)",
        field="key",
    )


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one (file mode 0600) when the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_key(path)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    return load_key(path)


def load_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as exc:
        raise DeploymentKeyError(
            f"deployment key file: expected a readable file, got {str(path)!r} ({exc.strerror})",
            field="key",
        ) from None
    if mode & 0o077:
        raise DeploymentKeyError(
            f"deployment key file {path}: expected mode 0600 (owner only), got {mode:04o}",
            field="key",
        )
    if len(data) != KEY_BYTES:
        raise DeploymentKeyError(
            f"deployment key file {path}: expected {KEY_BYTES} bytes, got {len(data)}",
            field="key",
        )
    return data
