"""A loaded finger screen set kept in one sealed file, so that a gallery opens with one
decryption instead of one per row (~7 µs each: ~20-50 s per million templates).

The file is a cache derived from SQL, as the face index files are: one that is missing,
damaged, sealed under another key, written by another format or for other screen parameters
is not used, and the set is read from SQL and the file written again. One that lags is caught
up from the change log (``finger_changes``) by its reader, which then checks the set against
the table's row count and highest id before trusting it.

Layout: ``MAGIC | nonce₁ | len | AES-GCM(header) | nonce₂ | AES-GCM(body) | tag``. The body
(ids, codes, position numbers, subjects) is encrypted and decrypted in pieces with streaming
GCM, so neither writing nor reading holds a second copy of a gigabyte; nothing read is used
before the tag has been checked. Its associated data names the file and holds nonce₁, so a
body cannot be paired with another header.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mobileid.gallery.finger_screen import Buffers, ScreenSet, code_layout, spare_rows

__all__ = ["Snapshot", "read_snapshot", "snapshot_path", "write_snapshot"]

MAGIC = b"MIDFSS01"
FORMAT = 1  # of the header and body; a file of another format is rebuilt
_NONCE, _TAG = 12, 16
_LEN = struct.Struct("<I")
_PIECE = 1 << 24  # bytes encrypted or decrypted at a time (16 MiB)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A screen set and the newest change-log number it holds."""

    loaded: ScreenSet
    applied: int


def snapshot_path(folder: Path, gallery: str, pipeline_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gallery)[:40]
    digest = hashlib.sha256(f"{gallery}|{pipeline_id}".encode()).hexdigest()[:12]
    return folder / f"fingers-{safe}-{digest}.sealed"


def _context(path: Path) -> bytes:
    return f"mobileid/finger-screen-snapshot|{path.name}".encode()


def _expected(gallery: str, pipeline_id: str) -> dict[str, object]:
    tag, shape = code_layout()
    return {
        "format": FORMAT,
        "gallery": gallery,
        "pipeline_id": pipeline_id,
        "code_tag": tag.hex(),
        "shape": list(shape),
    }


def write_snapshot(key: bytes, path: Path, gallery: str, snap: Snapshot) -> None:
    """Write ``snap`` to ``path`` whole or not at all (a temporary file renamed into place)."""
    s = snap.loaded
    live = s.live_rows().tolist() if s.dead.size else range(s.rows)
    names = sorted({s.positions[r] for r in live})
    number = {p: i for i, p in enumerate(names)}
    positions = np.array([number[s.positions[r]] for r in live], dtype=np.uint16)
    subjects = "\n".join([s.subjects[r] for r in live]).encode()
    text = np.frombuffer(subjects, np.uint8)
    header = {
        **_expected(gallery, s.pipeline_id),
        "rows": s.size,  # live rows only: a removed template never reaches the file
        "applied": snap.applied,
        "positions": names,
        "subject_bytes": len(subjects),
    }
    context = _context(path)
    n1, n2 = secrets.token_bytes(_NONCE), secrets.token_bytes(_NONCE)
    head = AESGCM(key).encrypt(n1, json.dumps(header).encode(), context + b"|header")
    enc = Cipher(algorithms.AES(key), modes.GCM(n2)).encryptor()
    enc.authenticate_additional_data(context + b"|body" + n1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.writelines([MAGIC, n1, _LEN.pack(len(head)), head, n2])
        parts = ((s.ids, s.dead), (s.codes, s.dead), (positions, None), (text, None))
        for part, dead in parts:
            for piece in _pieces(part, dead):
                f.write(enc.update(piece))
        f.write(enc.finalize())
        f.write(enc.tag)
    tmp.replace(path)


def _pieces(part: np.ndarray, dead: np.ndarray | None) -> Iterator[memoryview]:
    """The bytes of ``part`` (of the set's rows, less its ``dead``) about ``_PIECE`` at a time:
    the live rows are gathered a piece at a time, never the whole set at once."""
    if not part.size:
        return  # an empty array's memoryview cannot be cast to bytes
    step = max(1, _PIECE // max(1, part[:1].nbytes))
    for at in range(0, part.shape[0], step):
        rows = part[at : at + step]
        if dead is not None and dead.size:
            gone = dead[(dead >= at) & (dead < at + step)] - at
            rows = np.delete(rows, gone, axis=0)
        if rows.size:
            yield np.ascontiguousarray(rows).data.cast("B")


def read_snapshot(key: bytes, path: Path, gallery: str, pipeline_id: str) -> Snapshot | None:
    """The snapshot at ``path``, or None when it is missing, damaged, another key's, or written
    for another gallery, pipeline, format or screen parameters."""
    try:
        with path.open("rb") as f:
            return _read(f, key, path, gallery, pipeline_id)
    except (OSError, ValueError, KeyError, TypeError, InvalidTag, struct.error):
        return None


def _read(
    f: io.BufferedReader, key: bytes, path: Path, gallery: str, pipeline_id: str
) -> Snapshot | None:
    size = f.seek(0, 2)
    f.seek(0)
    if f.read(len(MAGIC)) != MAGIC:
        return None
    context, n1 = _context(path), f.read(_NONCE)
    (length,) = _LEN.unpack(f.read(_LEN.size))
    header = json.loads(AESGCM(key).decrypt(n1, f.read(length), context + b"|header"))
    if any(header.get(k) != v for k, v in _expected(gallery, pipeline_id).items()):
        return None
    n2, start = f.read(_NONCE), f.tell()
    rows, (m, w) = int(header["rows"]), code_layout()[1]
    sizes = (8 * rows, 8 * rows * m * w, 2 * rows, int(header["subject_bytes"]))
    if start + sum(sizes) + _TAG != size:
        return None
    f.seek(size - _TAG)
    tag = f.read(_TAG)
    f.seek(start)
    # Ids and codes go straight into buffers with room to grow (a catch-up appends there);
    # the room also gives update_into the block more past the end that it asks for.
    room = rows + spare_rows(rows)
    ids, codes = np.zeros(room, np.int64), np.zeros((room, m, w), np.uint64)
    tail = np.empty(sizes[2] + sizes[3] + _PIECE, np.uint8)
    dec = Cipher(algorithms.AES(key), modes.GCM(n2, tag)).decryptor()
    dec.authenticate_additional_data(context + b"|body" + n1)
    scratch = bytearray(_PIECE)
    targets = ((ids.view(np.uint8), sizes[0]), (codes.reshape(-1).view(np.uint8), sizes[1]))
    for out, length in (*targets, (tail, sizes[2] + sizes[3])):
        done = 0
        while done < length:
            got = f.readinto(memoryview(scratch)[: min(_PIECE, length - done)])
            if not got:
                return None
            done += dec.update_into(memoryview(scratch)[:got], out.data[done:])
    dec.finalize()  # InvalidTag unless every byte is as written: only then is anything used
    loaded = _unpack(Buffers(ids, codes, [], [], rows), tail, sizes[2:], header, pipeline_id)
    return Snapshot(loaded, int(header["applied"]))


def _unpack(
    b: Buffers, tail: np.ndarray, sizes: tuple[int, ...], header: dict, pipeline_id: str
) -> ScreenSet:
    rows = b.filled
    names = [str(p) for p in header["positions"]]
    b.positions = [names[i] for i in tail[: sizes[0]].view(np.uint16).tolist()]
    text = tail[sizes[0] : sizes[0] + sizes[1]].tobytes().decode()
    b.subjects = text.split("\n") if rows else []
    if len(b.subjects) != rows or (rows and np.any(np.diff(b.ids[:rows]) <= 0)):
        raise ValueError("snapshot: rows and subjects differ, or ids are not ascending")
    return ScreenSet.of(pipeline_id, b)
