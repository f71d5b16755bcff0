"""A loaded finger screen set kept in sealed files, so that a gallery opens with a few
decryptions instead of one per row (~7 µs each: ~20-50 s per million templates), and a change
writes bytes in proportion to itself rather than the whole set again.

The files are a cache derived from SQL, as the face index files are: a snapshot that is
missing, damaged, sealed under another key, written by another format or for other screen
parameters, or any of whose pieces is missing, damaged or not the one listed, is not used; the
set is read from SQL and the files written again. One that lags is caught up from the change
log (``finger_changes``) by its reader, which then checks the set against the table's row count
and highest id before trusting it.

A snapshot is a small sealed manifest (``MAGIC | nonce | AES-GCM(header)``, at
:func:`snapshot_path`) listing segments (:mod:`.finger_segments`): files of consecutive rows,
each holding one stretch of row ids, that never change once written. The manifest holds each
segment's GCM tag, and the segment's associated data names the manifest and the segment's
random token, so every piece opens only as the one listed. A write (:func:`write_snapshot`)
keeps the segments that no change touched and writes new ones for the rest:

- rows enrolled since (ids above every segment's) go into a new segment of their own;
- a segment holding a row removed or changed since is written again without it (at most
  ``SEGMENT_ROWS`` rows, ~16 MB), so a deleted template leaves the disk at the next write,
  not at the next compaction;
- compaction, past a threshold only: more than ``_TAIL`` small segments at the end are merged
  into full ones, and a snapshot fragmented into more than twice the segments its rows need
  is written whole.

The new manifest replaces the old one whole (a temporary file renamed into place), and only
then are the segments it no longer lists deleted: a process stopped between the two leaves a
snapshot that opens, and files that the next whole write removes.

Several processes (service replicas, a command beside the server) may write the same snapshot
folder. A write holds an exclusive ``flock`` on the snapshot's lock file (``<manifest>.lock``,
never deleted) from its look at the manifest on disk to the deletion of what it no longer
lists, so one writer's deletions never take another's new segments, and each starts from the
manifest the last one left. Readers take no lock and never wait for a write, however long: a
reader opens every segment its manifest lists at once, so a segment deleted afterwards stays
readable through the open file; one deleted in the moment between reading the manifest and
opening the files was replaced by a newer manifest, which the reader reads instead
(``READ_TRIES`` times at most, then it reads SQL as for any snapshot it cannot open).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import secrets
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mobileid.gallery.finger_plan import live_rows, plan
from mobileid.gallery.finger_screen import I64, Buffers, ScreenSet, code_layout, spare_rows
from mobileid.gallery.finger_segments import (
    PIECE,
    Segment,
    open_segments,
    read_segment,
    segment_path,
    write_segment,
)

__all__ = [
    "Manifest",
    "Snapshot",
    "lock_path",
    "read_snapshot",
    "segment_path",
    "snapshot_path",
    "write_snapshot",
]

MAGIC = b"MIDFSM02"
FORMAT = 2  # of the manifest and its segments; a snapshot of another format is rebuilt
_NONCE = 12
_LEN = struct.Struct("<I")
READ_TRIES = 5  # a reader racing writes that each replace the manifest under it
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, InvalidTag, struct.error)


@dataclass(frozen=True)
class Manifest:
    """What a snapshot's files hold: its segments in id order, the position names their
    numbers refer to, the newest change-log number applied."""

    token: str  # random per write: says whether the manifest on disk is still this one
    applied: int
    positions: tuple[str, ...]
    segments: tuple[Segment, ...]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A screen set and the newest change-log number it holds; ``manifest``: the files it was
    read from (None: not from files)."""

    loaded: ScreenSet
    applied: int
    manifest: Manifest | None = None


def snapshot_path(folder: Path, gallery: str, pipeline_id: str) -> Path:
    """The manifest of a set's snapshot; its segments are named after it."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gallery)[:40]
    digest = hashlib.sha256(f"{gallery}|{pipeline_id}".encode()).hexdigest()[:12]
    return folder / f"fingers-{safe}-{digest}.manifest"


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


# --- writing ------------------------------------------------------------------------------
def write_snapshot(
    key: bytes,
    path: Path,
    gallery: str,
    snap: Snapshot,
    *,
    previous: Manifest | None = None,
    dirty: I64 | None = None,
) -> Manifest:
    """Write ``snap`` as the snapshot at ``path``; returns its manifest.

    ``previous``: the manifest this process last wrote or read there, and ``dirty``: the row
    ids touched since (sorted). With both, and ``previous`` still the manifest on disk, only
    segments for what changed are written; otherwise every segment is, and every other file of
    the snapshot (older segments, an unfinished write, a file of an older format) is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        return _write(key, path, gallery, snap, previous, dirty)


def lock_path(path: Path) -> Path:
    """The lock file of the snapshot whose manifest is ``path``."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The snapshot's write lock, across processes (and threads: each opens its own file)."""
    with lock_path(path).open("ab") as f:  # never truncated or deleted: one inode for all
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the write fails


def _write(
    key: bytes,
    path: Path,
    gallery: str,
    snap: Snapshot,
    previous: Manifest | None,
    dirty: I64 | None,
) -> Manifest:
    if previous is not None and _token_on_disk(key, path) != previous.token:
        previous = None  # replaced by another writer, damaged or gone: write it whole
    s = snap.loaded
    pieces = plan(s, previous.segments if previous is not None else None, dirty)
    names = list(previous.positions) if previous is not None else []
    segments = []
    for piece in pieces:
        if isinstance(piece, Segment):
            segments.append(piece)
            continue
        rows = live_rows(s, piece)
        for p in dict.fromkeys(s.positions[r] for r in rows.tolist()):
            if p not in names:
                names.append(p)
        segments.append(write_segment(key, path, s, rows, {p: i for i, p in enumerate(names)}))
    manifest = Manifest(secrets.token_hex(8), snap.applied, tuple(names), tuple(segments))
    _write_manifest(key, path, gallery, s.pipeline_id, manifest)
    if previous is None:
        keep = {segment_path(path, g.token).name for g in segments}
        keep |= {path.name, lock_path(path).name}
        for f in path.parent.glob(f"{path.stem}.*"):
            if f.name not in keep:
                f.unlink(missing_ok=True)
    else:
        for g in set(previous.segments) - set(segments):
            segment_path(path, g.token).unlink(missing_ok=True)
    return manifest


def _write_manifest(key: bytes, path: Path, gallery: str, pipeline_id: str, m: Manifest) -> None:
    header = {
        **_expected(gallery, pipeline_id),
        "token": m.token,
        "applied": m.applied,
        "positions": list(m.positions),
        "segments": [g.listed() for g in m.segments],
    }
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(header).encode(), _context(path))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(MAGIC + nonce + _LEN.pack(len(sealed)) + sealed)
    tmp.replace(path)


# --- reading ------------------------------------------------------------------------------
def read_snapshot(key: bytes, path: Path, gallery: str, pipeline_id: str) -> Snapshot | None:
    """The snapshot at ``path``, or None when it or any of its segments is missing, damaged,
    another key's or another snapshot's, or written for another gallery, pipeline, format or
    screen parameters."""
    for _ in range(READ_TRIES):
        seen: list[str] = []
        try:
            return _read(key, path, gallery, pipeline_id, seen)
        except _UNREADABLE:
            if not seen or _token_on_disk(key, path) in (None, seen[0]):
                return None  # unreadable as it stands, not replaced while it was read
    return None


def _read(
    key: bytes, path: Path, gallery: str, pipeline_id: str, seen: list[str]
) -> Snapshot | None:
    """One try of ``read_snapshot``; ``seen`` gets the manifest's token once read."""
    header = _header(key, path)
    if any(header.get(k) != v for k, v in _expected(gallery, pipeline_id).items()):
        return None
    m = Manifest(
        str(header["token"]),
        int(header["applied"]),
        tuple(str(p) for p in header["positions"]),
        tuple(Segment.of(item) for item in header["segments"]),
    )
    seen.append(m.token)
    return Snapshot(_rows(key, path, m, pipeline_id), m.applied, m)


def _header(key: bytes, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    if data[: len(MAGIC)] != MAGIC:
        raise ValueError(f"snapshot: expected {MAGIC!r} at the start of {path.name}")
    nonce, at = data[len(MAGIC) : len(MAGIC) + _NONCE], len(MAGIC) + _NONCE
    (length,) = _LEN.unpack(data[at : at + _LEN.size])
    if len(data) != at + _LEN.size + length:
        raise ValueError(f"snapshot: {path.name} is not as long as its header says")
    opened = json.loads(AESGCM(key).decrypt(nonce, data[at + _LEN.size :], _context(path)))
    if not isinstance(opened, dict):
        raise ValueError("snapshot: expected a header object")
    return opened


def _token_on_disk(key: bytes, path: Path) -> str | None:
    try:
        return str(_header(key, path)["token"])
    except (OSError, ValueError, KeyError, InvalidTag, struct.error):
        return None


def _rows(key: bytes, path: Path, m: Manifest, pipeline_id: str) -> ScreenSet:
    """The segments' rows, one after another, straight into buffers with room to grow (a
    catch-up appends there; the room also gives a decryption the block past the end it asks
    for)."""
    rows, (mm, w) = sum(g.rows for g in m.segments), code_layout()[1]
    room = rows + spare_rows(rows)
    b = Buffers(np.zeros(room, np.int64), np.zeros((room, mm, w), np.uint64), [], [], 0)
    top, scratch = -1, bytearray(PIECE)
    with ExitStack() as files:
        opened = open_segments(path, m.segments, files)
        for seg, f in zip(m.segments, opened, strict=True):
            if seg.first <= top:
                raise ValueError("snapshot: expected segments in ascending id order")
            numbers, subjects = read_segment(key, path, seg, b, scratch, f)
            b.positions += [m.positions[i] for i in numbers.tolist()]
            b.subjects += subjects
            b.filled, top = b.filled + seg.rows, seg.last
    return ScreenSet.of(pipeline_id, b)
