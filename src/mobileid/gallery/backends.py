"""The vector index named by ``MOBILEID_VECTOR_URI``: embedded FAISS files, or Milvus."""

from __future__ import annotations

from pathlib import Path

from mobileid.config import VECTOR_TIMEOUT_S
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.vectors import VectorIndex


def open_vector_index(
    uri: str | None,
    index_dir: Path,
    *,
    key: bytes,
    kind: str = "auto",
    timeout: float = VECTOR_TIMEOUT_S,
) -> VectorIndex:
    """Unset or empty ``uri``: FAISS files in ``index_dir`` (``kind``: auto, exact or ivf).
    ``http://HOST:PORT``: a Milvus server; a path ending in ``.db``: Milvus Lite (pymilvus
    is imported only then), each request bounded by ``timeout`` seconds
    (``Settings.vector_timeout_s``)."""
    if not uri:
        return FaissVectorIndex(index_dir, key=key, kind=kind)
    from mobileid.gallery.milvus_index import MilvusVectorIndex, check_uri

    return MilvusVectorIndex(check_uri(uri), timeout=timeout)
