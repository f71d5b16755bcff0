"""The GalleryIndex contract: the SQL store (SQLite, PostgreSQL) over each vector index (FAISS
files, a Milvus server) passes these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument, NotFound
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.vectors import Partition

PID = "test-pipeline/1"
KEY = bytes(range(32))


def unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["embedded", "embedded-postgresql", "milvus-server"])
def gallery(request, tmp_path: Path) -> Iterator[EmbeddedGallery]:
    vectors = None
    database: str | Path = tmp_path / "g.sqlite3"
    if request.param == "milvus-server":
        from mobileid.gallery.milvus_index import MilvusVectorIndex

        vectors = MilvusVectorIndex(request.getfixturevalue("milvus_uri"))
    if request.param == "embedded-postgresql":
        database = request.getfixturevalue("fresh_postgres")
    g = EmbeddedGallery(database, tmp_path / "index", key=KEY, vectors=vectors)
    yield g
    for gallery in g.galleries():  # the server outlives the test: leave no collection behind
        for pid in (PID, "other-pipeline/2"):
            g.vectors.drop(Partition(gallery, pid))
    g.close()


def test_search_returns_the_enrolled_subject_first(gallery):
    """A probe near one subject's embedding finds that subject at rank 1 with a high score."""
    rng = np.random.default_rng(0)
    vecs = unit(rng, 50)
    for i, v in enumerate(vecs):
        gallery.enrol("g1", f"ref{i}", f"Person {i}", "test", [(f"sha{i}", v)], PID)
    probe = vecs[17] + 0.05 * unit(rng)[0]
    probe /= np.linalg.norm(probe)
    hits = gallery.search("g1", probe, PID, k=5)
    assert len(hits) == 5
    assert gallery.get(hits[0].subject_id).name == "Person 17"
    assert hits[0].score > 0.95 > hits[1].score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_subject_with_several_embeddings_appears_once(gallery):
    """Search ranks subjects, not images: best score per subject, no duplicates."""
    rng = np.random.default_rng(1)
    base = unit(rng)[0]
    near = [base + 0.01 * unit(rng)[0] for _ in range(6)]
    gallery.enrol(
        "g1", "a", "A", "t", [(f"a{i}", v / np.linalg.norm(v)) for i, v in enumerate(near)], PID
    )
    for i, v in enumerate(unit(rng, 10)):
        gallery.enrol("g1", f"o{i}", f"O{i}", "t", [(f"o{i}", v)], PID)
    hits = gallery.search("g1", base, PID, k=3)
    ids = [h.subject_id for h in hits]
    assert len(ids) == len(set(ids)) == 3


def test_re_enrolling_the_same_image_is_skipped(gallery):
    """Enrolling an image hash twice adds nothing the second time."""
    v = unit(np.random.default_rng(2))[0]
    s1, added1 = gallery.enrol("g1", "r", "R", "t", [("h1", v)], PID)
    s2, added2 = gallery.enrol("g1", "r", "R", "t", [("h1", v)], PID)
    assert (added1, added2) == (1, 0)
    assert s1.subject_id == s2.subject_id
    assert gallery.count("g1", PID) == 1


def test_invalid_vector_writes_nothing(gallery):
    """A batch with one bad embedding (NaN, infinity, or 64 numbers where the pipeline gives
    128) is refused whole, naming the field: no subject, no embedding; a NaN or infinite
    probe is refused too."""
    rng = np.random.default_rng(3)
    inf = unit(rng)[0]
    inf[5] = np.inf
    for bad in (np.full(128, np.nan, dtype=np.float32), inf, unit(rng)[0][:64]):
        with pytest.raises(InvalidArgument, match="embedding: expected 128 finite numbers"):
            gallery.enrol("g1", "r", "R", "t", [("ok", unit(rng)[0]), ("bad", bad)], PID)
        with pytest.raises(InvalidArgument, match="embedding"):
            gallery.search("g1", bad, PID, k=1)
    assert gallery.subjects() == []
    assert gallery.count("g1") == 0


def test_galleries_and_pipelines_are_kept_apart(gallery):
    """A search reaches only its own gallery and only embeddings of its pipeline."""
    rng = np.random.default_rng(4)
    v = unit(rng)[0]
    gallery.enrol("g1", "a", "A", "t", [("x", v)], PID)
    gallery.enrol("g2", "b", "B", "t", [("y", v)], PID)
    gallery.enrol("g1", "c", "C", "t", [("z", v)], "other-pipeline/2")
    hits = gallery.search("g1", v, PID, k=10)
    assert [gallery.get(h.subject_id).name for h in hits] == ["A"]
    assert gallery.galleries() == ["g1", "g2"]
    assert gallery.count("g1") == 2 and gallery.count("g1", PID) == 1


def test_remove_deletes_subject_and_embeddings(gallery):
    """After removal the subject is gone from lookups and searches; removing twice is NotFound."""
    rng = np.random.default_rng(5)
    vecs = unit(rng, 3)
    subs = [
        gallery.enrol("g1", f"r{i}", f"N{i}", "t", [(f"h{i}", v)], PID)[0]
        for i, v in enumerate(vecs)
    ]
    assert len(gallery.search("g1", vecs[1], PID, k=3)) == 3  # index built
    gallery.remove(subs[1].subject_id)
    hits = gallery.search("g1", vecs[1], PID, k=3)
    assert subs[1].subject_id not in [h.subject_id for h in hits]
    assert gallery.count("g1") == 2
    with pytest.raises(NotFound):
        gallery.remove(subs[1].subject_id)
    with pytest.raises(NotFound):
        gallery.get(subs[1].subject_id)


def test_index_is_rebuilt_when_missing_or_stale(tmp_path):
    """The FAISS file is a cache: deleted or out of step with the database, it is rebuilt."""
    rng = np.random.default_rng(6)
    vecs = unit(rng, 20)
    g = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    for i, v in enumerate(vecs):
        g.enrol("g1", f"r{i}", f"N{i}", "t", [(f"h{i}", v)], PID)
    assert g.search("g1", vecs[3], PID, k=1)[0].score > 0.999
    for f in (tmp_path / "index").iterdir():
        f.unlink()
    fresh = EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY)
    assert fresh.get(fresh.search("g1", vecs[3], PID, k=1)[0].subject_id).name == "N3"
    # another process (here: another instance) adds a subject: the first one sees it
    extra = unit(rng)[0]
    fresh.enrol("g1", "new", "Newcomer", "t", [("hn", extra)], PID)
    assert g.get(g.search("g1", extra, PID, k=1)[0].subject_id).name == "Newcomer"
    g.close()
    fresh.close()


def test_search_many_answers_each_probe_as_its_own_search_would(gallery):
    """Several probes in one request get what one search each gets: the same subjects, in
    the same order, with the same scores, also for a probe whose first shortlist holds a
    single subject's faces (it asks again for more)."""
    rng = np.random.default_rng(11)
    base = unit(rng)[0]
    crowd = [base + 0.02 * unit(rng)[0] for _ in range(80)]  # more than a first shortlist
    gallery.enrol(
        "g1",
        "many",
        "Many",
        "t",
        [(f"m{i}", v / np.linalg.norm(v)) for i, v in enumerate(crowd)],
        PID,
    )
    others = unit(rng, 30)
    for i, v in enumerate(others):
        gallery.enrol("g1", f"o{i}", f"O{i}", "t", [(f"o{i}", v)], PID)
    probes = np.stack([base, others[3], others[17] + 0.1 * unit(rng)[0]])
    together = gallery.search_many("g1", probes, PID, 4)
    alone = [gallery.search("g1", p, PID, 4) for p in probes]
    assert [[h.subject_id for h in hits] for hits in together] == [
        [h.subject_id for h in hits] for hits in alone
    ]
    for hits, one in zip(together, alone, strict=True):
        assert [h.score for h in hits] == pytest.approx([h.score for h in one], abs=1e-6)
    assert len(together[0]) == 4 and gallery.get(together[0][0].subject_id).name == "Many"
    assert gallery.search_many("g1", np.empty((0, 128), np.float32), PID, 4) == []
    with pytest.raises(InvalidArgument, match="top"):
        gallery.search_many("g1", probes, PID, 0)
    with pytest.raises(InvalidArgument, match="probe: expected 128 numbers"):
        gallery.search_many("g1", probes[:, :64], PID, 1)


def test_search_argument_errors(gallery):
    """k below 1 and wrong-sized probes are refused with the field named."""
    with pytest.raises(InvalidArgument, match="top"):
        gallery.search("g1", np.zeros(128, dtype=np.float32), PID, k=0)
    with pytest.raises(InvalidArgument, match="embedding"):
        gallery.search("g1", np.zeros(64, dtype=np.float32), PID, k=1)


def test_get_many_returns_known_subjects_in_one_call(gallery):
    """get_many answers for the ids that exist and leaves out the others."""
    rng = np.random.default_rng(7)
    subs = [
        gallery.enrol("g1", f"r{i}", f"N{i}", "t", [(f"h{i}", v)], PID)[0]
        for i, v in enumerate(unit(rng, 3))
    ]
    got = gallery.get_many([subs[0].subject_id, "missing", subs[2].subject_id])
    assert set(got) == {subs[0].subject_id, subs[2].subject_id}
    assert got[subs[2].subject_id].name == "N2" and got[subs[2].subject_id].embeddings == 1


def test_training_and_live_galleries_are_told_apart(gallery):
    """A gallery's kind is fixed at creation and listed by kind; names are validated."""
    rng = np.random.default_rng(8)
    gallery.create_gallery("range", training=True)
    gallery.enrol("range", "r", "Trainee Target", "synthetic", [("h", unit(rng)[0])], PID)
    gallery.enrol("live", "l", "L", "t", [("h2", unit(rng)[0])], PID)
    assert gallery.galleries(training=True) == ["range"]
    assert gallery.galleries(training=False) == ["live"]
    with pytest.raises(InvalidArgument, match="training and live data stay apart"):
        gallery.create_gallery("live", training=True)
    with pytest.raises(InvalidArgument, match="gallery: expected"):
        gallery.enrol("bad name!", "x", "X", "t", [("h3", unit(rng)[0])], PID)


def test_a_unit_of_work_that_fails_rolls_the_change_back(gallery):
    """When the caller's unit of work fails after the gallery wrote (its audit entry could not
    be written), neither enrolment nor removal happens; a unit that ends well commits both."""
    rng = np.random.default_rng(9)
    with pytest.raises(RuntimeError), UnitOfWork(gallery.engine) as uow:
        gallery.enrol("g1", "r", "R", "t", [("h", unit(rng)[0])], PID, uow=uow)
        raise RuntimeError("audit store unavailable")
    assert gallery.subjects() == [] and gallery.count("g1") == 0
    with UnitOfWork(gallery.engine) as uow:
        subject, added = gallery.enrol("g1", "r", "R", "t", [("h", unit(rng)[0])], PID, uow=uow)
        assert gallery.subjects() == []  # other connections see nothing before the commit
    assert (subject.name, added) == ("R", 1) and gallery.get(subject.subject_id).embeddings == 1
    with pytest.raises(RuntimeError), UnitOfWork(gallery.engine) as uow:
        gallery.remove(subject.subject_id, uow=uow)
        raise RuntimeError("audit store unavailable")
    assert gallery.get(subject.subject_id).embeddings == 1
    assert [h.subject_id for h in gallery.search("g1", unit(rng)[0], PID, k=1)] == [
        subject.subject_id
    ]


def test_a_lagging_index_is_caught_up_and_never_returns_a_row_gone_from_sql(gallery):
    """On every backend: a subject deleted from SQL behind the index's back (no change-log
    entry, so the index still holds it) is never returned, the answer being filled from the
    next rows; a subject enrolled after the index caught up is found by the next search."""
    from sqlalchemy import text

    rng = np.random.default_rng(12)
    vecs = unit(rng, 21)
    for i, v in enumerate(vecs[:20]):
        gallery.enrol("g1", f"r{i}", f"N{i}", "t", [(f"s{i}", v)], PID)
    victim = gallery.search("g1", vecs[7], PID, k=1)[0].subject_id
    with gallery.engine.begin() as conn:  # embeddings go with it (ON DELETE CASCADE)
        conn.execute(text("DELETE FROM subjects WHERE subject_id = :s"), {"s": victim})
    hits = gallery.search("g1", vecs[7], PID, k=5)
    assert victim not in [h.subject_id for h in hits] and len(hits) == 5
    gallery.enrol("g1", "late", "Late", "t", [("s-late", vecs[20])], PID)
    assert gallery.get(gallery.search("g1", vecs[20], PID, k=1)[0].subject_id).name == "Late"
