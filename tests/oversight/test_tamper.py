"""A log edited by hand: the report is still made, and says where the chain breaks."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from mobileid.audit import audit_database, open_audit_log
from mobileid.oversight import build_report
from tests.oversight.conftest import Built
from tests.oversight.scenario import FROM, TO


def test_edited_details_break_the_chain_at_that_entry(built: Built, tmp_path: Path) -> None:
    """Turning S1's strong candidate into 'none' by hand changes the counts, but the report
    names S1's entry as the first bad one and trusts nothing from it on."""
    data = tmp_path / "data"
    shutil.copytree(built.data_dir, data)
    s1 = built.seqs["S1"]
    with closing(sqlite3.connect(audit_database(data))) as db, db:
        (raw,) = db.execute(
            "SELECT details FROM audit_entries WHERE sequence = ?", (s1,)
        ).fetchone()
        details = json.loads(raw) | {"best_band": "none"}
        db.execute(
            "UPDATE audit_entries SET details = ? WHERE sequence = ?", (json.dumps(details), s1)
        )
    log = open_audit_log(data, create_key=False)
    try:
        entries, chain = log.read(), log.verify()
    finally:
        log.close()
    body = build_report(entries, date_from=FROM, date_to=TO, chain=chain).as_dict()
    assert body["chain"]["ok"] is False
    assert body["chain"]["first_bad_sequence"] == s1
    assert "changed" in body["chain"]["reason"]
    assert body["chain"]["trusted_through"] == 0
    assert body["chain"]["window_entries_from_break"] == 26  # S1 is the window's first entry
    assert body["chain"]["window_entries_unsigned"] == 26
    assert body["dispositions"]["strong_then_not_a_match"]["not_a_match"] == 0  # the forgery
