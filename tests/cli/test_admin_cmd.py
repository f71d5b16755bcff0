"""``mobileid admin ...`` on a temporary data folder: retention, purge and key rotation."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mobileid.auth.crypto import key_id, load_key
from mobileid.cli import admin_cmd as cmd
from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.service.context import open_context

PID = "test-pipeline/1"
T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p = argparse.ArgumentParser(prog="mobileid")
    cmd.add_admin_parser(p.add_subparsers(dest="command", required=True), common)
    return p


def run(capsys, data: Path, *argv: str) -> tuple[int, str]:
    args = parser().parse_args(["admin", *argv])
    args.json = getattr(args, "json", False)
    code = args.handler(args, Settings(data_dir=data))
    return code, capsys.readouterr().out


@pytest.fixture
def data(tmp_path) -> Path:
    """Subjects enrolled at t0 and t0+10h in gallery 'custody'."""
    data = tmp_path / "data"
    g = open_context(Settings(data_dir=data)).gallery
    for i, when in enumerate((T0, T0 + timedelta(hours=10))):
        g.clock = lambda when=when: when
        v = np.random.default_rng(i).normal(size=128).astype(np.float32)
        g.enrol("custody", f"r{i}", f"N{i}", "t", [(f"h{i}", v / np.linalg.norm(v))], PID)
    return data


def test_retention_then_purge_as_of_a_given_time(capsys, data):
    """A rule set from the command line is listed, and purge --now applies it."""
    assert run(capsys, data, "retention", "custody", "--hours", "12")[1] == (
        "custody: retention none -> 12h\n"
    )
    assert run(capsys, data, "retention")[1].split() == ["custody", "12h"]
    code, out = run(capsys, data, "purge", "--now", "2026-03-04T21:00:00Z", "--json")
    assert code == 0
    assert json.loads(out)["purged"] == [
        {
            "gallery": "custody",
            "retention_hours": 12,
            "cutoff": "2026-03-04T09:00:00+00:00",
            "subjects_deleted": 1,
            "embeddings_deleted": 1,
            "templates_deleted": 0,
            "photos_deleted": 0,
        }
    ]
    assert [s.name for s in open_context(Settings(data_dir=data)).gallery.subjects()] == ["N1"]


def test_bad_arguments_are_refused_with_the_field(capsys, data):
    """A naive or unparsable --now, and a rule with no gallery or value, are input errors."""
    for bad in ("2026-03-04T21:00:00", "yesterday"):
        with pytest.raises(InvalidArgument, match="--now: expected an ISO-8601 time"):
            run(capsys, data, "purge", "--now", bad)
    with pytest.raises(InvalidArgument, match="--hours N or --none"):
        run(capsys, data, "retention", "custody")
    with pytest.raises(InvalidArgument, match="GALLERY"):
        run(capsys, data, "retention", "--none")


def test_rotate_key_reports_key_ids_only(capsys, data):
    """rotate-key prints old and new key ids and counts, never a key."""
    old = load_key(data / "keys" / "deployment.key")
    code, out = run(capsys, data, "rotate-key", "--json")
    new = load_key(data / "keys" / "deployment.key")
    assert code == 0 and json.loads(out) == {
        "old_key_id": key_id(old),
        "new_key_id": key_id(new),
        "face_rows_resealed": 2,
        "photo_rows_resealed": 0,
        "operator_secrets_resealed": 0,
        "resumed": False,
    }
    assert old.hex() not in out and new.hex() not in out


def test_rotate_key_help_documents_the_procedure(capsys):
    """The command's help tells the operator to stop the server, what is kept, and reruns."""
    with pytest.raises(SystemExit):
        parser().parse_args(["admin", "rotate-key", "--help"])
    out = capsys.readouterr().out
    for phrase in ("Stop the API server", ".retired", "run it again", "back up the new key"):
        assert phrase in out
