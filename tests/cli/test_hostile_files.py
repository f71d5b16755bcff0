"""Special files where a photo, a folder or a records file is expected: a clear error, nothing
half-done, no hang, no traceback, and an audit entry where it was a search (issue 13)."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mobileid.audit import audit_database
from mobileid.cli.main import main
from tests.conftest import LIVE_PURPOSE, write_purposes

WHY = ["--purpose", LIVE_PURPOSE, "--case", "CASE-77"]


def _entries(data: Path) -> list[tuple[str, str, dict]]:
    """The audit log's entries (none when no log was ever written)."""
    with closing(sqlite3.connect(audit_database(data))) as db:
        known = db.execute("SELECT name FROM sqlite_master WHERE name = 'audit_entries'")
        if known.fetchone() is None:
            return []
        rows = db.execute("SELECT event, outcome, details FROM audit_entries ORDER BY sequence")
        return [(e, o, json.loads(d)) for e, o, d in rows]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_purposes(folder)
    return folder


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "probe.jpg"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["/dev/zero", "/dev/urandom", "fifo"])
@pytest.mark.parametrize("command", ["face", "finger", "person"])
def test_special_file_as_capture_is_refused_and_audited(
    data: Path, fifo: Path, kind: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device or a FIFO given as IMAGE is refused at once (exit 2, named), and the search is
    one audited refusal naming the error."""
    path = str(fifo) if kind == "fifo" else kind
    argv = {
        "face": ["identify", "face", path],
        "finger": ["identify", "finger", path],
        "person": ["identify", "person", "--face", path, "--finger", path],
    }[command]
    assert main([*argv, *WHY, "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "expected a regular file" in err and ("device" in err or "FIFO" in err)
    searches = [(o, d) for e, o, d in _entries(data) if e == "search"]
    assert [(o, d["error"], d["case_number"]) for o, d in searches] == [
        ("refused", "invalid_argument", "CASE-77")
    ]


def test_symlink_loop_as_enrolment_folder(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder that is a symlink loop is refused by name; nothing is enrolled."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert main(["enroll", "faces", str(loop), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "DIR: expected a" in err and "directory" in err and str(loop) in err
    assert main(["enroll", "fingers", str(loop), "--data-dir", str(data)]) == 2
    assert [e for e, _, _ in _entries(data) if e == "enrol"] == []


def _register(data: Path) -> None:
    argv = ["records", "register", "dmv", "--agency", "DMV", "--authority", "Vehicle Code 1"]
    argv += ["--types", "person", "--retention", "5 years", "--entitlement", "records.dmv"]
    assert main([*argv, "--data-dir", str(data)]) == 0


def _records(data: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["records", "sources", "--json", "--data-dir", str(data)]) == 0
    return json.loads(capsys.readouterr().out)["sources"][0]["records"]


def test_csv_that_is_a_device_or_has_an_open_quote_imports_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV symlinked to /dev/zero is refused without reading it whole; a CSV whose last
    quote never closes is refused whole (it used to import the rows before it and lose one)."""
    _register(data)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    assert main(["records", "import", "dmv", str(zero), "--data-dir", str(data)]) == 2
    assert "expected a regular file" in capsys.readouterr().err
    open_quote = tmp_path / "quote.csv"
    open_quote.write_text(
        "record_type,record_id,name,dob\n"
        "person,P-1,Ann Lee,1980-02-03\n"
        'person,P-2,"Bo Ek,1970-01-01\n'
    )
    assert main(["records", "import", "dmv", str(open_quote), "--data-dir", str(data)]) == 2
    assert "well-formed CSV" in capsys.readouterr().err
    assert _records(data, capsys) == {}


@pytest.mark.parametrize("days", ["nan", "inf", "1e30", "-1", "0"])
def test_token_lifetime_is_checked_before_logon(
    data: Path, days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`operators token --days nan|inf|1e30` is an argument error before any logon: no one-time
    code is spent and no session is opened (no audit entry at all)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["operators", "token", "alice", "--scope", "search_live", "--days", days,
              "--data-dir", str(data)])  # fmt: skip
    assert exit_info.value.code == 2
    assert "expected a number of days" in capsys.readouterr().err
    assert not audit_database(data).exists()


@pytest.mark.parametrize("modality", ["faces", "fingers"])
def test_an_oversized_file_in_an_enrolment_folder_is_never_read(
    data: Path, tmp_path: Path, modality: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sparse 64 GiB file in a subject folder is reported as too large from its size (it
    used to be read whole, to hash it); nothing is enrolled or audited."""
    name = "photo.jpg" if modality == "faces" else "right_index.png"
    (tmp_path / "in" / "Big").mkdir(parents=True)
    with (tmp_path / "in" / "Big" / name).open("wb") as f:
        f.truncate(64 << 30)
    capsys.readouterr()
    argv = ["enroll", modality, str(tmp_path / "in"), "--json", "--data-dir", str(data)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(f["code"], "64 GiB" in f["message"] or "68,719,476,736" in f["message"])
            for f in report["failures"]] == [("image_too_large", True)]  # fmt: skip
    assert report["subjects_failed"] == ["Big"]
    assert [e for e, _, _ in _entries(data) if e == "enrol"] == []
