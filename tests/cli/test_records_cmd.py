"""``mobileid records ...`` and ``mobileid query``, on a parser built the way cli/main does."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import pytest

from mobileid.cli.main import _common, settings_from
from mobileid.cli.records_cmd import add_query_parser, add_records_parser
from mobileid.errors import InvalidArgument
from mobileid.records.errors import ImportRejected, InvalidQuery, UnknownSource

# the records tests' PostgreSQL fixtures (a real server, one database per session)


def parser() -> argparse.ArgumentParser:
    common = _common()
    p = argparse.ArgumentParser(prog="mobileid", parents=[common])
    sub = p.add_subparsers(dest="command", required=True)
    add_records_parser(sub, common)
    add_query_parser(sub, common)
    return p


TRAINING = ["--purpose", "training", "--case", "TR-0001"]


def run(capsys, *argv: str, why: list[str] = TRAINING) -> dict:
    """Run a command; a query states its reason (by default the training range's)."""
    args = parser().parse_args([*argv, *why] if argv[0] == "query" else list(argv))
    args.json = getattr(args, "json", False)
    assert args.handler(args, settings_from(args)) == 0
    out = capsys.readouterr().out
    return json.loads(out) if args.json else {"text": out}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, Path]:
    """A data dir loaded with the seven synthetic sources (20 records per type)."""
    root = tmp_path_factory.mktemp("records-cli")
    argv = ["records", "generate", "--out", str(root / "gen"), "--count", "20", "--load"]
    args = parser().parse_args([*argv, "--data-dir", str(root / "data")])
    args.json = False
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert args.handler(args, settings_from(args)) == 0
    return str(root / "data"), root / "gen"


def test_generate_load_list_and_query_by_plate(demo, capsys):
    """Generated sources are listed with their registry entries, and a plate query answers
    from every source, with the registered owner one hop away and everything synthetic."""
    data, gen = demo
    sources = run(capsys, "records", "sources", "--data-dir", data, "--json")["sources"]
    assert len(sources) == 7 and all(s["synthetic"] and s["legal_authority"] for s in sources)
    dmv = json.loads((gen / "syn-dmv.json").read_text())["records"]
    plate = next(r["plate"] for r in dmv if r["record_type"] == "vehicle")
    answer = run(capsys, "query", "--plate", plate, "--data-dir", data, "--json")
    assert answer["complete"] and {s["state"] for s in answer["sources"]} == {"answered"}
    kinds = [(h["record_type"], h["hop"]) for h in answer["hits"]]
    assert kinds[0] == ("vehicle", 0) and ("person", 1) in kinds
    assert all(h["synthetic"] for h in answer["hits"])
    text = run(capsys, "query", "--plate", plate, "--data-dir", data)["text"]
    assert "[SYNTHETIC]" in text and "owner of vehicle" in text and "not identifications" in text


def test_query_only_reaches_the_chosen_sources(demo, capsys):
    """With --source, every other source is reported not_entitled and the answer is complete."""
    answer = run(
        capsys,
        "query",
        "--name",
        "Nobody Here",
        "--source",
        "syn-persons",
        "--data-dir",
        demo[0],
        "--json",
    )
    states = {s["source"]: s["state"] for s in answer["sources"]}
    assert states.pop("syn-persons") == "answered"
    assert set(states.values()) == {"not_entitled"} and answer["complete"]


def test_import_rejects_a_bad_file_and_lists_every_error(tmp_path, capsys):
    """A file with bad rows is refused with all its errors in the JSON output; nothing lands."""
    data = str(tmp_path / "data")
    run(
        capsys,
        "records",
        "register",
        "dmv",
        "--agency",
        "DMV",
        "--authority",
        "Vehicle Code 1",
        "--types",
        "person,vehicle",
        "--retention",
        "5 years",
        "--entitlement",
        "records.dmv",
        "--data-dir",
        data,
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "record_type,record_id,name,dob\nperson,P-1,Ann Lee,1980-02-30\n"
        "person,P-2,Bo Ek,2999-01-01\nperson,P-3,Cy Do,1970-01-01\n"
    )
    args = parser().parse_args(["records", "import", "dmv", str(bad), "--data-dir", data, "--json"])
    with pytest.raises(ImportRejected):
        args.handler(args, settings_from(args))
    listed = json.loads(capsys.readouterr().out)["errors"]
    assert [(e["row"], e["field"]) for e in listed] == [(1, "dob"), (2, "dob")]
    sources = run(capsys, "records", "sources", "--data-dir", data, "--json")["sources"]
    assert sources[0]["records"] == {}


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["query"], InvalidQuery),
        (["query", "--dob", "1980-01-01"], InvalidQuery),
        (["query", "--phone", "12"], InvalidQuery),
        (["query", "--name", "x", "--timeout", "0"], InvalidArgument),
        (["records", "import", "ghost", "f.csv"], UnknownSource),
        (
            [
                "records",
                "register",
                "x",
                "--agency",
                "a",
                "--authority",
                "b",
                "--types",
                "ufo",
                "--retention",
                "c",
                "--entitlement",
                "d",
            ],
            InvalidArgument,
        ),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, argv, error):
    """Queries without a key, lone DOBs, bad phones, unknown sources and types raise errors
    the CLI maps to exit codes."""
    args = parser().parse_args([*argv, "--data-dir", str(tmp_path)])
    args.json = getattr(args, "json", False)
    with pytest.raises(error):
        args.handler(args, settings_from(args))


def test_an_unreachable_source_is_listed_and_reported_failed(tmp_path, capsys):
    """A registered PostgreSQL source on a closed port shows as unreachable in the list and as
    failed in a query, beside a source that answers; neither command crashes."""
    from dataclasses import replace

    from mobileid.records.registry import SourceRegistry
    from tests.postgres import free_port
    from tests.records.conftest import entry

    registry = SourceRegistry(tmp_path / "records")
    registry.register(entry("local"))
    url = f"postgresql://u@127.0.0.1:{free_port()}/x"
    registry.register(replace(entry("remote"), url=url), migrate=False)
    listed = run(capsys, "records", "sources", "--data-dir", str(tmp_path), "--json")["sources"]
    assert [bool(s["unreachable"]) for s in listed] == [False, True]
    assert "refused" in listed[1]["unreachable"]
    from tests.conftest import LIVE_PURPOSE, write_purposes

    write_purposes(tmp_path)  # these sources are live: a live purpose reaches them
    live = ["--purpose", LIVE_PURPOSE, "--case", "CASE-0001"]
    answer = run(
        capsys, "query", "--serial", "GL-1", "--data-dir", str(tmp_path), "--json", why=live
    )
    states = {s["source"]: (s["state"], s["reason"]) for s in answer["sources"]}
    assert states["local"] == ("answered", "") and states["remote"][0] == "failed"
    assert not answer["complete"]
    text = run(capsys, "query", "--serial", "GL-1", "--data-dir", str(tmp_path), why=live)["text"]
    assert "PARTIAL ANSWER" in text


def test_super_query_is_audited_and_keeps_training_apart(demo, capsys):
    """A query leaves one audit entry with per-source outcomes; a live purpose never reaches
    the synthetic (training) sources."""
    from mobileid.audit import EventType, open_audit_log
    from tests.conftest import LIVE_PURPOSE, write_purposes

    data = demo[0]
    write_purposes(Path(data))
    live = ["--purpose", LIVE_PURPOSE, "--case", "CASE-0002"]
    answer = run(capsys, "query", "--name", "Nobody Here", "--data-dir", data, "--json", why=live)
    assert {s["state"] for s in answer["sources"]} == {"not_entitled"}
    log = open_audit_log(Path(data))
    last = [e for e in log.read() if e.event == EventType.SUPER_QUERY][-1]
    assert last.details["search_id"] == answer["search_id"]
    assert last.details["purpose"] == LIVE_PURPOSE and last.details["training"] is False
    assert set(last.details["sources"].values()) == {"not_entitled"}
    assert log.verify().ok


def test_query_answers_from_a_postgresql_source(tmp_path, capsys, request):
    """A source registered with a PostgreSQL URL (a real server) is imported into and queried
    by the `query` command like the embedded one: the plate's vehicle, its owner one hop on."""
    from tests.conftest import LIVE_PURPOSE, write_purposes
    from tests.postgres import empty_postgres

    url = empty_postgres(request.getfixturevalue("postgres_database"))
    data = str(tmp_path / "data")
    write_purposes(tmp_path / "data")
    register = ["records", "register", "pgdmv", "--agency", "DMV", "--authority", "Code 1"]
    register += ["--types", "person,vehicle", "--retention", "5 years"]
    run(capsys, *register, "--entitlement", "records.pgdmv", "--url", url, "--data-dir", data)
    rows = tmp_path / "dmv.csv"
    rows.write_text(
        "record_type,record_id,name,plate,link_kind,from_id,to_id\n"
        "person,P-1,Ann Lee,,,,\nvehicle,V-1,,ABC 123,,,\nlink,,,,owner,P-1,V-1\n"
    )
    run(capsys, "records", "import", "pgdmv", str(rows), "--data-dir", data)
    why = ["--purpose", LIVE_PURPOSE, "--case", "CASE-PG1"]
    answer = run(capsys, "query", "--plate", "abc-123", "--data-dir", data, "--json", why=why)
    assert [(s["source"], s["state"]) for s in answer["sources"]] == [("pgdmv", "answered")]
    hits = [(h["record_id"], h["hop"]) for h in answer["hits"]]
    assert hits == [("V-1", 0), ("P-1", 1)] and answer["complete"]
