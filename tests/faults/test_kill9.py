"""kill -9 in the middle of the long writes (issue 13): a bulk enrolment, a records import, a
vector index build, a key rotation and a purge, each a real ``mobileid`` process killed by the
test once its writes have begun. Afterwards the data folder must be consistent without any
repair step: no subject half-enrolled, no import half-written, the rotation resumable, the
gallery's index agreeing with the database, and ``audit verify`` passing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes
from tests.faults.killing import count, kill_when, run, spawn

PEOPLE = [
    "Bill_Clinton",
    "Carlos_Menem",
    "Colin_Powell",
    "Ariel_Sharon",
    "Arnold_Schwarzenegger",
    "Alejandro_Toledo",
    "Andre_Agassi",
    "Alvaro_Uribe",
    "Atal_Bihari_Vajpayee",
    "Amelie_Mauresmo",
    "Angelina_Jolie",
    "Bill_Gates",
]
SYNTHETIC = 30_000  # enough rows that re-sealing or deleting them takes a while


def _db(data: Path) -> Path:
    return data / "mobileid.sqlite3"


def _verify_ok(data: Path) -> dict:
    code, out, err = run(data, "audit", "verify", "--json")
    assert code == 0, f"audit verify failed after the kill: {out} {err}"
    return json.loads(out)


def _top(data: Path, probe: Path) -> str:
    why = ["--purpose", LIVE_PURPOSE, "--case", "K9-001", "--json"]
    code, out, err = run(data, "identify", "face", str(probe), *why)
    assert code == 0, err
    return json.loads(out)["candidates"][0]["name"]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Path:
    return link_subjects(lfw_dev, tmp_path_factory.mktemp("k9people"), PEOPLE, 1)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, people: Path) -> Path:
    """Two real subjects enrolled by the command, then 40,000 synthetic embeddings in the same
    gallery through the store's bulk enrolment."""
    from mobileid.config import Settings
    from mobileid.gallery.bulk import EnrolBatch
    from mobileid.service.context import open_context

    data = tmp_path_factory.mktemp("k9big") / "data"
    write_purposes(data)
    two = link_subjects(people, tmp_path_factory.mktemp("k9two"), PEOPLE[:2])
    assert run(data, "enroll", "faces", str(two))[0] == 0
    ctx = open_context(Settings.from_env({}, data_dir=data))
    try:
        rng = np.random.default_rng(9)
        gallery = ctx.settings.default_gallery
        pid = ctx.pipeline.pipeline_id

        def batches():  # type: ignore[no-untyped-def]
            for start in range(0, SYNTHETIC, 10_000):
                v = rng.normal(size=(10_000, 128)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                refs = [f"syn{start + i}" for i in range(len(v))]
                yield EnrolBatch(refs, refs, [f"{r}-img" for r in refs], v, "test:synthetic")

        ctx.gallery.enrol_many(gallery, batches(), pid)
    finally:
        ctx.close()
    return data


@pytest.fixture
def copy(big: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(big, tmp_path / "data"))


def test_enrolment_killed_mid_way_leaves_whole_subjects_and_finishes_on_rerun(
    tmp_path: Path, people: Path, lfw_dev: Path
) -> None:
    """Killed after its first subjects are written, an enrolment leaves each subject whole (its
    embeddings, photos and audit entry, or nothing) and a rerun enrols the rest exactly once."""
    data = tmp_path / "data"
    write_purposes(data)
    proc = spawn(data, "enroll", "faces", str(people))
    subjects = "SELECT count(*) FROM subjects"
    kill_when(proc, lambda: _db(data).exists() and count(_db(data), subjects) >= 1)
    written = count(_db(data), subjects)
    assert 1 <= written < len(PEOPLE), f"the kill missed the write loop: {written} subjects"
    per_subject = (
        "SELECT count(*) FROM subjects s WHERE NOT EXISTS "
        "(SELECT 1 FROM face_embeddings e WHERE e.subject_id = s.subject_id)"
    )
    assert count(_db(data), per_subject) == 0
    enrolled = "SELECT count(*) FROM audit_entries WHERE event = 'enrol' AND outcome = 'ok'"
    assert count(_db(data), enrolled) == written
    assert count(_db(data), "SELECT count(*) FROM reference_photos") == written
    _verify_ok(data)
    assert run(data, "enroll", "faces", str(people))[0] == 0
    assert count(_db(data), subjects) == len(PEOPLE)
    assert count(_db(data), "SELECT count(*) FROM face_embeddings") == len(PEOPLE)
    assert count(_db(data), enrolled) == len(PEOPLE)
    assert _top(data, lfw_dev / "Bill_Gates" / "Bill_Gates_0002.jpg") == "Bill Gates"
    _verify_ok(data)


def test_records_import_killed_mid_write_lands_nothing(tmp_path: Path) -> None:
    """A records import killed inside its write transaction leaves the source as it was, with
    no audit entry claiming it; the same file imports whole afterwards."""
    data = tmp_path / "data"
    register = ["records", "register", "dmv", "--agency", "DMV", "--authority", "Code 1"]
    more = ["--types", "person", "--retention", "5 years", "--entitlement", "records.dmv"]
    assert run(data, *register, *more)[0] == 0
    rows = 30_000
    csv = tmp_path / "people.csv"
    with csv.open("w") as f:
        f.write("record_type,record_id,name,dob\n")
        for i in range(rows):
            f.write(f"person,P-{i},Test Person {i},19{50 + i % 40}-0{1 + i % 9}-1{i % 10}\n")
    write_purposes(data)
    ask = ["--name", "Test Person 1", "--purpose", LIVE_PURPOSE, "--case", "K9-001"]
    assert run(data, "query", *ask)[0] == 0  # an audited act: the log exists before
    imports = "SELECT count(*) FROM audit_entries WHERE event = 'source_change'"
    before = count(_db(data), imports)
    store = data / "records" / "dmv.sqlite3"
    wal = store.with_name(store.name + "-wal")
    proc = spawn(data, "records", "import", "dmv", str(csv))
    kill_when(proc, lambda: wal.exists() and wal.stat().st_size > 1 << 19)
    assert count(store, "SELECT count(*) FROM records") == 0
    assert count(_db(data), imports) == before, "an audit entry claims the killed import"
    _verify_ok(data)
    code, _out, err = run(data, "records", "import", "dmv", str(csv), "--json")
    assert code == 0, err
    assert count(store, "SELECT count(*) FROM records") == rows
    _verify_ok(data)


def test_index_build_killed_leaves_an_index_that_is_rebuilt_or_trusted_correctly(
    copy: Path, lfw_dev: Path
) -> None:
    """An approximate index killed while it is being built or written never serves a wrong or
    half-written index: the next search answers correctly."""
    probe = lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg"
    why = ["--purpose", LIVE_PURPOSE, "--case", "K9-001", "--json"]
    env = {"MOBILEID_VECTOR_INDEX": "ivf"}
    index = copy / "index"
    proc = spawn(copy, "identify", "face", str(probe), *why, env=env)
    kill_when(proc, lambda: index.exists() and any(index.iterdir()), interval=0.005)
    code, out, err = run(copy, "identify", "face", str(probe), *why, env=env)
    assert code == 0, err
    assert json.loads(out)["candidates"][0]["name"] == "Bill Clinton"
    assert not list(index.glob("*.tmp")), "a half-written index file was left behind"
    _verify_ok(copy)


def _key_id(data: Path) -> str:
    from mobileid.auth.crypto import key_id, load_key

    return key_id(load_key(data / "keys" / "deployment.key"))


def test_key_rotation_killed_mid_way_refuses_searches_then_resumes(
    copy: Path, lfw_dev: Path
) -> None:
    """A key rotation killed after it re-sealed some rows leaves the retired key in place,
    searches refuse naming the unfinished rotation, and rerunning the command finishes it."""
    keys = copy / "keys"
    old = _key_id(copy)
    rows = "SELECT count(*) FROM face_embeddings"
    total = count(_db(copy), rows)

    def started() -> bool:
        if not list(keys.glob("deployment.key.*.retired")):
            return False
        new = _key_id(copy)
        return new != old and count(_db(copy), f"{rows} WHERE key_id = '{new}'") > 0

    proc = spawn(copy, "admin", "rotate-key", "--json")
    kill_when(proc, started)
    new = _key_id(copy)
    moved = count(_db(copy), f"{rows} WHERE key_id = '{new}'")
    assert 0 < moved < total, f"the kill missed the rotation: {moved} of {total} re-sealed"
    assert list(keys.glob("deployment.key.*.retired"))
    probe = lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg"
    why = ["--purpose", LIVE_PURPOSE, "--case", "K9-001"]
    code, _, err = run(copy, "identify", "face", str(probe), *why)
    assert code != 0 and "rotat" in err, err
    code, out, err = run(copy, "admin", "rotate-key", "--json")
    assert code == 0, err
    assert json.loads(out)["resumed"] is True
    assert not list(keys.glob("deployment.key.*.retired"))
    assert count(_db(copy), f"{rows} WHERE key_id = '{new}'") == total
    assert _top(copy, probe) == "Bill Clinton"
    _verify_ok(copy)


def test_purge_killed_mid_way_deletes_all_or_nothing_with_its_receipt(
    copy: Path, lfw_dev: Path
) -> None:
    """A purge killed inside its transaction deletes nothing and writes no receipt; the rerun
    deletes every expired capture once, with one receipt that counts them."""
    assert run(copy, "admin", "retention", "default", "--hours", "1")[0] == 0
    total = count(_db(copy), "SELECT count(*) FROM face_embeddings")
    receipts = "SELECT count(*) FROM audit_entries WHERE event = 'purge'"
    wal = _db(copy).with_name("mobileid.sqlite3-wal")
    base = wal.stat().st_size if wal.exists() else 0
    later = ["--now", "2100-01-01T00:00:00+00:00"]
    proc = spawn(copy, "admin", "purge", "--json", *later)
    kill_when(proc, lambda: wal.exists() and wal.stat().st_size > base + (2 << 20))
    left = count(_db(copy), "SELECT count(*) FROM face_embeddings")
    assert left in (0, total)
    assert count(_db(copy), receipts) == (0 if left == total else 1)
    _verify_ok(copy)
    code, _out, err = run(copy, "admin", "purge", "--json", *later)
    assert code == 0, err
    assert count(_db(copy), "SELECT count(*) FROM face_embeddings") == 0
    assert count(_db(copy), "SELECT count(*) FROM subjects") == 0
    with closing(sqlite3.connect(_db(copy))) as db:
        details = [
            json.loads(d)
            for (d,) in db.execute("SELECT details FROM audit_entries WHERE event = 'purge'")
        ]
    assert sum(d["embeddings_deleted"] for d in details) == total
    _verify_ok(copy)
