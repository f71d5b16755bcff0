"""numpy's BLAS on one thread once a finger search ran: FAISS's own BLAS keeps its threads,
and no score changes."""

from __future__ import annotations

from pathlib import Path

import faiss  # noqa: F401 - loads FAISS's own OpenBLAS, which must keep its threads
from threadpoolctl import ThreadpoolController, threadpool_info

from mobileid.finger.match import match_features, prepare
from mobileid.finger.threads import numpy_blas_libraries
from mobileid.gallery.fingers import FingerGallery
from tests.finger.bank import TemplateBank
from tests.finger.test_gallery import KEY, _people, _template


def _threads() -> dict[str, int]:
    return {
        i["filepath"]: int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"
    }


def test_a_finger_search_leaves_numpy_on_one_blas_thread_and_faiss_alone(tmp_path: Path) -> None:
    """After a gallery search numpy's BLAS runs on one thread; every other BLAS library
    (FAISS's) has the threads it had."""
    ours = set(numpy_blas_libraries())
    before = _threads()
    assert ours and set(before) - ours  # numpy's library found, FAISS's beside it
    fingers = FingerGallery(tmp_path / "db.sqlite3", key=KEY)
    fingers.enrol_many("g1", _people(range(1, 4)))
    assert fingers.search("g1", prepare(_template(2)), 5)[0][0].score > 0.9
    after = _threads()
    assert all(after[p] == 1 for p in ours)
    assert all(after[p] == n for p, n in before.items() if p not in ours)


def test_scores_are_the_same_on_one_blas_thread(templates: TemplateBank) -> None:
    """Real DB1_B prints compared with two BLAS threads and with one give bit-identical
    results."""
    names = ["101_1.tif", "101_2.tif", "102_1.tif", "103_3.tif", "105_2.tif", "105_5.tif"]
    feats = [prepare(templates.db1(n)) for n in names]
    runs = []
    for n in (2, 1):
        with ThreadpoolController().limit(limits=n, user_api="blas"):
            runs.append([match_features(a, b) for a in feats for b in feats])
    assert runs[0] == runs[1] and max(r.score for r in runs[0]) > 0.9
