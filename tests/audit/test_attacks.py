"""Issue 9's attacks, replayed on a real deployment's log: written by real commands (enrolment,
searches, audited reads), then edited with raw SQL by someone who can write the database but
not read the signing key. Each must be named by `audit verify` (exit 7, never a traceback) and
must stop the next search; the signer must refuse to sign over it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobileid.audit import audit_database
from mobileid.audit.canonical import entry_payload, hash_payload
from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

FORGED = 64  # the entry the forgers rewrite: a search with case CASE-002
TOTAL = 130


def _head(data: Path) -> int:
    with closing(sqlite3.connect(audit_database(data))) as db:
        return int(db.execute("SELECT max(sequence) FROM audit_entries").fetchone()[0] or 0)


def _fill_to(data: Path, sequence: int) -> None:
    """Audited reads (real commands) until the log's last entry is ``sequence``."""
    while _head(data) < sequence:
        assert main(["audit", "show", "--limit", "1", "--data-dir", str(data)]) == 0


def _search(data: Path, probe: Path, case: str) -> int:
    why = ["--purpose", LIVE_PURPOSE, "--case", case]
    return main(["identify", "face", str(probe), *why, "--json", "--data-dir", str(data)])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Path:
    """A data folder whose log has 130 entries; entry 64 is a search for case CASE-002."""
    root = tmp_path_factory.mktemp("attacks")
    people = link_subjects(lfw_dev, root / "people", ["Bill_Clinton", "Carlos_Menem"], 2)
    data = root / "data"
    write_purposes(data)
    assert main(["enroll", "faces", str(people), "--data-dir", str(data)]) == 0
    probe = lfw_dev / "Bill_Clinton" / "Bill_Clinton_0010.jpg"
    assert _search(data, probe, "CASE-001") == 0
    _fill_to(data, FORGED - 1)
    assert _search(data, probe, "CASE-002") == 0
    _fill_to(data, TOTAL - 1)
    assert _search(data, probe, "CASE-003") == 0
    assert _head(data) == TOTAL
    return data


@pytest.fixture
def data(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(built, copy)
    capsys.readouterr()
    return copy


@pytest.fixture
def db(data: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(audit_database(data), isolation_level=None)
    yield conn
    conn.close()


def _verify(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["audit", "verify", "--json", "--data-dir", str(data), *extra])
    return code, json.loads(capsys.readouterr().out)


def _rehash_from(db: sqlite3.Connection, start: int) -> str:
    """Re-hash entry ``start`` and every later one with the published rules; the new last hash."""
    prev = db.execute("SELECT entry_hash FROM audit_entries WHERE sequence = ?", (start - 1,))
    prev_hash = prev.fetchone()[0]
    cur = db.execute("SELECT * FROM audit_entries WHERE sequence >= ? ORDER BY sequence", (start,))
    names = [d[0] for d in cur.description]
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        payload = entry_payload(
            sequence=row["sequence"],
            time=row["time"],
            operator=row["operator"],
            role=row["role"],
            event=row["event"],
            component=row["component"],
            outcome=row["outcome"],
            details=json.loads(row["details"]),
            clock_regressed=bool(row["clock_regressed"]),
            prev_hash=prev_hash,
        )
        prev_hash = hash_payload(payload)
        db.execute(
            "UPDATE audit_entries SET prev_hash = ?, entry_hash = ? WHERE sequence = ?",
            (payload["prev_hash"], prev_hash, row["sequence"]),
        )
    return prev_hash


def _point_head(db: sqlite3.Connection, sequence: int, last_checkpoint: int | None = None) -> None:
    h, t = db.execute(
        "SELECT entry_hash, time FROM audit_entries WHERE sequence = ?", (sequence,)
    ).fetchone()
    db.execute("UPDATE audit_head SET sequence = ?, entry_hash = ?, time = ?", (sequence, h, t))
    if last_checkpoint is not None:
        db.execute("UPDATE audit_head SET last_checkpoint = ?", (last_checkpoint,))


def _forge_entry(db: sqlite3.Connection, sequence: int, event: str, details: dict) -> None:
    """Append a correctly hashed entry by hand and move the head to it."""
    prev = db.execute("SELECT entry_hash FROM audit_entries WHERE sequence = ?", (sequence - 1,))
    payload = entry_payload(
        sequence=sequence,
        time="2026-11-29T23:00:00.000000+00:00",
        operator="os:root",
        role="console",
        event=event,
        component="cli",
        outcome="ok",
        details=details,
        clock_regressed=False,
        prev_hash=prev.fetchone()[0],
    )
    db.execute(
        "INSERT INTO audit_entries (sequence, time, operator, role, event, component, "
        "outcome, details, clock_regressed, prev_hash, entry_hash, search_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sequence, payload["time"], payload["operator"], payload["role"], event, "cli", "ok",
         json.dumps(details), 0, payload["prev_hash"], hash_payload(payload),
         details.get("search_id")),
    )  # fmt: skip


def _refused(data: Path, lfw_dev: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A search over the broken log exits 7 with the advice; returns what it said."""
    probe = lfw_dev / "Carlos_Menem" / sorted((lfw_dev / "Carlos_Menem").iterdir())[-1].name
    assert _search(data, probe, "CASE-004") == 7
    return capsys.readouterr().err


def test_the_log_as_written_verifies(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real commands leave an intact log in which every entry is signed and witnessed."""
    code, report = _verify(data, capsys)
    assert code == 0 and report["ok"], report["reason"]
    assert report["entries"] == TOTAL and report["tail_entries"] == 0
    assert report["witnessed_through"] == TOTAL and report["witness_heads"] >= TOTAL // 2


def test_forged_rehashed_history_is_named_and_never_signed(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 1: checkpoints deleted, entry 64's operator and case changed, the chain re-hashed
    and the head moved: verify names 64 (with and without --public-key), searches stop, the
    signer refuses, and the oversight report says the chain is broken."""
    row = db.execute("SELECT details FROM audit_entries WHERE sequence = ?", (FORGED,)).fetchone()
    assert "CASE-002" in row[0]
    db.execute("DELETE FROM audit_checkpoints")
    db.execute(
        "UPDATE audit_entries SET operator = 'os:mallory', details = ? WHERE sequence = ?",
        (row[0].replace("CASE-002", "CASE-999"), FORGED),
    )
    _rehash_from(db, FORGED)
    _point_head(db, TOTAL, last_checkpoint=0)
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == FORGED
    pem = data / "keys" / "audit-ed25519.pub.pem"  # as handed to an oversight body earlier
    code, report = _verify(data, capsys, "--public-key", str(pem))
    assert code == 7 and report["first_bad_sequence"] == FORGED
    assert "not intact" in _refused(data, lfw_dev, capsys)
    witness = (data / "audit-witness" / "heads.jsonl").read_bytes()
    assert main(["audit", "checkpoint", "--data-dir", str(data)]) == 7
    assert (data / "audit-witness" / "heads.jsonl").read_bytes() == witness
    assert db.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0] == 0
    today = datetime.now(UTC).date()
    window = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
    assert main(["report", "oversight", *window, "--data-dir", str(data)]) == 7


def test_rewritten_unsigned_tail_is_caught(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 2: entries after 101 deleted and the head pointed at 101."""
    db.execute("DELETE FROM audit_entries WHERE sequence > 101")
    db.execute("DELETE FROM audit_checkpoints WHERE sequence > 101")
    _point_head(db, 101, last_checkpoint=101)
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == 102
    assert "deleted" in report["reason"]
    assert "not intact" in _refused(data, lfw_dev, capsys)


def test_edited_and_rehashed_tail_entry_is_caught(
    data: Path, db: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 2: an entry near the end edited and the tail re-hashed consistently."""
    db.execute("UPDATE audit_entries SET operator = 'os:mallory' WHERE sequence = 120")
    last = _rehash_from(db, 120)
    db.execute("UPDATE audit_head SET entry_hash = ?", (last,))
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == 120


def test_appended_fake_disposition_is_caught(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 2: a correctly hashed disposition appended by hand, head moved to it."""
    _forge_entry(db, TOTAL + 1, "disposition", {"search_id": "x", "disposition": "confirmed"})
    _point_head(db, TOTAL + 1)
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == TOTAL + 1
    assert "not intact" in _refused(data, lfw_dev, capsys)


def test_deleted_last_entry_is_caught_at_once(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 2: only the last entry deleted (and its checkpoint, and the head moved back)."""
    db.execute("DELETE FROM audit_entries WHERE sequence = ?", (TOTAL,))
    db.execute("DELETE FROM audit_checkpoints WHERE sequence = ?", (TOTAL,))
    _point_head(db, TOTAL - 1, last_checkpoint=TOTAL - 1)
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == TOTAL
    assert "not intact" in _refused(data, lfw_dev, capsys)


def test_edited_details_stop_searches(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 3: a plain edit of entry 64's details (before the last signed head) makes the
    first search after the last full verification is 15 minutes old exit 7."""
    db.execute(
        "UPDATE audit_entries SET details = replace(details, 'CASE-002', 'CASE-999') "
        "WHERE sequence = ?",
        (FORGED,),
    )
    memo = data / "audit-witness" / "verified.json"
    old = datetime.now(UTC) - timedelta(minutes=16)
    memo.write_text(json.dumps({"through": TOTAL, "at": old.isoformat()}))
    err = _refused(data, lfw_dev, capsys)
    assert "audit verify" in err  # says what to do next
    assert _verify(data, capsys)[1]["first_bad_sequence"] == FORGED


def test_every_action_can_verify_the_whole_log(
    data: Path,
    db: sqlite3.Connection,
    lfw_dev: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With MOBILEID_AUDIT_FULL_VERIFY_MINUTES=0 an edit in the signed past stops the very next
    search, however recent the last full verification."""
    monkeypatch.setenv("MOBILEID_AUDIT_FULL_VERIFY_MINUTES", "0")
    db.execute("UPDATE audit_entries SET operator = 'os:mallory' WHERE sequence = 3")
    assert "entry 3" in _refused(data, lfw_dev, capsys)


def test_row_past_the_head_is_a_verdict(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 4: a row inserted past the head gives a verdict, not an IntegrityError."""
    _forge_entry(db, TOTAL + 1, "search", {"case": "CASE-X"})
    code, report = _verify(data, capsys)
    assert code == 7 and report["first_bad_sequence"] == TOTAL + 1
    assert "not intact" in _refused(data, lfw_dev, capsys)


def test_deleted_head_row_is_a_verdict(
    data: Path, db: sqlite3.Connection, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack 4: the bookkeeping row deleted: verify and searches give a verdict."""
    db.execute("DELETE FROM audit_head")
    code, report = _verify(data, capsys)
    assert code == 7 and "audit_head" in report["reason"]
    assert "not intact" in _refused(data, lfw_dev, capsys)


def test_missing_or_edited_witness_is_a_verdict(
    data: Path, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A witness that is gone, or whose line was edited, is reported; searches stop."""
    witness = data / "audit-witness" / "heads.jsonl"
    lines = witness.read_text().splitlines()
    line = json.loads(lines[10])
    line["entry_hash"] = "0" * 64
    line["leaves"][-1] = "0" * 64
    witness.write_text("\n".join([*lines[:10], json.dumps(line), *lines[11:]]) + "\n")
    code, report = _verify(data, capsys)
    assert code == 7 and "witness line 11" in report["reason"]
    witness.unlink()
    code, report = _verify(data, capsys)
    assert code == 7 and "missing" in report["reason"]
    assert "adopt-witness" in _refused(data, lfw_dev, capsys)


def test_export_verifies_with_the_standalone_verifier(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit export` writes what docs/verify_audit_export.py (no mobileid code) accepts, and
    an entry edited in the export is named by it."""
    import subprocess
    import sys

    out = tmp_path / "export"
    assert main(["audit", "export", str(out), "--data-dir", str(data)]) == 0
    verifier = Path(__file__).resolve().parents[2] / "docs" / "verify_audit_export.py"
    run = subprocess.run([sys.executable, "-I", str(verifier), str(out)], capture_output=True)
    verdict = json.loads(run.stdout)
    assert run.returncode == 0 and verdict["ok"], verdict
    assert verdict["entries"] == TOTAL + 1  # the export's own entry is in it
    entries = (out / "entries.jsonl").read_text().splitlines()
    row = json.loads(entries[FORGED - 1])
    row["details"] = row["details"].replace("CASE-002", "CASE-999")
    entries[FORGED - 1] = json.dumps(row)
    (out / "entries.jsonl").write_text("\n".join(entries) + "\n")
    manifest = json.loads((out / "manifest.json").read_text())
    import hashlib

    manifest["sha256"]["entries.jsonl"] = hashlib.sha256(
        (out / "entries.jsonl").read_bytes()
    ).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    run = subprocess.run([sys.executable, "-I", str(verifier), str(out)], capture_output=True)
    verdict = json.loads(run.stdout)
    assert run.returncode == 1 and verdict["first_bad_sequence"] == FORGED


def test_adopting_a_witness_after_losing_it(
    data: Path, lfw_dev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data folder without its witness refuses searches until an adoption (logged, with its
    reason) starts a new one from the database's own signed checkpoints."""
    shutil.rmtree(data / "audit-witness")
    assert "adopt-witness" in _refused(data, lfw_dev, capsys)
    argv = ["audit", "adopt-witness", "--reason", "upgrade from 0.1", "--data-dir", str(data)]
    assert main(argv) == 0
    code, report = _verify(data, capsys)
    assert code == 0 and report["witnessed_through"] == TOTAL + 1
    capsys.readouterr()
    assert main(["audit", "show", "--from", str(TOTAL + 1), "--json", "--data-dir", str(data)]) == 0
    adopted = json.loads(capsys.readouterr().out)["entries"][0]
    assert (
        adopted["event"] == "audit_witness" and adopted["details"]["reason"] == "upgrade from 0.1"
    )
