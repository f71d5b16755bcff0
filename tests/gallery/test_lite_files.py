"""A damaged Milvus Lite folder (MOBILEID_VECTOR_URI ending in .db): rebuilt from SQL when
Milvus Lite opens it with rows missing, a clear BackendUnavailable when it cannot open it at
all; never a traceback, a hang, or a search that misses an enrolled subject."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from mobileid.database import Database
from mobileid.errors import BackendUnavailable
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.milvus_index import MilvusVectorIndex
from mobileid.gallery.vectors import Partition
from tests.gallery.relay import Relay
from tests.gallery.test_sync import KEY, PID, batch, opened, unit

N = 40
VECS = unit(np.random.default_rng(21), N)
PART = Partition("g1", PID)
LIMIT_S = 5.0


def lite_gallery(root: Path, vecs: np.ndarray, mate: int, timeout: float) -> Path:
    """``root``: a gallery of one subject per row of ``vecs`` in SQLite, whose vectors are in a
    Milvus Lite folder, and in which ``vecs[mate]`` finds its own subject first."""
    g = opened(root, vectors=MilvusVectorIndex(str(root / "v.db"), timeout=timeout))
    g.enrol_many("g1", [batch(vecs)], PID)
    assert g.get(g.search("g1", vecs[mate], PID, k=1)[0].subject_id).name == f"N{mate}"
    g.close()
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gallery of 40 subjects in SQLite whose vectors are in a Milvus Lite folder."""
    return lite_gallery(tmp_path_factory.mktemp("lite"), VECS, 7, LIMIT_S)


def _open(root: Path) -> EmbeddedGallery:
    return opened(root, vectors=MilvusVectorIndex(str(root / "v.db"), timeout=LIMIT_S))


def _copy(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    return root


def _collection(root: Path) -> Path:
    return root / "v.db" / "collections" / f"mobileid_{PART.key}"


def _garble(path: Path) -> None:
    path.write_bytes(np.random.default_rng(5).bytes(max(path.stat().st_size, 64)))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _data_files(root: Path) -> list[Path]:
    found = sorted(_collection(root).glob("partitions/*/data/*.parquet"))
    assert found, "the layout of Milvus Lite's folder changed: revisit this test"
    return found


def _garble_manifest(root: Path) -> None:
    _garble(_collection(root) / "manifest.json")


def _remove_data(root: Path) -> None:
    for f in _data_files(root):
        f.unlink()


@pytest.mark.parametrize("damage", [_garble_manifest, _remove_data])
def test_a_lite_folder_that_lost_rows_is_rebuilt_from_sql(
    pristine: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """Milvus Lite opens a folder whose newest manifest is garbled (it falls back to the one
    before) or whose data file is gone, with rows missing yet the index state saying every
    change was applied: the first search counts the index against SQL, rebuilds it, and
    finds the subject."""
    root = _copy(pristine, tmp_path)
    damage(root)
    g = _open(root)
    try:
        assert g.vectors.count(PART) < N and g.vectors.applied(PART) is not None  # silent loss
        assert g.get(g.search("g1", VECS[7], PID, k=1)[0].subject_id).name == "N7"
        assert g.vectors.count(PART) == N
    finally:
        g.close()


def _garble_both_manifests(root: Path) -> None:
    for name in ("manifest.json", "manifest.json.prev"):
        _garble(_collection(root) / name)


def _truncate_data(root: Path) -> None:
    for f in _data_files(root):
        _truncate(f)


def _garble_schema(root: Path) -> None:
    _garble(_collection(root) / "schema.json")


def _file_of_noise(root: Path) -> None:
    shutil.rmtree(root / "v.db")
    (root / "v.db").write_bytes(np.random.default_rng(6).bytes(4096))


@pytest.mark.parametrize(
    "damage", [_garble_both_manifests, _truncate_data, _garble_schema, _file_of_noise]
)
def test_a_lite_folder_that_cannot_be_read_is_backend_unavailable_then_rebuilt_once_moved(
    pristine: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """Both manifests garbled, a data file cut short, a garbled schema, or noise where the
    folder was: opening the gallery or searching it is BackendUnavailable naming the URI and
    saying how to recover, in bounded time; with the folder moved away, the next start
    rebuilds it from SQL and finds the subject."""
    root = _copy(pristine, tmp_path)
    damage(root)
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=r"v\.db.*moved away, it is rebuilt"):
        g = _open(root)
        try:
            g.search("g1", VECS[7], PID, k=1)
        finally:
            g.close()
    assert time.perf_counter() - start < 6 * LIMIT_S
    (root / "v.db").rename(root / "damaged.db")
    g = _open(root)
    try:
        assert g.get(g.search("g1", VECS[7], PID, k=1)[0].subject_id).name == "N7"
        assert g.vectors.count(PART) == N
    finally:
        g.close()


def test_a_count_slower_than_the_search_waits_is_finished_in_the_background(
    fresh_postgres: str, tmp_path: Path
) -> None:
    """On PostgreSQL, a Milvus Lite folder that lost its rows, and the count of the
    partition against SQL slower than the first search waits for it (every byte to the
    server 0.2 s late, the wait 0.05 s, as a cold count of millions of rows is): the search
    answers without an error instead of waiting for or failing on the count; the count ends
    in its own thread, finds the index short and rebuilds it, and the next search finds the
    subject."""
    relay = Relay(fresh_postgres)
    url = urlparse(fresh_postgres)._replace(netloc=f"postgres@127.0.0.1:{relay.port}").geturl()
    database = Database(url, timeout_s=LIMIT_S)
    try:
        (tmp_path / "first").mkdir()
        g = opened_at(database, tmp_path / "first")
        g.enrol_many("g1", [batch(VECS)], PID)
        assert g.get(g.search("g1", VECS[7], PID, k=1)[0].subject_id).name == "N7"
        g.close()
        root = _copy(tmp_path / "first", tmp_path)  # as the pristine folder above is
        _remove_data(root)
        g = opened_at(database, root)
        try:
            assert g.vectors.count(PART) < N and g.vectors.applied(PART) is not None
            g.sync.counts.wait_s = 0.05
            relay.slow(0.2)
            g.search("g1", VECS[7], PID, k=1)  # on the index as it is: no error
            assert g.sync.counts.counting(PART)  # the search did not wait for the count
            relay.slow(0.0)
            g.sync.counts.join()
            for thread in list(g.sync.building.values()):
                thread.join()
            assert g.vectors.count(PART) == N  # rebuilt by the count's thread, not a search
            assert g.get(g.search("g1", VECS[7], PID, k=1)[0].subject_id).name == "N7"
        finally:
            g.close()
    finally:
        relay.close()


def opened_at(database: Database, root: Path) -> EmbeddedGallery:
    """A gallery on ``database`` whose vectors are in the Milvus Lite folder under ``root``."""
    vectors = MilvusVectorIndex(str(root / "v.db"), timeout=LIMIT_S)
    return EmbeddedGallery(database, root / "index", key=KEY, vectors=vectors)
