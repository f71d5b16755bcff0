"""Building the embedded FAISS index at size: resumable builds, the HNSW quantizer, nprobe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from mobileid.gallery.faiss_index import FaissVectorIndex, index_stem
from mobileid.gallery.faiss_kinds import (
    SCAN_BUDGET,
    IndexKind,
    build_index,
    choose_kind,
    kind_of,
    train,
    tune,
)
from mobileid.gallery.vectors import Batch, Partition, Rows

KEY = bytes(range(32))
PART = Partition("g1", "test-pipeline/1")


def unit(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def batches(vecs: np.ndarray, size: int, fail_after: int | None = None) -> Iterator[Batch]:
    for i, start in enumerate(range(0, len(vecs), size)):
        if i == fail_after:
            raise OSError("the database went away")
        yield Batch(
            np.arange(start + 1, start + 1 + len(vecs[start : start + size])),
            vecs[start : start + size],
        )


def test_an_interrupted_build_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """A build cut off after 4 of 6 batches restarts after the rows its checkpoint holds, at
    the checkpoint's sequence (so catch-up replays what changed since), and finds every row."""
    vecs = unit(600)
    first = FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact", checkpoint_s=0)
    with pytest.raises(OSError):
        first.rebuild(PART, batches(vecs, 100, fail_after=4), upto=10, total=600)
    building = index_stem(tmp_path / "index", PART.gallery, PART.pipeline_id).with_suffix(
        ".building"
    )
    assert building.exists() and first.applied(PART) is None

    again = FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact", checkpoint_s=0)
    reported: list[int] = []
    again.rebuild(PART, batches(vecs, 100), 20, lambda done, _: reported.append(done), 600)
    assert reported[0] == 500  # 400 from the checkpoint, then the fifth batch
    assert again.applied(PART) == 10 and again.count(PART) == 600
    assert [again.search(PART, vecs[i], 1)[0].id for i in (0, 399, 599)] == [1, 400, 600]
    assert not building.exists()


def test_a_resumed_build_reads_only_the_rows_after_its_checkpoint(tmp_path: Path) -> None:
    """Resuming from a checkpoint of 400 rows, the build asks its rows for those after row
    400 only (a 10M gallery's rows are not read and opened again to be skipped)."""
    vecs = unit(600)
    first = FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact", checkpoint_s=0)
    with pytest.raises(OSError):
        first.rebuild(PART, batches(vecs, 100, fail_after=4), upto=10, total=600)
    asked: list[int] = []

    def read(after: int) -> Iterator[Batch]:
        asked.append(after)
        for b in batches(vecs, 100):
            if b.ids[-1] > after:
                yield b

    again = FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact", checkpoint_s=0)
    again.rebuild(PART, Rows(read), 20, None, 600)
    assert asked == [400]
    assert again.count(PART) == 600 and again.search(PART, vecs[599], 1)[0].id == 600


def test_a_checkpoint_does_not_open_as_the_complete_index(tmp_path: Path) -> None:
    """A checkpoint renamed over the complete index's file is refused: rebuilt from SQL."""
    vecs = unit(600)
    index = FaissVectorIndex(tmp_path / "index", key=KEY, kind="exact", checkpoint_s=0)
    with pytest.raises(OSError):
        index.rebuild(PART, batches(vecs, 100, fail_after=3), upto=10, total=600)
    stem = index_stem(tmp_path / "index", PART.gallery, PART.pipeline_id)
    stem.with_suffix(".building").replace(stem.with_suffix(".sealed"))
    assert FaissVectorIndex(tmp_path / "index", key=KEY).applied(PART) is None


def test_two_level_cells_find_the_stored_vectors_and_survive_a_file(tmp_path: Path) -> None:
    """IVF cells trained by two-level k-means: each stored vector is its own nearest, and
    the cells read back from the serialised index are the same."""
    vecs = unit(6_000, seed=3)
    kind = IndexKind("ivf", 128, len(vecs), two_level=True)
    index = build_index(kind, 128)
    train(index, kind, vecs[: kind.train_size])
    index.add_with_ids(vecs, np.arange(len(vecs)))
    tune(index, kind, None)
    _, ids = index.search(vecs[:200], 1)
    assert (ids[:, 0] == np.arange(200)).mean() >= 0.99
    again = faiss.deserialize_index(faiss.serialize_index(index))
    assert kind_of(again, len(vecs)).nlist == 128 and again.ntotal == len(vecs)


@pytest.mark.parametrize("n", [1_000_000, 10_000_000, 40_000_000])
def test_a_search_scans_about_the_same_number_of_codes_at_any_size(n: int) -> None:
    """From 1M to 40M vectors the cells visited hold about SCAN_BUDGET codes, never a
    fixed share of the gallery; from 10M the cells are trained by two-level k-means."""
    kind = choose_kind("ivf", n, 0)
    scanned = kind.nprobe * n / kind.nlist
    assert SCAN_BUDGET <= scanned < SCAN_BUDGET + n / kind.nlist
    assert kind.two_level == (n >= 10_000_000)


def test_two_threads_share_one_query_and_find_the_same_shortlist() -> None:
    """One probe searched with two FAISS threads (its cells shared between them) returns the
    same ids and scores as on one thread, and the index is set to split one query's cells."""
    vecs = unit(20_000, seed=5)
    kind = IndexKind("ivf", 64, len(vecs))
    index = build_index(kind, 128)
    train(index, kind, vecs[: kind.train_size])
    index.add_with_ids(vecs, np.arange(len(vecs)))
    tune(index, kind, 32)
    assert faiss.extract_index_ivf(index).parallel_mode == 1
    probes = unit(50, seed=6)
    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        one = [index.search(p[None, :], 64) for p in probes]
        faiss.omp_set_num_threads(2)
        two = [index.search(p[None, :], 64) for p in probes]
    finally:
        faiss.omp_set_num_threads(before)
    for (s1, i1), (s2, i2) in zip(one, two, strict=True):
        assert np.array_equal(i1, i2) and np.allclose(s1, s2, atol=1e-6)
