"""The embedded index's files: one sealed FAISS index per partition, with a JSON header.

A file is a cache: one that is damaged, sealed under another key, or whose header does not
match what the reader expects is treated as missing, and the partition is rebuilt from SQL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mobileid.gallery.sealing import DeploymentKeyError, FileSeal, index_context
from mobileid.gallery.vectors import Partition


def index_stem(index_dir: Path, gallery: str, pipeline_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gallery)[:40]
    digest = Partition(gallery, pipeline_id).key[:12]
    return index_dir / f"{safe}-{digest}"


def write_sealed(
    seal: FileSeal, stem: Path, suffix: str, header: dict[str, object], index: faiss.Index
) -> None:
    """Write ``index`` under ``header`` to ``stem`` + ``suffix`` whole or not at all (a
    temporary file renamed into place)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    body = faiss.serialize_index(index)
    pieces = seal.seal(json.dumps(header).encode(), body, _context(stem, suffix))
    path = stem.with_suffix(suffix)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.writelines(pieces)
    tmp.replace(path)


def read_sealed(
    seal: FileSeal, stem: Path, suffix: str, expect: dict[str, object]
) -> tuple[dict[str, Any], faiss.Index] | None:
    """The header and index written by ``write_sealed``, or None when missing, damaged,
    another key's, or when the header's fields differ from ``expect`` or its count from the
    index's."""
    try:
        data = stem.with_suffix(suffix).read_bytes()
        header, body = seal.open(data, _context(stem, suffix))
        meta = json.loads(header)
        if any(meta.get(k) != v for k, v in expect.items()):
            return None
        index = faiss.deserialize_index(np.frombuffer(body, dtype=np.uint8))
        int(meta["built_for"]), int(meta["applied"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, DeploymentKeyError):
        return None
    if index.ntotal != meta.get("count") or index.d != expect.get("dim", index.d):
        return None
    return meta, index


def _context(stem: Path, suffix: str = ".sealed") -> str:
    # A checkpoint is sealed for its own name: renamed to the complete index's, it fails to
    # open instead of passing for a complete index.
    return index_context(stem.name if suffix == ".sealed" else stem.name + suffix)


def remove_index_files(index_dir: Path) -> int:
    """Delete every index file (sealed or from before encryption); they are rebuilt on use."""
    removed = 0
    for pattern in ("*.sealed", "*.building", "*.tmp", "*.faiss", "*.json"):
        for path in index_dir.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
