"""`mobileid backup` and `mobileid restore` on a real deployment's data folder: the copy is
consistent while another process keeps writing the audit log, it restores into an empty folder
whose audit chain verifies against its witness and whose gallery answers searches, and a bad
backup, a wrong key or an occupied folder is refused with nothing written."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from mobileid.service.backup import _listing
from tests.conftest import LIVE_PURPOSE, first_admin_token, link_subjects, write_purposes
from tests.faults.killing import count, run

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mobileid.audit import AuditEvent, EventType, open_deployment_audit_log
    from mobileid.config import Settings

    log = open_deployment_audit_log(Settings.from_env({}, data_dir=Path(sys.argv[1])))
    for i in range(int(sys.argv[2])):
        log.record(AuditEvent(EventType.AUDIT_READ, "writer", "auditor", "test", details={"i": i}))
    log.close()
    """
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Path:
    root = tmp_path_factory.mktemp("backup")
    people = link_subjects(lfw_dev, root / "people", ["Bill_Gates", "Andre_Agassi"], 2)
    data = root / "data"
    write_purposes(data)
    assert run(data, "enroll", "faces", str(people))[0] == 0
    return data


def _entries(data: Path, event: str) -> int:
    return count(
        data / "mobileid.sqlite3", f"SELECT count(*) FROM audit_entries WHERE event = '{event}'"
    )


def test_backups_taken_while_another_process_writes_restore_to_a_verifying_log(
    deployment: Path, tmp_path: Path, lfw_dev: Path
) -> None:
    """Two backups taken while a second process appends 150 audit entries each restore into
    a folder whose chain verifies against its witness and whose gallery finds the right person."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(deployment), "150"])
    try:
        backups = []
        for i in range(2):
            dest = tmp_path / f"b{i}"
            code, out, err = run(deployment, "backup", str(dest), "--with-keys", "--json")
            assert code == 0, err
            backups.append((dest, json.loads(out)))
    finally:
        assert writer.wait(timeout=600) == 0
    heads = [b["audit_head"] for _, b in backups]
    assert heads == sorted(heads) and heads[0] < heads[-1], f"no writes during the backups: {heads}"
    assert _entries(deployment, "backup") == 2
    for i, (dest, made) in enumerate(backups):
        assert made["keys_included"] is True
        restored = tmp_path / f"r{i}"
        code, out, err = run(restored, "restore", str(dest), "--json")
        assert code == 0, err
        assert json.loads(out)["audit_entries"] >= made["audit_head"] + 1
        code, out, err = run(restored, "audit", "verify", "--json")
        assert code == 0, out
        assert _entries(restored, "restore") == 1
    probe = lfw_dev / "Bill_Gates" / "Bill_Gates_0005.jpg"
    why = ["--purpose", LIVE_PURPOSE, "--case", "BK-0001", "--json"]
    code, out, err = run(tmp_path / "r1", "identify", "face", str(probe), *why)
    assert code == 0, err
    assert json.loads(out)["candidates"][0]["name"] == "Bill Gates"


def test_a_backup_without_keys_holds_no_secret_and_restores_only_with_the_right_keys(
    deployment: Path, tmp_path: Path
) -> None:
    """Without --with-keys the copy holds only the public key; restore refuses without keys or
    with another deployment's key (exit 2, nothing written) and succeeds with the right ones."""
    dest = tmp_path / "b"
    code, out, err = run(deployment, "backup", str(dest))
    assert code == 0, err
    assert "keys not included" in out
    assert sorted(p.name for p in (dest / "keys").iterdir()) == ["audit-ed25519.pub.pem"]
    target = tmp_path / "r"
    code, _, err = run(target, "restore", str(dest))
    assert code == 2 and "--keys" in err
    assert not target.exists() or not any(target.iterdir())
    other = tmp_path / "other"
    write_purposes(other)
    assert run(other, "backup", str(tmp_path / "ob"), "--with-keys")[0] == 0
    code, _, err = run(target, "restore", str(dest), "--keys", str(tmp_path / "ob" / "keys"))
    assert code == 2 and "expected deployment key" in err
    assert not target.exists() or not any(target.iterdir())
    code, _, err = run(target, "restore", str(dest), "--keys", str(deployment / "keys"))
    assert code == 0, err
    assert run(target, "audit", "verify")[0] == 0


def test_restore_refuses_an_altered_backup_and_an_occupied_folder(
    deployment: Path, tmp_path: Path
) -> None:
    """A file that differs from the manifest is refused (exit 2); a log edited and re-listed
    in the manifest fails verification (exit 7) and leaves nothing; an occupied folder is
    never overwritten."""
    dest = tmp_path / "b"
    assert run(deployment, "backup", str(dest), "--with-keys")[0] == 0
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    code, _, err = run(occupied, "restore", str(dest))
    assert code == 2 and "empty folder" in err
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
    db = dest / "mobileid.sqlite3"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE audit_entries SET operator = 'someone-else' WHERE sequence = 2")
        conn.commit()
    target = tmp_path / "r"
    code, _, err = run(target, "restore", str(dest))
    assert code == 2 and "mobileid.sqlite3" in err
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["files"] = [
        _listing(dest, db) if f["path"] == "mobileid.sqlite3" else f for f in manifest["files"]
    ]
    (dest / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(target, "restore", str(dest))
    assert code == 7, err
    assert not target.exists()


def test_once_operators_exist_a_backup_needs_an_admins_token(tmp_path: Path) -> None:
    """With operators, the console is refused a backup (exit 9, audited, nothing written) and
    an admin's token is accepted, the backup entry naming that admin."""
    data = tmp_path / "data"
    write_purposes(data)
    token = first_admin_token(data)
    refused = tmp_path / "refused"
    code, _, err = run(data, "backup", str(refused))
    assert code == 9, err
    assert not refused.exists()
    denied = "SELECT count(*) FROM audit_entries WHERE event = 'access_denied'"
    assert count(data / "mobileid.sqlite3", denied) >= 1
    code, _, err = run(data, "backup", str(tmp_path / "b"), "--token", token)
    assert code == 0, err
    with closing(sqlite3.connect(data / "mobileid.sqlite3")) as db:
        (who,) = db.execute("SELECT operator FROM audit_entries WHERE event = 'backup'").fetchone()
    assert who == "admin0"
