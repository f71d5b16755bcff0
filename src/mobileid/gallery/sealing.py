"""Biometric data at rest: embedding rows and index files sealed under the deployment key.

Sealing reuses auth's ``SecretBox`` (AES-GCM, random 12-byte nonce || ciphertext and tag) so
that the one deployment key has one cipher and one key-id format wherever it is used. The
associated data binds each ciphertext to its place: an embedding blob copied into another
row, or an index file renamed to another gallery's, fails to open.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Sequence
from typing import cast

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mobileid.auth.crypto import SecretBox
from mobileid.auth.errors import DeploymentKeyError
from mobileid.types import Vector

__all__ = [
    "DeploymentKeyError",
    "FileSeal",
    "SecretBox",
    "index_context",
    "open_vector",
    "open_vectors",
    "row_context",
]


def row_context(gallery: str, subject_id: str, image_sha256: str, pipeline_id: str) -> str:
    """The associated data of one embedding row. The pipeline id goes last: the other parts
    never hold '|', so the joined string names exactly one row."""
    return f"mobileid/face-embedding|{gallery}|{subject_id}|{image_sha256}|{pipeline_id}"


def index_context(name: str) -> str:
    return f"mobileid/face-index|{name}"


def seal_vector(box: SecretBox, vector: Vector, context: str) -> bytes:
    return box.seal(vector.astype("<f4").tobytes(), context)


def open_vector(box: SecretBox, sealed: bytes, context: str, stored_key_id: str | None) -> bytes:
    """The float32 bytes of one row; DeploymentKeyError, with what to do, when this key
    did not seal it."""
    if stored_key_id != box.key_id:
        raise DeploymentKeyError(
            f"face embeddings: expected rows sealed with the deployment key in use "
            f"({box.key_id}), got a row sealed with key {stored_key_id} (a wrong "
            "keys/deployment.key, or an unfinished `mobileid admin rotate-key`: run it again)",
            field="key",
        )
    return box.open(sealed, context, stored_key_id)


def open_vectors(
    box: SecretBox, sealed: Sequence[bytes], contexts: Sequence[str], key_ids: Sequence[str | None]
) -> list[bytes]:
    """``open_vector`` of many rows (a rebuild reads every row of a gallery)."""
    for i, stored in enumerate(key_ids):
        if stored != box.key_id:  # raises, with what to do
            open_vector(box, sealed[i], contexts[i], stored)
    return box.open_many(sealed, contexts, cast(Sequence[str], key_ids))


def as_vectors(blobs: list[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dim)


_NONCE = 12
_LEN = struct.Struct("<I")


class FileSeal:
    """AES-GCM for index files (tens of MB per 100k vectors), without copying the payload.

    ``SecretBox`` joins nonce and ciphertext into one bytes object and slices it apart again
    on opening: two extra copies that cost ~0.2 s per 50 MB here, on every server start. A
    file is ``nonce₁ | len | AES-GCM(header) | nonce₂ | AES-GCM(body)``; the body's associated
    data names the file and holds nonce₁, so a body cannot be paired with another header.
    """

    def __init__(self, key: bytes) -> None:
        SecretBox(key)  # the same length check and message as everywhere else
        self._aead = AESGCM(key)

    def seal(self, header: bytes, body: np.ndarray, context: str) -> list[bytes]:
        """The pieces of the file, to be written one after the other."""
        n1, n2 = secrets.token_bytes(_NONCE), secrets.token_bytes(_NONCE)
        head = self._aead.encrypt(n1, header, f"{context}|header".encode())
        tail = self._aead.encrypt(n2, body.data, f"{context}|body".encode() + n1)
        return [n1, _LEN.pack(len(head)), head, n2, tail]

    def open(self, data: bytes, context: str) -> tuple[bytes, bytes]:
        """(header, body); DeploymentKeyError when the file is damaged or another key's."""
        view = memoryview(data)
        try:
            n1 = bytes(view[:_NONCE])
            (size,) = _LEN.unpack_from(view, _NONCE)
            at = _NONCE + _LEN.size
            header = self._aead.decrypt(n1, view[at : at + size], f"{context}|header".encode())
            at += size
            n2 = view[at : at + _NONCE]
            body = self._aead.decrypt(n2, view[at + _NONCE :], f"{context}|body".encode() + n1)
        except (InvalidTag, struct.error, ValueError):
            raise DeploymentKeyError(
                f"{context}: expected a file sealed with the deployment key in use, got one "
                "that fails authentication (damaged, moved, or sealed with another key)",
                field="key",
            ) from None
        return header, body
