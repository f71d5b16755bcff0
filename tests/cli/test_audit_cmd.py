"""``mobileid audit``: verify (exit 7 when tampered), checkpoint, export-key, show."""

from __future__ import annotations

import argparse
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobileid.audit import (
    AuditEvent,
    CheckpointSigner,
    EventType,
    audit_database,
    open_audit_log,
)
from mobileid.cli.audit_cmd import add_audit_parser
from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NotFound


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="mobileid")
    add_audit_parser(parser.add_subparsers(dest="command", required=True), common)
    return parser


def run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[int, str]:
    args = _parser().parse_args(["audit", *argv])
    code = args.handler(args, settings)
    return code, capsys.readouterr().out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir holding a small real log: 23 entries, heads signed (and witnessed) at 10
    and 20, written on a slower schedule than the default so that a tail is unsigned."""
    s = Settings(data_dir=tmp_path / "data")
    log = open_audit_log(s.data_dir, checkpoint_every=10)
    with log.engine.begin() as conn:
        for i in range(23):
            log.append(conn, AuditEvent(EventType.SEARCH, f"officer{i % 3}", "officer", "cli"))
    log.close()
    return s


def test_verify_intact_log(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """An intact log verifies with exit 0, and the verification itself is logged."""
    code, out = run(capsys, settings, "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert report["entries"] == 23 and report["trusted_through"] == 20
    assert (report["witnessed_through"], report["tail_entries"]) == (20, 3)
    code, out = run(capsys, settings, "verify")
    assert code == 0 and "intact: 24 entries" in out  # the previous verify was an entry
    assert "unsigned tail: 0 entries" in out  # ...and its entry was signed at once


def test_verify_tampered_log_exits_7(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    """A hand-edited entry makes verify exit 7, naming the first bad sequence number."""
    with closing(sqlite3.connect(audit_database(settings.data_dir))) as db, db:
        db.execute("UPDATE audit_entries SET operator = 'nobody' WHERE sequence = 7")
    code, out = run(capsys, settings, "verify", "--json")
    assert code == 7
    assert json.loads(out)["first_bad_sequence"] == 7
    code, out = run(capsys, settings, "verify")
    assert code == 7 and "first bad entry 7" in out and "reason:" in out


def test_export_key_and_verify_against_it(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    """The exported key verifies the log from outside; a stranger's key does not."""
    pem_file = tmp_path / "audit.pub.pem"
    assert run(capsys, settings, "export-key", "--out", str(pem_file))[0] == 0
    assert pem_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    code, out = run(capsys, settings, "export-key")
    assert code == 0 and out == pem_file.read_text()
    assert run(capsys, settings, "verify", "--public-key", str(pem_file))[0] == 0
    stranger = tmp_path / "stranger.pem"
    other = CheckpointSigner.from_private_key(Ed25519PrivateKey.generate())
    stranger.write_text(other.public_key_pem())
    code, out = run(capsys, settings, "verify", "--public-key", str(stranger), "--json")
    assert code == 7 and "unknown key" in json.loads(out)["reason"]
    log = open_audit_log(settings.data_dir, create_key=False)
    exports = [e for e in log.read() if e.event == "audit_export"]
    log.close()
    assert [e.details["to"] for e in exports] == [str(pem_file), "stdout"]


def test_checkpoint_on_demand(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """`audit checkpoint` signs the last entry now; verify then vouches for all of it."""
    code, out = run(capsys, settings, "checkpoint", "--json")
    cp = json.loads(out)["checkpoint"]
    assert code == 0 and cp["sequence"] == 24 and len(cp["signature"]) == 128
    code, out = run(capsys, settings, "verify", "--json")
    assert code == 0 and json.loads(out)["trusted_through"] == 24


def test_show_is_an_audited_read(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """`audit show` returns the asked range and logs the read as audit_read."""
    code, out = run(capsys, settings, "show", "--from", "5", "--limit", "3", "--json")
    entries = json.loads(out)["entries"]
    assert code == 0 and [e["sequence"] for e in entries] == [5, 6, 7]
    assert set(entries[0]) >= {"time", "operator", "role", "event", "prev_hash", "entry_hash"}
    code, out = run(capsys, settings, "show", "--from", "24", "--json")
    (read,) = json.loads(out)["entries"]
    assert read["event"] == "audit_read" and read["details"]["returned"] == 3
    code, out = run(capsys, settings, "show", "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 2 and " search ok " in out


def test_bad_range_and_missing_log_are_refused(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    """A bad range is an InvalidArgument; a data dir without a log is NotFound."""
    with pytest.raises(InvalidArgument, match="start"):
        run(capsys, settings, "show", "--from", "0")
    empty = Settings(data_dir=tmp_path / "empty")
    with pytest.raises(NotFound, match="audit log"):
        run(capsys, empty, "verify")
    assert not audit_database(empty.data_dir).exists()
