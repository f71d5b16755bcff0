"""Loading a finger gallery for search, and keeping the loaded set current.

Kept apart from :mod:`.fingers` (enrolment and search) as what reads the table for the first
stage. A set remembers the newest change-log number it applied (``finger_changes``): before
each search one index lookup says whether the gallery changed, and a change is caught up by
reading only the rows touched since. A set is read whole from SQL (ids, subjects, positions
and sealed codes, ~1 KB a row, AES-GCM per row: ~20-50 s per million) only when there is
nothing better: with a ``folder``, each set read or caught up is also kept in a sealed snapshot
there (``finger_snapshot``, written in the background by ``finger_writer``: after a change,
only the pieces it touched), which the next process opens with a few decryptions, catches up,
and checks against the table's row count and highest id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mobileid.errors import MobileIdError
from mobileid.gallery import change_logs, finger_changes
from mobileid.gallery.finger_codes import (
    Progress,
    RowBox,
    Sealed,
    backfill,
    forget_codes,
    parts,
)
from mobileid.gallery.finger_grow import changed
from mobileid.gallery.finger_rows import FingerTemplateRow, unpack_codes
from mobileid.gallery.finger_screen import I64, Chunk, ScreenSet, code_layout
from mobileid.gallery.finger_snapshot import (
    Snapshot,
    read_snapshot,
    snapshot_path,
)
from mobileid.gallery.finger_writer import SnapshotWriter
from mobileid.gallery.sealing import SecretBox

__all__ = ["ScreenLoader"]

_READ_CHUNK = 4_096  # rows of codes read and opened at a time while loading (~4 MB)
# A catch-up reads the touched rows one by one (~15 µs each): beyond a quarter of the set,
# reading everything again costs about as much and leaves nothing stale behind.
_CATCH_UP_SHARE = 4
_REREAD_MIN = 1_000  # ... and at least this many rows
_SAMPLE = 256  # rows of a file's set compared with the table's before it is trusted


_NO_IDS = np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class _Held:
    loaded: ScreenSet
    applied: int  # the newest change-log number the set holds
    written: int  # the one handed to the writer, or read from the files; -1: none
    dirty: I64 | None  # row ids touched since ``written`` (sorted); None: unknown


class ScreenLoader:
    """The loaded :class:`ScreenSet` of each (gallery, pipeline) of one database, kept current
    from the change log; ``box`` opens the rows, ``key`` seals the snapshot files in
    ``folder`` (none: no files)."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        key: bytes,
        progress: Progress | None,
        folder: Path | None = None,
    ) -> None:
        self.engine, self.box, self.key, self.progress = engine, box, key, progress
        self.folder = folder
        self._held: dict[tuple[str, str], _Held] = {}
        self._lock = threading.Lock()  # one load or catch-up at a time; searches wait for it
        self.writer = SnapshotWriter()

    def reset(self, box: SecretBox, key: bytes) -> None:
        """Forget every loaded set; open rows and files with the new key from now on."""
        with self._lock:
            self.box, self.key, self._held = box, key, {}
            self.writer.drop()

    def rows(self, gallery: str, pipeline_id: str, ids: Sequence[int]) -> list[Sealed]:
        """The sealed templates of the rows ``ids`` that are still in the table."""
        t = FingerTemplateRow
        q = select(t.id, t.subject_id, t.position, t.image_sha256, t.template, t.key_id)
        found: list[Sealed] = []
        with Session(self.engine) as s:
            for part in parts(list(ids)):
                where = (t.gallery == gallery, t.pipeline_id == pipeline_id, t.id.in_(part))
                found += s.execute(q.where(*where)).all()
        return found

    def box_for(self, gallery: str, pipeline_id: str) -> RowBox:
        return RowBox(self.box, gallery, pipeline_id)

    # --- loading --------------------------------------------------------------------------
    def load(self, gallery: str, pipeline_id: str) -> ScreenSet:
        """The gallery's templates of ``pipeline_id``, current with the table."""
        with self._lock:
            with Session(self.engine) as s:
                newest = finger_changes.latest(s, gallery)
            held = self._held.get((gallery, pipeline_id))
            if held is not None and held.applied == newest:
                return held.loaded
            if held is None:
                held = self._from_file(gallery, pipeline_id, newest)
            else:
                held = self._caught_up(gallery, pipeline_id, held, newest)
            if held is None:
                held = self._from_sql(gallery, pipeline_id)
            self._held[(gallery, pipeline_id)] = held = self._written(gallery, held)
            return held.loaded

    def _from_file(self, gallery: str, pipeline_id: str, newest: int) -> _Held | None:
        """The snapshot file's set caught up to ``newest``, or None when there is none, it
        cannot be used, or it disagrees with the table once caught up."""
        if self.folder is None:
            return None
        path = snapshot_path(self.folder, gallery, pipeline_id)
        snap = read_snapshot(self.key, path, gallery, pipeline_id)
        if snap is None or snap.applied > newest:  # a log behind the file: another database
            return None
        start = _Held(snap.loaded, snap.applied, snap.applied, _NO_IDS)
        held = self._caught_up(gallery, pipeline_id, start, newest)
        if held is None or held.loaded.stamp != self._stamp(gallery, pipeline_id):
            return None
        if not self._agrees(gallery, held.loaded):
            return None
        self.writer.known(path, snap.manifest)  # so that the next write keeps its segments
        return held

    def _agrees(self, gallery: str, loaded: ScreenSet) -> bool:
        """Whether ``_SAMPLE`` rows of ``loaded`` (the first, the last, the rest at random) are
        in the table as the set holds them: subject, position, code. A file from another
        database with as many rows, the same highest id and as long a log (a copy, a restore)
        fails here, since subject ids are random."""
        live = loaded.live_rows()
        n = live.shape[0]
        if not n:
            return True  # the stamp said the table holds none either
        picks = np.unique(np.r_[0, n - 1, np.random.default_rng().integers(0, n, _SAMPLE)])
        picks = live[picks].tolist()
        t = FingerTemplateRow
        q = select(t.id, t.subject_id, t.position, t.image_sha256, t.screen_code, t.key_id)
        where = (t.gallery == gallery, t.pipeline_id == loaded.pipeline_id)
        wanted = [int(loaded.ids[r]) for r in picks]
        with Session(self.engine) as s:
            found = {row.id: row for row in s.execute(q.where(*where, t.id.in_(wanted)))}
        if len(found) != len(wanted):
            return False
        opener = self.box_for(gallery, loaded.pipeline_id)
        rows = [found[i] for i in wanted]
        codes, good = unpack_codes([opener.code(row) for row in rows], *code_layout())
        same = (
            loaded.subjects[r] == row.subject_id and loaded.positions[r] == row.position
            for r, row in zip(picks, rows, strict=True)
        )
        return bool(good.all()) and all(same) and np.array_equal(codes, loaded.codes[picks])

    def _caught_up(self, gallery: str, pipeline_id: str, held: _Held, newest: int) -> _Held | None:
        """``held`` with the rows touched after its number up to ``newest`` read again (those
        gone dropped); None when there are too many, one lacks a current code, or the log was
        pruned past ``held``'s number (``change_logs``)."""
        with Session(self.engine) as s:
            ids = finger_changes.touched(s, gallery, held.applied, newest)
            # Read after the entries: a prune committed since they were read shows here.
            pruned = change_logs.horizon(s, change_logs.FINGERS)
            if held.applied < min(newest, pruned):
                return None  # entries it needs may have been pruned: read the table again
            if len(ids) > max(_REREAD_MIN, held.loaded.size // _CATCH_UP_SHARE):
                return None
            t = FingerTemplateRow
            q = select(t.id, t.subject_id, t.position, t.image_sha256, t.screen_code, t.key_id)
            where = (t.gallery == gallery, t.pipeline_id == pipeline_id)
            found = [r for part in parts(ids) for r in s.execute(q.where(*where, t.id.in_(part)))]
        found.sort(key=lambda r: r.id)
        opener = self.box_for(gallery, pipeline_id)
        tag, shape = code_layout()
        codes, good = unpack_codes([opener.code(r) for r in found], tag, shape)
        if not good.all():
            return None
        old, touched = held.loaded, np.asarray(ids, dtype=np.int64)
        fresh = ScreenSet(
            pipeline_id,
            np.array([r.id for r in found], dtype=np.int64),
            [r.subject_id for r in found],
            [r.position for r in found],
            codes,
        )
        dirty = None if held.dirty is None else np.union1d(held.dirty, touched)
        return _Held(changed(old, touched, fresh), newest, held.written, dirty)

    def _from_sql(self, gallery: str, pipeline_id: str) -> _Held:
        """Every row read from the table (codes computed first where missing or stale)."""
        opener = self.box_for(gallery, pipeline_id)
        for _ in range(2):  # a second pass only after stale codes were computed again
            backfill(self.engine, opener, self.progress)
            with Session(self.engine) as s:
                # Read before the rows: a change committed meanwhile is caught up again.
                newest = finger_changes.latest(s, gallery)
            loaded, stale = self._read(opener)
            if not stale:
                return _Held(loaded, newest, -1, None)
            forget_codes(self.engine, stale)
        raise MobileIdError(
            f"screen_code: expected the codes just computed for gallery {gallery!r} to read "
            f"back current, got {len(stale)} rows still stale",
            field="screen_code",
        )

    def _written(self, gallery: str, held: _Held) -> _Held:
        """``held``, handed to the writer when the snapshot lags behind it (or its last write
        failed): every change is written, since a write costs what the change touched (a
        removed template leaves the disk at once)."""
        if self.folder is None:
            return held
        path = snapshot_path(self.folder, gallery, held.loaded.pipeline_id)
        if held.written == held.applied and not self.writer.failed(path):
            return held
        snap = Snapshot(held.loaded, held.applied)
        self.writer.submit(self.key, path, gallery, snap, held.dirty)
        return replace(held, written=held.applied, dirty=_NO_IDS)

    def _stamp(self, gallery: str, pipeline_id: str) -> tuple[int, int]:
        q = select(func.count(), func.coalesce(func.max(FingerTemplateRow.id), 0)).where(
            FingerTemplateRow.gallery == gallery, FingerTemplateRow.pipeline_id == pipeline_id
        )
        with Session(self.engine) as s:
            n, last = s.execute(q).one()
        return int(n), int(last)

    def _read(self, opener: RowBox) -> tuple[ScreenSet, list[int]]:
        """Every row of the gallery and pipeline, codes opened ``_READ_CHUNK`` at a time; and
        the ids of rows whose code is missing or stale (zero in the set)."""
        t = FingerTemplateRow
        expected = self._stamp(opener.gallery, opener.pipeline_id)[0]
        q = (
            select(t.id, t.subject_id, t.position, t.image_sha256, t.screen_code, t.key_id)
            .where(t.gallery == opener.gallery, t.pipeline_id == opener.pipeline_id)
            .order_by(t.id)
            .execution_options(yield_per=_READ_CHUNK)
        )
        stale: list[int] = []

        def chunks(s: Session) -> Iterator[Chunk]:
            tag, shape = code_layout()
            for rows in s.execute(q).partitions():
                codes, good = unpack_codes([opener.code(r) for r in rows], tag, shape)
                ids = [r.id for r in rows]
                stale.extend(i for i, ok in zip(ids, good.tolist(), strict=True) if not ok)
                yield ids, [r.subject_id for r in rows], [r.position for r in rows], codes

        with Session(self.engine) as s:
            loaded = ScreenSet.read(opener.pipeline_id, chunks(s), expected=expected)
        return loaded, stale
