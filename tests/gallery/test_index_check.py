"""An index that holds the right number of rows with the wrong vectors (garbled bytes in a
Milvus Lite folder, or a server holding other vectors) is found by the sample compared with
SQL on first use, and rebuilt; an intact one is compared and left alone."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from mobileid.gallery import index_check
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.milvus_index import MilvusVectorIndex
from mobileid.gallery.vectors import Batch, Partition
from tests.gallery.test_lite_files import _collection, _copy, lite_gallery
from tests.gallery.test_sync import PID, batch, opened, unit

N = 300  # more rows than the store re-ranks per search (64): a mate lost by the index is missed
VECS = unit(np.random.default_rng(22), N)
PART = Partition("g1", PID)
MATE = 7
GARBLED = slice(0, 16)  # 16 vectors (8 KiB of float32s), more than a stretch of the sample
SHORTLIST = 64


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gallery of 300 subjects in SQLite whose vectors are in a Milvus Lite folder."""
    return lite_gallery(tmp_path_factory.mktemp("lite-sample"), VECS, MATE, 5.0)


def _open(root: Path) -> EmbeddedGallery:
    return opened(root, vectors=MilvusVectorIndex(str(root / "v.db"), timeout=5.0))


def _ids(g: EmbeddedGallery, rows: range) -> np.ndarray:
    """The embedding ids of the subjects enrolled from ``VECS[rows]``, in row order."""
    with g.engine.connect() as conn:
        by_sha = dict(conn.execute(text("SELECT image_sha256, id FROM face_embeddings")).all())
    return np.asarray([by_sha[f"r-sha{i}"] for i in rows], dtype=np.int64)


def _holds_sql_vectors(index: MilvusVectorIndex, part: Partition, ids: np.ndarray) -> bool:
    back = index.fetch(part, ids)
    stored = dict(zip(back.ids.tolist(), back.vectors, strict=True))
    return len(stored) == N and all(
        np.allclose(stored[i], v) for i, v in zip(ids.tolist(), VECS, strict=True)
    )


def _flip_signs(path: Path, vectors: np.ndarray) -> int:
    """Flip the sign bit of every float of ``vectors`` where its bytes lie in ``path``, in
    place (the file keeps its length and structure); returns the 8-byte pieces flipped."""
    data, flipped = bytearray(path.read_bytes()), 0
    for piece in (v.tobytes()[o : o + 8] for v in vectors for o in range(0, 512, 8)):
        at = data.find(piece)
        while at >= 0:
            data[at + 3] ^= 0x80  # float32 little-endian: the sign is the top bit of byte 3
            data[at + 7] ^= 0x80
            flipped += 1
            at = data.find(piece, at + 8)
    path.write_bytes(bytes(data))
    return flipped


def _files(root: Path, where: str) -> list[Path]:
    parts = _collection(root) / "partitions"
    data, sidecars = sorted(parts.glob("*/data/*.parquet")), sorted(parts.glob("*/indexes/*.idx"))
    assert data and sidecars, "the layout of Milvus Lite's folder changed: revisit this test"
    return {"data": data, "sidecar": sidecars, "both": data + sidecars}[where]


@pytest.mark.parametrize("where", ["data", "sidecar", "both"])
def test_garbled_vector_bytes_in_a_lite_folder_are_found_by_the_sample_and_rebuilt(
    pristine: Path, tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Sign bits flipped in 16 stored vectors of the data file (read by id), of the index
    sidecar (searched), or both, leave the folder loadable with every row counted; the
    sidecar's damage drops the mate from the shortlist. The first search compares a sample
    with SQL, logs what differed naming the partition, rebuilds, and the index finds the
    mate again."""
    root = _copy(pristine, tmp_path)
    for f in _files(root, where):
        assert _flip_signs(f, VECS[GARBLED]) == 16 * 64  # each piece found once: in place
    g = _open(root)
    try:
        mate = int(_ids(g, range(MATE, MATE + 1))[0])
        assert g.vectors.count(PART) == N and g.vectors.applied(PART) is not None  # silent
        stored = g.vectors.fetch(PART, np.array([mate])).vectors[0]
        shortlist = [h.id for h in g.vectors.search(PART, VECS[MATE], SHORTLIST)]
        assert np.allclose(stored, -VECS[MATE] if where != "sidecar" else VECS[MATE])
        assert (mate in shortlist) == (where == "data")
        with caplog.at_level(logging.WARNING, logger="mobileid.gallery"):
            assert g.get(g.search("g1", VECS[MATE], PID, k=1)[0].subject_id).name == f"N{MATE}"
        assert f"gallery='g1', pipeline_id='{PID}'" in caplog.text and "sampled" in caplog.text
        assert g.vectors.search(PART, VECS[MATE], 1)[0].id == mate
        assert _holds_sql_vectors(g.vectors, PART, _ids(g, range(N)))
    finally:
        g.close()


def test_an_intact_lite_folder_is_sampled_and_not_rebuilt(
    pristine: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An intact folder opened by a new process: the first search reads the sample from SQL,
    finds nothing different, logs nothing, and leaves every file of the folder as it was."""
    root = _copy(pristine, tmp_path)
    before = {f: f.read_bytes() for f in _collection(root).rglob("*") if f.is_file()}
    g = _open(root)
    seen: list[str] = []
    event.listen(g.engine, "before_cursor_execute", lambda *a: seen.append(a[2].lower()))
    try:
        with caplog.at_level(logging.WARNING, logger="mobileid.gallery"):
            assert g.get(g.search("g1", VECS[MATE], PID, k=1)[0].subject_id).name == f"N{MATE}"
        assert [q for q in seen if "order by face_embeddings.id desc" in q]  # the sample ran
        assert not caplog.text
    finally:
        g.close()
    after = {f: f.read_bytes() for f in _collection(root).rglob("*") if f.is_file()}
    assert after == before


def test_a_milvus_server_holding_other_vectors_is_rebuilt_and_an_intact_one_is_not(
    tmp_path: Path, milvus_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same check on a Milvus server: reopened intact, nothing is logged; with 16 rows
    overwritten by other vectors (count and applied number unchanged), the first search of
    a new process logs the difference, rebuilds, and the server holds SQL's vectors again."""
    part = Partition("server-sample", PID)
    g = opened(tmp_path, vectors=MilvusVectorIndex(milvus_uri))
    try:
        g.enrol_many(part.gallery, [batch(VECS)], PID)
        assert g.catch_up(part.gallery, PID) == N
        ids = _ids(g, range(N))
        g.close()
        with caplog.at_level(logging.WARNING, logger="mobileid.gallery"):
            g = opened(tmp_path, vectors=MilvusVectorIndex(milvus_uri))
            assert g.catch_up(part.gallery, PID) == 0 and not caplog.text  # intact: kept
            g.close()
            g = opened(tmp_path, vectors=MilvusVectorIndex(milvus_uri))
            upto = g.vectors.applied(part)  # the damage: written by this client, so it sees it
            assert upto is not None
            other = Batch(ids[GARBLED], unit(np.random.default_rng(9), 16))
            g.vectors.apply(part, other, np.empty(0, dtype=np.int64), upto)
            assert g.catch_up(part.gallery, PID) == N  # the first use compares, and rebuilds
        assert "server-sample" in caplog.text and "differ from SQL's" in caplog.text
        assert _holds_sql_vectors(g.vectors, part, ids)
    finally:
        g.vectors.drop(part)
        g.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_sample_is_one_id_from_each_stretch_and_the_newest(engine, tmp_path, request):
    """On SQLite and PostgreSQL, with another gallery's rows between the partition's, the
    sample holds the partition's 8 newest ids and one id from every 24th of its id range, and
    each process draws another."""
    database = (
        tmp_path / "g.sqlite3" if engine == "sqlite" else request.getfixturevalue("fresh_postgres")
    )
    g = EmbeddedGallery(database, tmp_path / "index", key=bytes(range(32)))
    try:
        for at in range(0, N, 10):  # interleaved: the partition's ids are not contiguous
            g.enrol_many("g1", [batch(VECS[at : at + 10], at)], PID)
            g.enrol_many("g2", [batch(VECS[at : at + 10], at, prefix="o")], PID)
        ids = _ids(g, range(N))
        width = (ids[-1] - ids[0] + 1) / index_check.SPREAD
        starts = [ids[0] + int(k * width) for k in range(index_check.SPREAD)]
        draws = []
        for seed in (1, 2):
            with Session(g.engine) as s:
                draws.append(index_check.sample_ids(s, PART, random.Random(seed)))
        for drawn in draws:
            assert set(drawn) <= set(ids.tolist()) and set(ids[-index_check.NEWEST :]) <= set(drawn)
            stretch = {int(np.searchsorted(starts, i, side="right")) - 1 for i in drawn}
            assert stretch == set(range(index_check.SPREAD))
        assert draws[0] != draws[1]
    finally:
        g.close()
