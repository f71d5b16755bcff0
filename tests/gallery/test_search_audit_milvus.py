"""A face search whose Milvus host vanishes while the galleries are searched: the operator
gets BackendUnavailable after MOBILEID_VECTOR_TIMEOUT_S (2 s here, not the default 10 s), and
the search still leaves its one audit entry, as failed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobileid.breaker import breaker_for
from mobileid.config import Settings
from mobileid.errors import BackendUnavailable
from mobileid.gallery.vectors import Partition
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.identify import identify_face, require_reason
from tests.conftest import LIVE_PURPOSE, cli_json, link_subjects, write_purposes
from tests.gallery.relay import Relay

CONSOLE = console_caller()
PERSON = "Alvaro_Uribe"
LIMIT_S = 2.0


def test_a_search_cut_off_from_milvus_is_audited_as_failed(
    tmp_path: Path, milvus_uri: str, lfw_dev: Path
) -> None:
    relay = Relay(milvus_uri)
    settings = Settings.from_env(
        {"MOBILEID_VECTOR_TIMEOUT_S": str(LIMIT_S)},
        data_dir=tmp_path / "data",
        workers=1,
        vector_uri=relay.uri,
    )
    write_purposes(settings.data_dir)
    link_subjects(lfw_dev, tmp_path / "people", [PERSON], per_subject=2)
    gallery = "gone" + uuid.uuid4().hex[:8]  # the Milvus server is shared by the session
    ctx = open_context(settings)
    try:
        enrol_directory(ctx, CONSOLE, tmp_path / "people", gallery=gallery)
        probe = (lfw_dev / PERSON / f"{PERSON}_0003.jpg").read_bytes()
        reason = require_reason(ctx, CONSOLE, LIVE_PURPOSE, "CASE-0004")
        found = identify_face(ctx, CONSOLE, probe, reason=reason, galleries=[gallery])
        assert found.candidates[0].name == PERSON.replace("_", " ")
        before = len(list(ctx.audit.read()))
        relay.vanish()
        start = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"Milvus .* within 2 s"):
            identify_face(ctx, CONSOLE, probe, reason=reason, galleries=[gallery])
        took = time.monotonic() - start
        # the search ran out the setting's limit (pymilvus may try once more), not the default
        assert 0.9 * LIMIT_S <= took < 3 * LIMIT_S, took
        new = list(ctx.audit.read())[before:]
        assert [(e.event, e.outcome) for e in new] == [("search", "failed")]
        details = new[0].details
        assert details["error"] == "backend_unavailable" and details["galleries"] == [gallery]
        assert details["case_number"] == "CASE-0004" and details["purpose"] == LIVE_PURPOSE
        # the oversight report (the command) counts it among failed searches, by its cause
        today = datetime.now(UTC).date()
        window = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
        code, report = cli_json(
            "report", "oversight", *window, "--data-dir", str(tmp_path / "data")
        )
        assert code == 0 and report["searches"]["by_outcome"] == {"failed": 1, "ok": 1}
        assert report["searches"]["failure_reasons"] == {"backend_unavailable": 1}
    finally:
        relay.resume()
        time.sleep(breaker_for(relay.uri, relay.uri).retry_in_s())
        ctx.gallery.vectors.drop(Partition(gallery, ctx.pipeline.pipeline_id))
        ctx.close()
        relay.close()


def test_check_index_with_its_milvus_host_gone_gives_up_after_the_setting(
    tmp_path: Path, milvus_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mobileid admin check-index`` reads MOBILEID_VECTOR_TIMEOUT_S (1 s here) like the
    service: connecting to a vanished host ends after it with exit 12 naming Milvus."""
    relay = Relay(milvus_uri)
    relay.vanish()
    env = {"MOBILEID_VECTOR_URI": relay.uri, "MOBILEID_VECTOR_TIMEOUT_S": "1"}
    try:
        start = time.monotonic()
        code, _ = cli_json("admin", "check-index", "--data-dir", str(tmp_path / "d"), env=env)
        took = time.monotonic() - start
        err = capsys.readouterr().err
        assert code == 12 and f"Milvus at {relay.uri}" in err and "within 1 s" in err, err
        assert 0.9 <= took < 5.0, took  # 1 s, pymilvus's one retry, a new data folder
    finally:
        time.sleep(breaker_for(relay.uri, relay.uri).retry_in_s())  # a later relay's port
        relay.close()
