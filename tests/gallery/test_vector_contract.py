"""The VectorIndex contract: FAISS exact, FAISS IVF, a Milvus server and Milvus Lite all pass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.gallery.faiss_index import FaissVectorIndex
from mobileid.gallery.vectors import Batch, Inspectable, Partition, VectorIndex

KEY = bytes(range(32))
BACKENDS = ["faiss-exact", "faiss-ivf", "milvus-server", "milvus-lite"]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def open_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> VectorIndex:
    if name == "faiss-exact":
        return FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact")
    if name == "faiss-ivf":
        return FaissVectorIndex(tmp_path / "index", key=KEY, kind="ivf")
    from mobileid.gallery.milvus_index import MilvusVectorIndex

    if name == "milvus-lite":
        return MilvusVectorIndex(str(tmp_path / "lite.db"))
    return MilvusVectorIndex(request.getfixturevalue("milvus_uri"))


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path: Path) -> Iterator[tuple[str, VectorIndex, Partition]]:
    index = open_backend(request.param, tmp_path, request)
    part = Partition(f"g{uuid.uuid4().hex[:8]}", "test-pipeline/1")
    yield request.param, index, part
    index.drop(part)
    index.close()


def fill(index: VectorIndex, part: Partition, n: int = 600, seed: int = 0) -> np.ndarray:
    vecs = unit(np.random.default_rng(seed), n)
    index.rebuild(part, [Batch(np.arange(1, n + 1), vecs)], upto=n, total=n)
    return vecs


def test_search_finds_the_nearest_id_with_its_inner_product(backend):
    """A probe near stored vector i returns id i first, scored by the inner product."""
    _, index, part = backend
    vecs = fill(index, part)
    hits = index.search(part, vecs[41], 5)
    assert hits[0].id == 42 and hits[0].score == pytest.approx(1.0, abs=0.02)
    assert len(hits) == 5 and [h.score for h in hits] == sorted(h.score for h in hits)[::-1]
    assert index.count(part) == 600 and index.applied(part) == 600


def test_search_many_answers_each_row_as_search_would(backend):
    """Several probes in one request: each row's hits are those its own search returns."""
    _, index, part = backend
    vecs = fill(index, part)
    probes = vecs[[5, 300, 599]]
    together = index.search_many(part, probes, 4)
    alone = [index.search(part, p, 4) for p in probes]
    assert [[h.id for h in hits] for hits in together] == [[h.id for h in a] for a in alone]
    assert [hits[0].id for hits in together] == [6, 301, 600]
    for hits, one in zip(together, alone, strict=True):
        assert [h.score for h in hits] == pytest.approx([h.score for h in one], abs=1e-5)


def test_upserts_replace_and_removes_delete(backend):
    """apply() removes ids, replaces the vector of an existing id and adds new ones."""
    _, index, part = backend
    vecs = fill(index, part)
    fresh = unit(np.random.default_rng(9), 2)
    index.apply(part, Batch(np.array([7, 10_001]), fresh), np.array([42, 43]), upto=700)
    assert index.applied(part) == 700 and index.count(part) == 599
    assert index.search(part, vecs[41], 1)[0].id != 42
    assert index.search(part, fresh[0], 1)[0].id == 7
    assert index.search(part, fresh[1], 1)[0].id == 10_001
    assert 7 not in [h.id for h in index.search(part, vecs[6], 3)]


def test_partitions_are_kept_apart(backend):
    """Another gallery or another pipeline id is another partition: its vectors never answer."""
    _, index, part = backend
    vecs = fill(index, part, n=50)
    for other in (
        Partition(part.gallery, "other-pipeline/2"),
        Partition(part.gallery + "x", part.pipeline_id),
    ):
        assert index.applied(other) is None
        assert index.search(other, vecs[0], 3) == []
        index.rebuild(other, [Batch(np.array([999]), vecs[:1])], upto=1, total=1)
        assert [h.id for h in index.search(other, vecs[0], 3)] == [999]
        index.drop(other)
    assert index.search(part, vecs[0], 1)[0].id == 1


def test_rebuild_replaces_everything(backend):
    """After a rebuild the partition holds exactly the new batches."""
    _, index, part = backend
    fill(index, part, n=100)
    vecs = unit(np.random.default_rng(5), 30)
    index.rebuild(
        part,
        [Batch(np.arange(500, 515), vecs[:15]), Batch(np.arange(515, 530), vecs[15:])],
        upto=3,
        total=30,
    )
    assert index.count(part) == 30 and index.applied(part) == 3
    assert {h.id for h in index.search(part, vecs[20], 30)} == set(range(500, 530))


def test_bad_vectors_are_refused_and_change_nothing(backend):
    """Wrong dimension, NaN, infinity, mismatched ids or k < 1: InvalidArgument naming the
    field, and the partition is unchanged."""
    _, index, part = backend
    vecs = fill(index, part, n=20)
    nan = vecs[:1].copy()
    nan[0, 3] = np.nan
    inf = vecs[:1].copy()
    inf[0, 0] = np.inf
    for bad, match in (
        (Batch(np.array([1]), vecs[:1, :64]), "embedding: expected 128 numbers"),
        (Batch(np.array([1]), nan), "NaN or infinity"),
        (Batch(np.array([1]), inf), "NaN or infinity"),
        (Batch(np.array([1, 2]), vecs[:1]), "ids: expected one id per vector"),
    ):
        with pytest.raises(InvalidArgument, match=match):
            index.apply(part, bad, np.array([5]), upto=99)
    with pytest.raises(InvalidArgument, match="probe: expected 128"):
        index.search(part, np.zeros(127, dtype=np.float32), 1)
    with pytest.raises(InvalidArgument, match=r"probe: .*NaN"):
        index.search(part, nan[0], 1)
    with pytest.raises(InvalidArgument, match="top"):
        index.search(part, vecs[0], 0)
    assert index.count(part) == 20 and index.applied(part) == 20


def test_applied_survives_a_restart(backend, tmp_path, request):
    """A new instance over the same storage knows the last sequence applied and the vectors."""
    name, index, part = backend
    vecs = fill(index, part, n=40)
    index.apply(part, Batch(np.array([41]), unit(np.random.default_rng(3), 1)), np.array([]), 41)
    index.close()
    again = open_backend(name, tmp_path, request)
    try:
        assert again.applied(part) == 41 and again.count(part) == 41
        assert again.search(part, vecs[9], 1)[0].id == 10
    finally:
        again.drop(part)
        again.close()


@pytest.mark.parametrize("name", ["milvus-server", "milvus-lite"])
def test_an_index_that_cannot_check_itself_shows_its_vectors(name, tmp_path, request):
    """A Milvus index is Inspectable: fetch returns the stored vectors of the ids it holds
    (absent ones left out), and search_many answers each probe as search does."""
    index = open_backend(name, tmp_path, request)
    part = Partition(f"g{uuid.uuid4().hex[:8]}", "test-pipeline/1")
    try:
        assert isinstance(index, Inspectable) and not index.self_checking
        vecs = fill(index, part, n=100)
        got = index.fetch(part, np.array([5, 77, 5_000]))
        assert sorted(got.ids.tolist()) == [5, 77]
        for i, v in zip(got.ids.tolist(), got.vectors, strict=True):
            assert np.array_equal(v, vecs[i - 1])
        assert len(index.fetch(part, np.array([], dtype=np.int64)).ids) == 0
        many = index.search_many(part, vecs[[3, 60]], 2)
        for hits, probe in zip(many, (3, 60), strict=True):
            one = index.search(part, vecs[probe], 2)
            assert [h.id for h in hits] == [h.id for h in one] and hits[0].id == probe + 1
            assert [h.score for h in hits] == pytest.approx([h.score for h in one], abs=1e-5)
        with pytest.raises(InvalidArgument, match="probe: expected 128"):
            index.search_many(part, vecs[:2, :64], 1)
    finally:
        index.drop(part)
        index.close()
