"""``mobileid report oversight``: figures from a real log, an audited read, HTML, bad input."""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mobileid.audit import EventType, audit_database, open_audit_log
from mobileid.cli.report_cmd import add_report_parser
from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.records.model import RecordType
from mobileid.records.registry import SourceEntry, SourceRegistry
from tests.oversight.scenario import build_log

WINDOW = ("--from", "2026-03-02", "--to", "2026-03-04")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="mobileid")
    add_report_parser(parser.add_subparsers(dest="command", required=True), common)
    return parser


def run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[int, str]:
    args = _parser().parse_args(["report", "oversight", *argv])
    code = args.handler(args, settings)
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    data = tmp_path_factory.mktemp("report") / "data"
    seqs = build_log(data)
    SourceRegistry(data / "records").register(
        SourceEntry(
            name="dmv",
            agency="Department of Motor Vehicles",
            legal_authority="Vehicle Code s.12",
            record_types=(RecordType.VEHICLE,),
            retention="5 years",
            entitlement="records:dmv",
            url="postgresql://report:secret@db/dmv",
        ),
        migrate=False,
    )
    (data / "eval").mkdir()
    metrics = {"kind": "face_verify", "pipeline_id": "face/a", "root": "lfw-dev", "eer": 0.02}
    (data / "eval" / "verify.json").write_text(json.dumps(metrics), encoding="utf-8")
    return data, seqs


@pytest.fixture
def settings(scenario_dir: tuple[Path, dict[str, int]], tmp_path: Path) -> Settings:
    """A private copy of the scenario's data dir: log, keys, registry and eval results."""
    shutil.copytree(scenario_dir[0], tmp_path / "data")
    return Settings(data_dir=tmp_path / "data")


def test_json_report_and_its_audited_read(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    """--json prints the figures, quotes registry and eval results, and logs the read."""
    code, out = run(capsys, settings, *WINDOW, "--json")
    body = json.loads(out)
    assert code == 0 and body["chain"]["ok"] is True
    assert body["searches"]["total"] == 7 and body["searches"]["live"] == 6
    assert body["dispositions"]["strong_then_not_a_match"]["not_a_match"] == 1
    dmv = body["reach"]["record_sources"]["dmv"]["registry"]
    assert dmv["owning_agency"] == "Department of Motor Vehicles"
    assert "secret" not in out  # the source's URL is never quoted
    (acc,) = body["accuracy"]
    assert (acc["pipeline_id"], acc["dataset"], acc["metrics"]) == (
        "face/a",
        "lfw-dev",
        {"eer": 0.02},
    )
    assert body["chain"]["entries"] == 32  # the scenario's 31 and this read, verified together
    log = open_audit_log(settings.data_dir, create_key=False)
    try:
        last = log.read()[-1]
    finally:
        log.close()
    assert last.event == EventType.AUDIT_READ and last.outcome == "ok"
    assert dict(last.details) == {"report": "oversight", "from": "2026-03-02", "to": "2026-03-04"}


def test_text_summary(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    """Without --json, one readable line per question."""
    code, out = run(capsys, settings, *WINDOW)
    assert code == 0
    for text in (
        "oversight report 2026-03-02 to 2026-03-04 (3 UTC days)",
        "audit chain: intact, 32 entries, signed through entry 32",
        "searches: 7 (live 6, training 1)",
        "per purpose: missing person 1, robbery 5, training exercise 1",
        "legal authorities: Act A 1, Act B 6, Act T 2",
        "strong candidate later judged not a match: 1 of 3 judged (33.3%)",
        "access denied 2, lockouts 1, failed logons 2",
        "purges: 3 (12 deleted)",
        "accuracy: face/a face_verify on lfw-dev: eer 0.02",
    ):
        assert text in out, text


def test_out_writes_html_charts_and_json(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    """--out writes index.html, three PNG charts and report.json with the same figures."""
    code, _ = run(capsys, settings, *WINDOW, "--out", str(tmp_path / "out"))
    assert code == 0
    out = tmp_path / "out"
    for name in ("searches.png", "bands.png", "dispositions.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["searches"]["per_day"]["2026-03-03"] == {"live": 3, "training": 0}
    assert "Audit chain intact" in (out / "index.html").read_text(encoding="utf-8")


def test_tampered_log_exits_7_naming_the_entry(
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    scenario_dir: tuple[Path, dict[str, int]],
) -> None:
    """A hand-edited search entry: the report is made, says broken at it, and exits 7."""
    seq = scenario_dir[1]["S4"]
    with closing(sqlite3.connect(audit_database(settings.data_dir))) as db, db:
        db.execute(
            "UPDATE audit_entries SET details = json_set(details, '$.training', json('true')) "
            "WHERE sequence = ?",
            (seq,),
        )
    code, out = run(capsys, settings, *WINDOW, "--json")
    body = json.loads(out)
    assert code == 7
    assert body["chain"]["ok"] is False and body["chain"]["first_bad_sequence"] == seq
    assert body["searches"]["training"] == 2  # the forged figure, flagged by the chain
    code, out = run(capsys, settings, *WINDOW)
    assert code == 7 and f"audit chain: BROKEN at entry {seq}" in out


def test_no_log_yet_reports_zero_activity(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A deployment with no audit log yet gets a zero report (and its read is the first entry)."""
    settings = Settings(data_dir=tmp_path / "fresh")
    code, out = run(capsys, settings, *WINDOW, "--json")
    body = json.loads(out)
    assert code == 0 and body["searches"]["total"] == 0 and body["events"]["total"] == 0
    assert body["chain"]["ok"] is True and body["chain"]["entries"] == 1
    assert body["reach"]["registry_given"] is False and body["accuracy"] == []


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (("--from", "2026-3-2", "--to", "2026-03-04"), "--from"),
        (("--from", "2026-03-02", "--to", "March 4"), "--to"),
        (("--from", "2026-03-05", "--to", "2026-03-04"), "--to"),
    ],
)
def test_bad_dates_are_refused_before_reading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...], field: str
) -> None:
    """Malformed dates or a window ending before it starts: InvalidArgument naming the field,
    and nothing is created or logged."""
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(InvalidArgument) as info:
        run(capsys, settings, *argv)
    assert info.value.field == field
    assert not settings.data_dir.exists()
