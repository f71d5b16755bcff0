"""A face search whose Milvus host vanishes while the galleries are searched: the operator
gets BackendUnavailable, and the search still leaves its one audit entry, as failed."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
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
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes
from tests.gallery.relay import Relay

CONSOLE = console_caller()
PERSON = "Alvaro_Uribe"


def test_a_search_cut_off_from_milvus_is_audited_as_failed(
    tmp_path: Path, milvus_uri: str, lfw_dev: Path
) -> None:
    relay = Relay(milvus_uri)
    settings = replace(Settings(), data_dir=tmp_path / "data", workers=1, vector_uri=relay.uri)
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
        with pytest.raises(BackendUnavailable, match="Milvus"):
            identify_face(ctx, CONSOLE, probe, reason=reason, galleries=[gallery])
        new = list(ctx.audit.read())[before:]
        assert [(e.event, e.outcome) for e in new] == [("search", "failed")]
        details = new[0].details
        assert details["error"] == "backend_unavailable" and details["galleries"] == [gallery]
        assert details["case_number"] == "CASE-0004" and details["purpose"] == LIVE_PURPOSE
    finally:
        relay.resume()
        time.sleep(breaker_for(relay.uri, relay.uri).retry_in_s())
        ctx.gallery.vectors.drop(Partition(gallery, ctx.pipeline.pipeline_id))
        ctx.close()
        relay.close()
