"""The scenario log, built once per session through the public audit API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mobileid.audit import AuditEntry, VerifyReport, open_audit_log
from mobileid.oversight import OversightReport, build_report
from tests.oversight.scenario import FROM, REGISTRY, TO, build_log


@dataclass(frozen=True)
class Built:
    data_dir: Path
    seqs: dict[str, int]
    entries: list[AuditEntry]
    chain: VerifyReport


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("oversight") / "data"
    seqs = build_log(data_dir)
    log = open_audit_log(data_dir, create_key=False)
    try:
        return Built(data_dir, seqs, log.read(), log.verify())
    finally:
        log.close()


@pytest.fixture(scope="session")
def report(built: Built) -> OversightReport:
    return build_report(
        built.entries, date_from=FROM, date_to=TO, chain=built.chain, sources=REGISTRY
    )
