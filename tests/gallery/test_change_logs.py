"""Pruned change logs: an index or finger set behind the pruned entries is rebuilt from SQL and
answers as the table does; one that is current keeps catching up incrementally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from mobileid.database import close_database, open_database
from mobileid.errors import InvalidArgument
from mobileid.finger.match import prepare
from mobileid.gallery import change_logs, changes, finger_changes
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.fingers import FingerGallery
from mobileid.gallery.store import SubjectRow
from mobileid.gallery.vectors import Partition
from tests.finger.test_gallery import KEY as FKEY
from tests.finger.test_gallery import PID as FPID
from tests.finger.test_gallery import _people, _template
from tests.finger.test_gallery_snapshot import _same
from tests.gallery.test_sync import KEY, PID, batch, unit


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    close_database(engine)


def _faces(engine: Engine, folder: Path) -> EmbeddedGallery:
    return EmbeddedGallery(engine, folder, key=KEY)


def test_a_lagging_vector_index_is_rebuilt_after_a_prune(engine: Engine, tmp_path: Path) -> None:
    """After the log is pruned past an index's last number, its next catch-up rebuilds it
    from SQL (same answers as a current index, the deleted subject gone), while an index
    that was current catches up only what changes after the prune."""
    vecs = unit(np.random.default_rng(7), 130)
    writer = _faces(engine, tmp_path / "w")
    writer.enrol_many("g1", [batch(vecs[:100])], PID)
    lagging, current = _faces(engine, tmp_path / "lag"), _faces(engine, tmp_path / "cur")
    assert lagging.catch_up("g1", PID) == 100 == current.catch_up("g1", PID)
    victim = lagging.search("g1", vecs[5], PID, k=1)[0].subject_id
    writer.remove(victim)
    writer.enrol_many("g1", [batch(vecs[100:120], 100)], PID)
    assert current.catch_up("g1", PID) == 21  # incremental: 20 added, 1 removed
    with Session(engine) as s:
        newest = changes.latest(s, Partition("g1", PID))
    done = {p.log: p for p in change_logs.prune(engine, keep=0)}
    assert done[change_logs.FACES].deleted == 120 and done[change_logs.FACES].horizon == newest
    with Session(engine) as s:
        assert changes.latest(s, Partition("g1", PID)) == newest  # the newest entry stays
    assert lagging.catch_up("g1", PID) == 119  # rebuilt: every row, not 21 changes
    for i in (5, 17, 64, 110):
        assert lagging.search("g1", vecs[i], PID, k=3) == current.search("g1", vecs[i], PID, k=3)
    assert victim not in {h.subject_id for h in lagging.search("g1", vecs[5], PID, k=10)}
    writer.enrol_many("g1", [batch(vecs[120:], 120)], PID)
    assert current.catch_up("g1", PID) == 10 and lagging.catch_up("g1", PID) == 10
    for g in (writer, lagging, current):
        g.close()


def test_a_lagging_finger_set_and_file_are_read_again_after_a_prune(
    engine: Engine, tmp_path: Path
) -> None:
    """A loaded finger set and a snapshot file behind the pruned entries are read whole from
    the table (and equal it); a set current at the prune keeps catching up from the log."""
    folder = tmp_path / "fingers"
    writer = FingerGallery(engine, key=FKEY)
    writer.enrol_many("g1", _people(range(1, 13)), batch=6)
    lagging, current = FingerGallery(engine, key=FKEY), FingerGallery(engine, key=FKEY)
    filed = FingerGallery(engine, key=FKEY, snapshots=folder)
    for g in (lagging, current, filed):
        assert g.preload("g1", FPID) == 12
    assert filed.flush_snapshots(timeout=60)
    with Session(engine) as s, s.begin():
        s.execute(delete(SubjectRow).where(SubjectRow.reference == "r4"))
    writer.enrol_many("g1", _people(range(20, 23)))
    assert current.preload("g1", FPID) == 14
    reads: list[str] = []
    reopened = FingerGallery(engine, key=FKEY, snapshots=folder)  # a new process, same file
    for name, g in (("lagging", lagging), ("current", current), ("reopened", reopened)):
        _spy(reads, name, g)
    with Session(engine) as s:
        newest = finger_changes.latest(s, "g1")
    change_logs.prune(engine, keep=0)
    with Session(engine) as s:
        assert finger_changes.latest(s, "g1") == newest  # the newest entry stays
    assert lagging.preload("g1", FPID) == 14 == reopened.preload("g1", FPID)
    writer.enrol_many("g1", _people(range(30, 31)))
    assert current.preload("g1", FPID) == 15
    assert reads == ["lagging", "reopened"]  # the current set never read the table again
    table = FingerGallery(engine, key=FKEY)._screens.load("g1", FPID)
    for g in (lagging, current, reopened):
        assert _same(g._screens.load("g1", FPID), table)
    probe = prepare(_template(4))
    assert all(h.score < 0.9 for h in lagging.search("g1", probe, 15)[0])


def _spy(reads: list[str], name: str, g: FingerGallery) -> None:
    """Note ``name`` in ``reads`` at each whole-table read of ``g``."""
    inner = g._screens._read

    def spy(opener):  # type: ignore[no-untyped-def]
        reads.append(name)
        return inner(opener)

    g._screens._read = spy  # type: ignore[method-assign]


def test_a_prune_keeps_the_newest_entries_and_refuses_a_negative_keep(
    engine: Engine, tmp_path: Path
) -> None:
    """With keep=N the newest N numbers stay (a catch-up from within them needs no rebuild),
    a second prune with the same keep deletes nothing, and keep < 0 is refused."""
    writer = _faces(engine, tmp_path / "w")
    writer.enrol_many("g1", [batch(unit(np.random.default_rng(3), 30))], PID)
    first = {p.log: p for p in change_logs.prune(engine, keep=10)}[change_logs.FACES]
    assert (first.deleted, first.horizon) == (20, first.newest - 10)
    again = {p.log: p for p in change_logs.prune(engine, keep=10)}[change_logs.FACES]
    assert again.deleted == 0 and again.horizon == first.horizon
    with pytest.raises(InvalidArgument, match="keep: expected >= 0, got -1"):
        change_logs.prune(engine, keep=-1)
    writer.close()
