"""The finger gallery: sealed rows, one subject across modalities, kinds, cascade deletion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mobileid.database.unit_of_work import UnitOfWork
from mobileid.errors import InvalidArgument
from mobileid.finger.index import screen, screen_codes
from mobileid.finger.match import match_features, prepare
from mobileid.finger.types import FingerTemplate
from mobileid.gallery import finger_changes
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.finger_cache import FeatureCache
from mobileid.gallery.finger_rows import pack_template, unpack_template
from mobileid.gallery.fingers import (
    FingerCapture,
    FingerEnrolment,
    FingerGallery,
    FingerHit,
    FingerTemplateRow,
)
from mobileid.gallery.sealing import DeploymentKeyError

KEY = bytes(range(32))
PID = "finger/test-pipeline/1"


def _template(seed: int, n: int = 30) -> FingerTemplate:
    rng = np.random.default_rng(seed)
    m = np.stack(
        [
            rng.uniform(20, 280, n),
            rng.uniform(20, 360, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.integers(1, 3, n),
            rng.uniform(0.5, 1.0, n),
        ],
        axis=1,
    )
    return FingerTemplate(m.astype(np.float32), 300, 380, 500.0, 71.5, PID)


def _capture(seed: int, position: str = "unknown") -> FingerCapture:
    return FingerCapture(_template(seed), position, f"sha{seed:04d}")


@pytest.fixture
def galleries(tmp_path: Path) -> tuple[EmbeddedGallery, FingerGallery]:
    db = tmp_path / "db.sqlite3"
    faces = EmbeddedGallery(db, tmp_path / "index", key=KEY)
    return faces, FingerGallery(db, key=KEY)


def test_payload_round_trips_exactly() -> None:
    """A template packs and unpacks to the same minutiae and header, bit for bit."""
    t = _template(1)
    back = unpack_template(pack_template(t), PID)
    assert np.array_equal(back.minutiae, t.minutiae)
    assert (back.width, back.height, back.ppi, back.quality) == (300, 380, 500.0, 71.5)


def test_rows_are_sealed_and_bound_to_their_row(galleries) -> None:
    """Stored bytes hold no plaintext minutiae; a payload moved to another row fails to open."""
    _, fingers = galleries
    fingers.enrol("g1", "a", "A", "t", [_capture(1), _capture(2, "right_index")])
    with Session(fingers.engine) as s:
        rows = list(s.scalars(select(FingerTemplateRow).order_by(FingerTemplateRow.id)))
    assert pack_template(_template(1))[20:80] not in rows[0].template
    assert {r.position for r in rows} == {"unknown", "right_index"}
    with Session(fingers.engine) as s, s.begin():
        s.execute(
            update(FingerTemplateRow)
            .where(FingerTemplateRow.id == rows[1].id)
            .values(template=rows[0].template)
        )
    with pytest.raises(DeploymentKeyError, match="fails authentication"):
        fingers.search("g1", _features(_template(1)), 5)


def _features(t: FingerTemplate):  # type: ignore[no-untyped-def]
    from mobileid.finger.match import prepare

    return prepare(t)


def test_face_and_finger_share_one_subject(galleries) -> None:
    """The same gallery and reference is one subject, enrolled by face and by finger."""
    faces, fingers = galleries
    v = np.ones(128, dtype=np.float32) / np.sqrt(128)
    face_subject, _ = faces.enrol("g1", "ref-7", "Ann", "t", [("img", v)], "face/x")
    finger_subject, added = fingers.enrol("g1", "ref-7", "Ann", "t", [_capture(3)])
    assert finger_subject.subject_id == face_subject.subject_id and added == 1
    assert finger_subject.embeddings == 1  # the subject's face embeddings
    assert fingers.positions(face_subject.subject_id) == {"unknown": 1}


def test_re_enrolling_skips_and_kinds_never_change(galleries) -> None:
    """A print enrolled twice is added once; a live gallery refuses training enrolment."""
    faces, fingers = galleries
    assert fingers.enrol("g1", "a", "A", "t", [_capture(4)])[1] == 1
    assert fingers.enrol("g1", "a", "A", "t", [_capture(4)])[1] == 0
    with pytest.raises(InvalidArgument, match="exists as a live gallery"):
        fingers.enrol("g1", "b", "B", "t", [_capture(5)], training=True)
    fingers.enrol("range", "b", "B", "t", [_capture(5)], training=True)
    assert faces.galleries(training=True) == ["range"]
    assert fingers.count("g1") == 1 and fingers.count("range", PID) == 1


def test_bad_position_or_gallery_writes_nothing(galleries) -> None:
    """An unknown finger position or gallery name is refused before anything is stored."""
    faces, fingers = galleries
    with pytest.raises(InvalidArgument, match="position: expected one of"):
        fingers.enrol("g1", "a", "A", "t", [_capture(6), _capture(7, "right_toe")])
    with pytest.raises(InvalidArgument, match="gallery: expected"):
        fingers.enrol("bad name", "a", "A", "t", [_capture(6)])
    assert faces.subjects() == [] and fingers.count("g1") == 0


def test_deleting_a_subject_deletes_its_prints(galleries) -> None:
    """Removing a subject through the face gallery removes its finger templates (cascade)."""
    faces, fingers = galleries
    subject, _ = fingers.enrol("g1", "a", "A", "t", [_capture(8), _capture(9)])
    faces.remove(subject.subject_id)
    assert fingers.count("g1") == 0


def test_search_finds_an_identical_template(galleries) -> None:
    """A gallery template searched with itself comes back first, with its subject."""
    _, fingers = galleries
    a, _ = fingers.enrol("g1", "a", "A", "t", [_capture(10, "left_thumb")])
    fingers.enrol("g1", "b", "B", "t", [_capture(11)])
    hits, per_subject = fingers.search("g1", _features(_template(10)), 5)
    assert hits[0].subject_id == a.subject_id and hits[0].position == "left_thumb"
    assert hits[0].score > 0.9 and sorted(per_subject.values()) == [1, 1]
    assert fingers.search("g1", _features(_template(10)), 5)[0] == hits  # cached


def test_search_counts_are_a_read_only_view(galleries) -> None:
    """The per-subject counts a search returns cannot change the loaded set's counts."""
    _, fingers = galleries
    a, _ = fingers.enrol("g1", "a", "A", "t", [_capture(12), _capture(13)])
    _, per_subject = fingers.search("g1", _features(_template(12)), 5)
    with pytest.raises(TypeError):
        per_subject[a.subject_id] = 99  # type: ignore[index]
    assert fingers.search_many("g1", [_features(_template(13))], 5)[1] == {a.subject_id: 2}


def test_search_counts_total_is_known_without_counting(galleries) -> None:
    """The counts' total is the sum of the counts, given without counting per subject: a
    search whose counts nobody reads leaves the set uncounted."""
    _, fingers = galleries
    fingers.enrol("g1", "a", "A", "t", [_capture(14), _capture(15)])
    fingers.enrol("g1", "b", "B", "t", [_capture(16)])
    _, per_subject = fingers.search("g1", _features(_template(14)), 5)
    loaded = fingers._screens.load("g1", PID)
    assert per_subject.total == 3 and "per_subject" not in loaded.__dict__
    assert sorted(per_subject.values()) == [1, 2] and sum(per_subject.values()) == 3


def test_key_rotation_reseals_every_row(tmp_path: Path) -> None:
    """After re-sealing under a new key, a gallery opened with that key searches as before."""
    db = tmp_path / "db.sqlite3"
    fingers = FingerGallery(db, key=KEY)
    fingers.enrol("g1", "a", "A", "t", [_capture(12), _capture(13), _capture(14)])
    new = bytes(range(1, 33))
    assert fingers.rotate_key(KEY, new, batch=2) == 3
    assert fingers.rotate_key(KEY, new, batch=2) == 0  # a rerun has nothing left to do
    reopened = FingerGallery(db, key=new)
    assert reopened.key_ids() == {reopened.key_id: 3}
    assert reopened.search("g1", _features(_template(13)), 5)[0][0].score > 0.9
    with pytest.raises(DeploymentKeyError, match="deployment key in use"):
        FingerGallery(db, key=KEY).search("g1", _features(_template(13)), 5)


def test_each_pipeline_is_searched_on_its_own(galleries) -> None:
    """Contact and photo templates of one subject live side by side; a search reaches only
    the rows of its probe's pipeline; the fingertips of one photo keep one row each."""
    from dataclasses import replace

    from mobileid.service.finger_enrol import tip_key

    _, fingers = galleries
    photo = "finger/test-photo-pipeline/1"
    tips = [
        FingerCapture(replace(_template(s), pipeline_id=photo), pos, tip_key("photo-sha", i))
        for i, (s, pos) in enumerate([(21, "right_index"), (22, "right_middle")])
    ]
    subject, added = fingers.enrol("g1", "a", "A", "t", [_capture(20), *tips])
    assert added == 3 and fingers.count("g1", PID) == 1 and fingers.count("g1", photo) == 2
    hits, per_subject = fingers.search("g1", _features(_template(20)), 5)
    assert len(hits) == 1 and per_subject == {subject.subject_id: 1}
    hits, per_subject = fingers.search("g1", _features(tips[1].template), 5)
    assert hits[0].position == "right_middle" and hits[0].score > 0.9
    assert per_subject == {subject.subject_id: 2}


def _eager_search(fingers: FingerGallery, gallery: str, probe: FingerTemplate) -> list[FingerHit]:
    """The search as it was: every template of the gallery prepared up front, then screened
    and the shortlist (5) checked. Templates come back from their hashes (``_capture``)."""
    with Session(fingers.engine) as s:
        q = select(FingerTemplateRow).where(FingerTemplateRow.gallery == gallery)
        rows = list(s.scalars(q.order_by(FingerTemplateRow.id)))
    features = [prepare(_template(int(r.image_sha256[3:]))) for r in rows]
    listed, _ = screen(screen_codes([prepare(probe)])[0], screen_codes(features), 5)
    hits = []
    for r in listed.tolist():
        m = match_features(prepare(probe), features[r])
        hits.append(FingerHit(rows[r].subject_id, rows[r].position, m.score, m.matched))
    return sorted(hits, key=lambda h: -h.score)


def _people(seeds: range) -> list[FingerEnrolment]:
    return [FingerEnrolment(f"r{i}", f"P{i}", "t", [_capture(i, "right_index")]) for i in seeds]


def test_search_follows_enrolment_and_deletion(galleries, monkeypatch) -> None:
    """After enrolments and deletions the loaded gallery searches as one prepared afresh,
    having read the table whole once and then only the rows the change log names."""
    faces, fingers = galleries
    whole: list[str] = []  # the gallery, at each read of the whole table
    caught: list[list[int]] = []  # the row ids touched, at each catch-up
    inner_read, inner_touched = fingers._screens._read, finger_changes.touched

    def spy_read(opener):  # type: ignore[no-untyped-def]
        whole.append(opener.gallery)
        return inner_read(opener)

    def spy_touched(*args):  # type: ignore[no-untyped-def]
        caught.append(inner_touched(*args))
        return caught[-1]

    monkeypatch.setattr(fingers._screens, "_read", spy_read)
    monkeypatch.setattr(finger_changes, "touched", spy_touched)
    fingers.enrol_many("g1", _people(range(30, 42)))
    probe = _template(33)
    assert fingers.search("g1", prepare(probe), 5)[0] == _eager_search(fingers, "g1", probe)
    fingers.enrol_many("g1", _people(range(42, 50)))
    gone = [s for s in faces.subjects() if s.name in ("P33", "P45")]
    for subject in gone:
        faces.remove(subject.subject_id)
    for seed in (33, 45, 47):
        hits, per_subject = fingers.search("g1", prepare(_template(seed)), 5)
        assert hits == _eager_search(fingers, "g1", _template(seed))
        assert len(per_subject) == 18 and not {s.subject_id for s in gone} & set(per_subject)
    assert hits[0].score > 0.9  # 47 is still there
    assert whole == ["g1"]
    # One catch-up, of the 8 rows enrolled (13-20, P45's among them) and P33's row 4, gone
    # with its subject by the foreign key's cascade; the later searches found the set current.
    assert caught == [[4, *range(13, 21)]]


def test_search_many_is_each_probe_searched_alone(galleries) -> None:
    """Several probes searched in one pass give each probe's own hits and subject counts,
    also after a deletion; probes of two pipelines are refused, naming both."""
    faces, fingers = galleries
    fingers.enrol_many("g1", _people(range(70, 85)), batch=4)
    gone = next(s for s in faces.subjects() if s.name == "P74")
    seeds = (71, 74, 80, 99)
    probes = [prepare(_template(seed)) for seed in seeds]
    for deleted in (False, True):
        if deleted:
            faces.remove(gone.subject_id)
        found, per_subject = fingers.search_many("g1", probes, 5)
        alone = [fingers.search("g1", p, 5) for p in probes]
        assert found == [hits for hits, _ in alone]
        assert per_subject == alone[0][1] and len(per_subject) == 15 - deleted
        assert found[0][0].score > 0.9 and (found[1][0].score > 0.9) != deleted
    assert fingers.search_many("g1", [], 5) == ([], {})
    other = FingerTemplate(_template(71).minutiae, 300, 380, 500.0, 71.5, "finger/other/1")
    with pytest.raises(InvalidArgument, match="finger/other/1"):
        fingers.search_many("g1", [probes[0], prepare(other)], 5)


def test_search_is_the_same_with_a_tiny_feature_cache(galleries) -> None:
    """Prepared templates evicted from the cache are prepared again, to the same hits."""
    _, fingers = galleries
    fingers.enrol_many("g1", _people(range(60, 70)), batch=3)
    fingers._features = FeatureCache(size=2)
    for seed in (61, 65, 61):
        hits, _ = fingers.search("g1", prepare(_template(seed)), 5)
        assert hits == _eager_search(fingers, "g1", _template(seed))
    assert len(fingers._features) == 2


def test_feature_cache_drops_the_least_recently_used() -> None:
    """A full cache drops the entry asked for longest ago; a hit is not made again."""
    cache = FeatureCache(size=2)
    made: list[int] = []

    def maker(i: int):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            made.append(i)
            return prepare(_template(i))

        return make

    for i in (1, 2, 1, 3, 1, 2):
        cache.get(i, maker(i))
    assert made == [1, 2, 3, 2] and len(cache) == 2


def test_bulk_enrolment_fails_its_own_batch_or_its_callers_unit(galleries) -> None:
    """Without a unit of work, enrol_many commits batch by batch: a bad capture fails its own
    batch only, and a rerun completes the rest. In the caller's unit (with its audit entries)
    the whole call commits with the unit or not at all."""
    _, fingers = galleries
    people = _people(range(80, 85))
    people[3] = FingerEnrolment("r83", "P83", "t", [_capture(83, "right_toe")])
    with pytest.raises(InvalidArgument, match="position"):
        fingers.enrol_many("g1", people, batch=2)
    assert fingers.count("g1") == 2
    people[3] = _people(range(83, 84))[0]
    with pytest.raises(RuntimeError, match="audit"), UnitOfWork(fingers.engine) as uow:
        inside = fingers.enrol_many("g1", people, batch=2, uow=uow)
        raise RuntimeError("audit log unavailable")
    assert [added for _, added in inside] == [0, 0, 1, 1, 1] and fingers.count("g1") == 2
    again = fingers.enrol_many("g1", [*people, people[0]], batch=2)
    assert [added for _, added in again] == [0, 0, 1, 1, 1, 0]
    assert fingers.count("g1") == 5
    assert again[0][0].subject_id == again[5][0].subject_id  # the same reference: one subject
    with pytest.raises(InvalidArgument, match="batch"):
        fingers.enrol_many("g1", people, batch=0)


def test_preload_and_key_rotation_reload(galleries) -> None:
    """preload loads the gallery; after a key rotation the same object searches as before."""
    _, fingers = galleries
    fingers.enrol_many("g1", _people(range(90, 96)), batch=4)
    assert fingers.preload("g1", PID) == 6 and fingers.preload("g2", PID) == 0
    before = fingers.search("g1", prepare(_template(92)), 5)
    fingers.rotate_key(KEY, bytes(range(2, 34)))
    assert fingers.search("g1", prepare(_template(92)), 5) == before
