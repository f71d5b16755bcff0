"""SQL is the source of truth: indexes catch up from the change log, never answer for deleted
rows, rebuild what they cannot trust, and give the same answers on every backend."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import BackendUnavailable, InvalidArgument
from mobileid.gallery.bulk import EnrolBatch
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.faiss_index import FaissVectorIndex, index_stem
from mobileid.gallery.sealing import FileSeal, index_context
from mobileid.gallery.vectors import Partition

PID = "test-pipeline/1"
KEY = bytes(range(32))


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def batch(vecs: np.ndarray, start: int = 0, prefix: str = "r") -> EnrolBatch:
    n = range(start, start + len(vecs))
    return EnrolBatch(
        references=[f"{prefix}{i}" for i in n],
        names=[f"N{i}" for i in n],
        image_sha256s=[f"{prefix}-sha{i}" for i in n],
        vectors=vecs,
        source="test",
    )


def opened(tmp_path: Path, **kw) -> EmbeddedGallery:  # type: ignore[no-untyped-def]
    return EmbeddedGallery(tmp_path / "g.sqlite3", tmp_path / "index", key=KEY, **kw)


def test_bulk_enrolment_is_searchable_skips_known_images_and_refuses_bad_batches(tmp_path):
    """enrol_many writes subjects and embeddings in batches, skips images already enrolled,
    and a batch holding a NaN vector writes nothing."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(0), 300)
    done = g.enrol_many("g1", [batch(vecs[:150]), batch(vecs[150:], 150)], PID, training=True)
    assert (done.subjects_created, done.embeddings_added, done.embeddings_skipped) == (300, 300, 0)
    again = g.enrol_many("g1", [batch(vecs[:10])], PID, training=True)
    assert (again.subjects_created, again.embeddings_added, again.embeddings_skipped) == (0, 0, 10)
    with pytest.raises(InvalidArgument, match="training gallery"):
        g.enrol_many("g1", [batch(vecs[:10])], PID)  # a training gallery stays one
    assert g.galleries(training=True) == ["g1"]
    assert g.count("g1", PID) == 300
    assert g.get(g.search("g1", vecs[123], PID, k=1)[0].subject_id).name == "N123"
    bad = vecs[:2].copy()
    bad[1, 5] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        g.enrol_many("g1", [batch(bad, 1000)], PID, training=True)
    assert len(g.subjects("g1")) == 300 and g.count("g1", PID) == 300
    g.close()


def test_an_index_catches_up_incrementally_after_a_restart(tmp_path):
    """A new process loads the saved index and applies only the changes made since (a
    removal is applied, and the file rewritten, when it happens: only additions wait)."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(1), 220)
    g.enrol_many("g1", [batch(vecs[:200])], PID)
    assert g.catch_up("g1", PID) == 200  # first use: built from a snapshot of SQL
    g.close()
    writer = opened(tmp_path)  # another process deletes and enrols; never searches
    writer.remove(next(s.subject_id for s in writer.subjects("g1") if s.name == "N5"))
    writer.enrol_many("g1", [batch(vecs[200:], 200)], PID)
    reader = opened(tmp_path)
    assert reader.catch_up("g1", PID) == 20  # the 20 added, not 219 rebuilt
    assert reader.count("g1", PID) == 219
    assert reader.get(reader.search("g1", vecs[210], PID, k=1)[0].subject_id).name == "N210"
    assert reader.catch_up("g1", PID) == 0
    writer.close()
    reader.close()


def test_a_sealed_index_opened_again_is_not_counted_against_sql(tmp_path):
    """A process that opens the sealed FAISS files catches up without counting the partition's
    rows in SQL (their tags already proved them whole; the count took 100 s cold at 10M),
    while a Milvus index is counted (tests/gallery/test_lite_files.py)."""
    from sqlalchemy import event

    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(3), 60)
    g.enrol_many("g1", [batch(vecs)], PID)
    assert g.catch_up("g1", PID) == 60
    g.close()
    again = opened(tmp_path)
    seen: list[str] = []
    event.listen(again.engine, "before_cursor_execute", lambda *a: seen.append(a[2].lower()))
    assert again.get(again.search("g1", vecs[9], PID, k=1)[0].subject_id).name == "N9"
    assert seen, "the search read nothing from SQL: revisit this test"
    assert not [q for q in seen if "count(" in q and "face_embeddings" in q]
    again.close()


def test_a_lagging_index_never_returns_a_deleted_subject(tmp_path):
    """Rows deleted from SQL behind the index's back are dropped from the answer, which is
    filled from the next rows instead."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(2), 50)
    g.enrol_many("g1", [batch(vecs)], PID)
    victim = g.search("g1", vecs[7], PID, k=1)[0].subject_id
    with sqlite3.connect(tmp_path / "g.sqlite3") as db:  # no change-log entry: the index lags
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM subjects WHERE subject_id = ?", (victim,))
    hits = g.search("g1", vecs[7], PID, k=5)
    assert victim not in [h.subject_id for h in hits] and len(hits) == 5
    assert g.vectors.count(Partition("g1", PID)) == 50  # the index still holds the row
    g.close()


def test_an_index_file_of_another_format_is_rebuilt_not_trusted(tmp_path):
    """A sealed file whose header claims another format is ignored and rebuilt from SQL."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(3), 30)
    g.enrol_many("g1", [batch(vecs)], PID)
    g.catch_up("g1", PID)
    g.close()
    stem = index_stem(tmp_path / "index", "g1", PID)
    seal = FileSeal(KEY)
    header, body = seal.open(stem.with_suffix(".sealed").read_bytes(), index_context(stem.name))
    meta = json.loads(header) | {"format": 1, "applied": 10**9}
    pieces = seal.seal(
        json.dumps(meta).encode(), np.frombuffer(body, np.uint8), index_context(stem.name)
    )
    stem.with_suffix(".sealed").write_bytes(b"".join(pieces))
    fresh = FaissVectorIndex(tmp_path / "index", key=KEY)
    assert fresh.applied(Partition("g1", PID)) is None  # not trusted: the caller rebuilds
    g = opened(tmp_path)
    assert g.catch_up("g1", PID) == 30
    g.close()


def test_a_grown_partition_is_rebuilt_as_ivf_while_searches_continue(tmp_path):
    """Under "auto", a partition past ivf_from is rebuilt as IVF in the background; searches
    answer from the exact index meanwhile and from the IVF one after, with exact scores."""
    vectors = FaissVectorIndex(tmp_path / "index", key=KEY, ivf_from=2_000)
    g = opened(tmp_path, vectors=vectors)
    vecs = unit(np.random.default_rng(4), 3_000)
    g.enrol_many("g1", [batch(vecs[:1_500])], PID)
    assert g.search("g1", vecs[3], PID, k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    part = Partition("g1", PID)
    assert vectors.index_kind(part) == "exact"
    g.enrol_many("g1", [batch(vecs[1_500:], 1_500)], PID)
    hits = g.search("g1", vecs[2_900], PID, k=1)  # catches up, then starts the rebuild
    assert g.get(hits[0].subject_id).name == "N2900"
    for thread in list(g.sync.building.values()):
        thread.join(timeout=120)
    assert vectors.index_kind(part) == "ivf" and vectors.count(part) == 3_000
    found = [
        g.get(g.search("g1", vecs[i], PID, k=1)[0].subject_id).name for i in range(0, 3_000, 100)
    ]
    assert found == [f"N{i}" for i in range(0, 3_000, 100)]
    assert g.search("g1", vecs[0], PID, k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    g.close()


def test_the_same_answers_from_faiss_and_from_a_milvus_server(tmp_path, milvus_uri):
    """On the same SQL rows, the embedded FAISS index and Milvus rank the same subjects with
    the same scores, also after deletions and upserts."""
    from mobileid.gallery.milvus_index import MilvusVectorIndex

    rng = np.random.default_rng(5)
    vecs = unit(rng, 400)
    embedded = opened(tmp_path)
    embedded.enrol_many("same", [batch(vecs)], PID)
    milvus = opened(tmp_path, vectors=MilvusVectorIndex(milvus_uri))
    try:
        probes = vecs[:20] + 0.3 * unit(rng, 20)
        for step in range(2):
            for p in probes:
                a = embedded.search("same", p, PID, k=5)
                b = milvus.search("same", p, PID, k=5)
                assert [h.subject_id for h in a] == [h.subject_id for h in b]
                assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)
            if step == 0:  # delete some, re-enrol one subject with a new image: both follow
                for i in (0, 1, 2):
                    embedded.remove(embedded.search("same", vecs[i], PID, k=1)[0].subject_id)
                embedded.enrol(
                    "same",
                    "r3",
                    "N3",
                    "test",
                    [("new", probes[0] / np.linalg.norm(probes[0]))],
                    PID,
                )
    finally:
        milvus.vectors.drop(Partition("same", PID))
        milvus.close()
        embedded.close()


def _silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts connections and never answers: a hung server."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, int(s.getsockname()[1])


def test_milvus_down_or_hung_is_backend_unavailable_within_the_time_limit(tmp_path):
    """No server, or one that never answers: BackendUnavailable naming the URI, in about
    the configured time, not a hang."""
    from mobileid.gallery.milvus_index import MilvusVectorIndex

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = int(s.getsockname()[1])
    hung, port = _silent_server()
    try:
        for uri in (f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{port}"):
            t0 = time.monotonic()
            with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:.*within 2 s"):
                MilvusVectorIndex(uri, timeout=2.0)
            assert time.monotonic() - t0 < 15
    finally:
        hung.close()


def test_a_bad_vector_uri_is_a_clear_error(tmp_path):
    """MOBILEID_VECTOR_URI that is neither http(s):// nor a .db path is refused by name."""
    from mobileid.gallery.backends import open_vector_index

    with pytest.raises(InvalidArgument, match="MOBILEID_VECTOR_URI: expected http"):
        open_vector_index("milvus.sock", tmp_path, key=KEY)


def test_concurrent_searches_during_enrolment_stay_correct(tmp_path):
    """Threads searching while another enrols always get a present subject first."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(6), 400)
    g.enrol_many("g1", [batch(vecs[:200])], PID)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for i in range(40):
                hit = g.search("g1", vecs[i], PID, k=1)[0]
                assert g.get(hit.subject_id).name == f"N{i}"
        except BaseException as e:  # handed to the main thread
            errors.append(e)

    threads = [threading.Thread(target=search) for _ in range(2)]
    for t in threads:
        t.start()
    for start in range(200, 400, 20):
        g.enrol_many("g1", [batch(vecs[start : start + 20], start)], PID)
    for t in threads:
        t.join()
    assert not errors and g.count("g1", PID) == 400
    g.close()


def test_a_purge_reaches_the_index_through_the_change_log(tmp_path):
    """Captures deleted by a retention purge leave the index at once: the purge applies the
    change log (the 30 removed and the 10 enrolled meanwhile), so nothing is left to apply."""
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    g = opened(tmp_path, clock=lambda: now[0])
    vecs = unit(np.random.default_rng(7), 40)
    g.enrol_many("g1", [batch(vecs[:30])], PID)
    assert g.count("g1", PID) == 30
    now[0] += timedelta(days=10)
    g.enrol_many("g1", [batch(vecs[30:], 30)], PID)
    purged = g.purge_before("g1", now[0] - timedelta(days=1))
    assert purged.embeddings_deleted == 30
    assert g.vectors.count(Partition("g1", PID)) == 10  # before any catch-up or search
    assert g.catch_up("g1", PID) == 0 and g.count("g1", PID) == 10
    assert g.get(g.search("g1", vecs[35], PID, k=1)[0].subject_id).name == "N35"
    g.close()


def test_a_failed_unit_rolls_its_batch_back(tmp_path):
    """Bulk batches enrolled in units of work with their audit entries: when a unit fails
    (its entry could not be written), that batch writes nothing; earlier batches stay."""
    g = opened(tmp_path)
    vecs = unit(np.random.default_rng(8), 20)
    added = []
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        for b in [batch(vecs[:10]), batch(vecs[10:], 10)]:
            with UnitOfWork(g.engine) as uow:
                added.append(g.enrol_many("g1", [b], PID, uow=uow).embeddings_added)
                if len(added) == 2:
                    raise RuntimeError("audit log unavailable")
    assert added == [10, 10] and g.count("g1", PID) == 10 and len(g.subjects("g1")) == 10
    g.close()


LIMIT_S = 5.0


def test_a_milvus_that_hangs_mid_use_is_unavailable_in_bounded_time_and_caught_up_after(
    tmp_path, milvus_uri
):
    """A real Milvus server that stops answering after the gallery opened (through a relay
    that swallows every byte): a search is BackendUnavailable within about the time limit
    (a request, then one reconnection attempt), not after pymilvus's minute of retries; an
    enrolment and a removal meanwhile commit to SQL only (the source of truth, with their
    change-log entries). Once the server answers again, the index catches up: the new
    subject is found and the removed one is never returned."""
    from mobileid.breaker import breaker_for
    from mobileid.gallery.milvus_index import MilvusVectorIndex
    from tests.gallery.relay import Relay

    relay = Relay(milvus_uri)
    g = opened(tmp_path, vectors=MilvusVectorIndex(relay.uri, timeout=LIMIT_S))
    part = Partition("cut", PID)
    try:
        vecs = unit(np.random.default_rng(9), 31)
        g.enrol_many("cut", [batch(vecs[:30])], PID)
        victim = g.search("cut", vecs[4], PID, k=1)[0].subject_id
        relay.hang()
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"Milvus at http://127\.0\.0\.1"):
            g.search("cut", vecs[4], PID, k=1)
        took = time.monotonic() - t0
        assert took < 3 * LIMIT_S  # the request, then pymilvus's one reconnection attempt
        g.enrol_many("cut", [batch(vecs[30:], 30)], PID)
        g.remove(victim)
        assert len(g.subjects("cut")) == 30
        relay.resume()
        time.sleep(breaker_for(relay.uri, relay.uri).retry_in_s())  # its cool-down
        assert g.get(g.search("cut", vecs[30], PID, k=1)[0].subject_id).name == "N30"
        assert victim not in [h.subject_id for h in g.search("cut", vecs[4], PID, k=5)]
        assert g.catch_up("cut", PID) == 0 and g.count("cut", PID) == 30
    finally:
        relay.resume()
        time.sleep(breaker_for(relay.uri, relay.uri).retry_in_s())
        g.vectors.drop(part)
        g.close()
        relay.close()
