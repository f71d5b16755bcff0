"""A cache of derived biometric data (evaluation embeddings and templates), sealed at rest.

The evaluation caches hold what the gallery holds (face embeddings, finger templates) and used
to hold it in plain text keyed by image SHA-256, the same hash the gallery stores beside each
enrolled image: anyone reading the cache folder could link a vector to an enrolled subject.
Here every entry is sealed with AES-GCM under the deployment key (``SecretBox``, as gallery
rows are), and looked up by an HMAC of (namespace, image hash) under that key, so neither the
vectors nor the image hashes can be read or linked without it. An entry sealed under another
key (after ``admin rotate-key``) is a miss and is computed again: a cache can always be
rebuilt. The file and its folder are created readable by the owner only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from pathlib import Path

from mobileid.auth.crypto import SecretBox
from mobileid.auth.errors import DeploymentKeyError

__all__ = ["SealedCache"]


def _owner_only_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        os.chmod(path, 0o600)


class SealedCache:
    """``(namespace, image SHA-256) → bytes``; a namespace is a pipeline id and its settings."""

    def __init__(self, path: Path, key: bytes) -> None:
        self._box = SecretBox(key)
        self._mac_key = hashlib.sha256(b"mobileid/cache-lookup/" + key).digest()
        _owner_only_file(path)
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sealed (lookup TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
            " sealed BLOB NOT NULL)"
        )
        self._drop_plaintext()

    def _drop_plaintext(self) -> None:
        """The plaintext table of earlier versions goes, and VACUUM rewrites the file so that
        its pages do not linger in free space."""
        found = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'cache'").fetchone()
        if found:
            self.db.execute("DROP TABLE cache")
            self.db.commit()
            self.db.execute("VACUUM")

    def _lookup(self, namespace: str, sha: str) -> str:
        message = f"{namespace}|{sha}".encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    def get(self, namespace: str, sha: str) -> bytes | None:
        lookup = self._lookup(namespace, sha)
        row = self.db.execute(
            "SELECT key_id, sealed FROM sealed WHERE lookup = ?", (lookup,)
        ).fetchone()
        if row is None or row[0] != self._box.key_id:
            return None
        try:
            return self._box.open(row[1], f"mobileid/cache|{lookup}", row[0])
        except DeploymentKeyError:  # damaged or moved: compute again
            return None

    def put(self, namespace: str, sha: str, payload: bytes) -> None:
        lookup = self._lookup(namespace, sha)
        sealed = self._box.seal(payload, f"mobileid/cache|{lookup}")
        self.db.execute(
            "INSERT OR REPLACE INTO sealed VALUES (?, ?, ?)", (lookup, self._box.key_id, sealed)
        )

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()
