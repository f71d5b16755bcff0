"""The pieces of a finger snapshot: sealed files of consecutive rows, never changed once
written (:mod:`.finger_snapshot` lists them in its manifest and says which to write).

A segment holds the rows of one stretch of row ids: ids, screen codes, position numbers (into
the manifest's list of position names) and subjects. Layout: ``MAGIC | nonce | AES-GCM(body)``,
encrypted and decrypted in pieces with streaming GCM, so that neither writing nor reading holds
a second copy of the rows. The tag is not in the file but in the manifest, and the associated
data names the snapshot and the segment's random token (which is also in its file name): a
segment opens only as the piece its manifest lists, byte for byte as it was written, and
nothing read is used before the tag has been checked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mobileid.gallery.finger_screen import I64, Buffers, ScreenSet, code_layout

__all__ = ["PIECE", "Segment", "open_segments", "read_segment", "segment_path", "write_segment"]

MAGIC = b"MIDFSG01"
_NONCE = 12
PIECE = 1 << 24  # bytes encrypted or decrypted at a time (16 MiB)
_BLOCK = 16  # the AES block


@dataclass(frozen=True)
class Segment:
    """One segment file, as its manifest lists it."""

    token: str  # random, in the file name and the associated data; never used twice
    rows: int
    first: int  # its lowest and highest row id
    last: int
    subject_bytes: int
    tag: str  # the hex of its GCM tag

    def listed(self) -> list[object]:
        return [self.token, self.rows, self.first, self.last, self.subject_bytes, self.tag]

    @classmethod
    def of(cls, item: list[object]) -> Segment:
        """The segment a manifest's ``item`` names (ValueError where it cannot be one)."""
        token, rows, first, last, subject_bytes, tag = item
        seg = cls(_str(token), _int(rows), _int(first), _int(last), _int(subject_bytes), _str(tag))
        if seg.rows < 1 or seg.first > seg.last or not seg.token.isalnum():
            raise ValueError(f"segment: expected rows >= 1 and first <= last, got {item}")
        return seg


def _int(v: object) -> int:
    if not isinstance(v, int):
        raise ValueError(f"segment: expected a number, got {v!r}")
    return v


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise ValueError(f"segment: expected a string, got {v!r}")
    return v


def segment_path(manifest: Path, token: str) -> Path:
    return manifest.with_name(f"{manifest.stem}.{token}.segment")


def _context(manifest: Path, token: str) -> bytes:
    return f"mobileid/finger-screen-segment|{manifest.name}|{token}".encode()


def write_segment(
    key: bytes, manifest: Path, s: ScreenSet, rows: I64, number: dict[str, int]
) -> Segment:
    """Write the set's ``rows`` (ascending, none dead, at least one) to a new segment file of
    the snapshot ``manifest``; ``number`` gives each of their positions' number."""
    token = secrets.token_hex(8)
    path = segment_path(manifest, token)
    listed = rows.tolist()
    positions = np.array([number[s.positions[r]] for r in listed], dtype=np.uint16)
    subjects = "\n".join([s.subjects[r] for r in listed]).encode()
    nonce = secrets.token_bytes(_NONCE)
    enc = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_context(manifest, token))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.writelines([MAGIC, nonce])
        text = np.frombuffer(subjects, np.uint8)
        for part, taken in ((s.ids, rows), (s.codes, rows), (positions, None), (text, None)):
            for piece in _pieces(part, taken):
                f.write(enc.update(piece))
        f.write(enc.finalize())
    tmp.replace(path)
    first, last = int(s.ids[listed[0]]), int(s.ids[listed[-1]])
    return Segment(token, len(listed), first, last, len(subjects), enc.tag.hex())


def _pieces(part: np.ndarray, rows: I64 | None) -> Iterator[memoryview]:
    """The bytes of ``part`` (its ``rows`` only, when given) about ``PIECE`` at a time: rows
    are gathered a piece at a time, never all at once."""
    n = part.shape[0] if rows is None else rows.shape[0]
    if not n:
        return  # an empty array's memoryview cannot be cast to bytes
    step = max(1, PIECE // max(1, part[:1].nbytes))
    for at in range(0, n, step):
        piece = part[at : at + step] if rows is None else part[rows[at : at + step]]
        yield np.ascontiguousarray(piece).data.cast("B")


def open_segments(
    manifest: Path, segments: tuple[Segment, ...], files: ExitStack
) -> list[BufferedReader]:
    """Every segment of a manifest just read, opened at once (closed with ``files``): one
    deleted after this by a writer that replaced the manifest stays readable through its
    open file, so a reader is not cut short by a write however long its read takes."""
    return [files.enter_context(segment_path(manifest, g.token).open("rb")) for g in segments]


def read_segment(
    key: bytes, manifest: Path, seg: Segment, b: Buffers, scratch: bytearray, f: BufferedReader
) -> tuple[npt.NDArray[np.uint16], list[str]]:
    """``seg``'s ids and codes decrypted into ``b`` past its filled rows (which it must have
    room for, and a block more), once its tag is checked; its position numbers and subjects.
    ``scratch``: ``PIECE`` bytes to read into, shared by the segments of a snapshot (one each
    cost a gigabyte of zeroed pages per million rows). ``f``: the segment's file, opened by
    the caller (``open_segments``). Raises ValueError (or ``InvalidTag``,
    ``OSError``) where it is not as listed."""
    m, w = code_layout()[1]
    r, at = seg.rows, b.filled
    sizes = (8 * r, 8 * r * m * w, 2 * r + seg.subject_bytes)
    tail = np.empty(sizes[2] + _BLOCK, np.uint8)  # a decryption asks for a block past the end
    targets = (
        (b.ids.view(np.uint8)[8 * at :], sizes[0]),
        (b.codes.reshape(-1).view(np.uint8)[8 * m * w * at :], sizes[1]),
        (tail, sizes[2]),
    )
    path = segment_path(manifest, seg.token)
    if f.seek(0, 2) != len(MAGIC) + _NONCE + sum(sizes):
        raise ValueError(f"segment: expected {sum(sizes)} bytes of rows in {path.name}")
    f.seek(0)
    if f.read(len(MAGIC)) != MAGIC:
        raise ValueError(f"segment: expected {MAGIC!r} at the start of {path.name}")
    dec = Cipher(algorithms.AES(key), modes.GCM(f.read(_NONCE), bytes.fromhex(seg.tag)))
    decryptor = dec.decryptor()
    decryptor.authenticate_additional_data(_context(manifest, seg.token))
    for out, length in targets:
        done = 0
        while done < length:
            got = f.readinto(memoryview(scratch)[: min(PIECE, length - done)])
            if not got:
                raise ValueError(f"segment: {path.name} ends early")
            done += decryptor.update_into(memoryview(scratch)[:got], out.data[done:])
    decryptor.finalize()  # InvalidTag unless every byte is as written
    ids = b.ids[at : at + r]
    if ids[0] != seg.first or ids[-1] != seg.last or np.any(np.diff(ids) <= 0):
        raise ValueError(f"segment: expected ids {seg.first}..{seg.last} ascending")
    subjects = tail[2 * r : sizes[2]].tobytes().decode().split("\n")
    if len(subjects) != r:
        raise ValueError(f"segment: expected {r} subjects, got {len(subjects)}")
    return tail[: 2 * r].view(np.uint16), subjects
