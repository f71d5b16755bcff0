"""Writes ``release-0.1/``: a data folder as release 0.1 (commit 5440a3b) left it, as text.

Run it with that release's code, not this one's, for example::

    git archive 5440a3b src | tar -x -C /tmp/rel01
    PYTHONPATH=/tmp/rel01/src .venv/bin/python tests/database/make_release_fixture.py

It enrols two synthetic subjects, adds an operator (in release 0.1's own ``operators.sqlite3``),
audits a search and the configuration, then dumps both SQLite files as SQL text and copies the
keys and the audit witness, so ``test_upgrade.py`` can rebuild the folder byte for byte without
keeping binary files in the repository.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
from argon2 import PasswordHasher

from mobileid.audit import AuditEvent, EventType
from mobileid.auth import AuthService, console_principal
from mobileid.config import Settings
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.caller import console_caller
from mobileid.service.config_audit import audit_config_changes
from mobileid.service.context import open_context

OUT = Path(__file__).with_name("release-0.1")
PID = "fixture-pipeline/1"
PASSWORD = "correct horse battery staple 0.1"
SEARCH_ID = "Qfixture0000001"


def main() -> None:
    data = Path(tempfile.mkdtemp()) / "data"
    ctx = open_context(Settings(data_dir=data))
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i, name in enumerate(("Ada Fixture", "Ben Fixture")):
        ctx.gallery.enrol("field", f"ref{i}", name, "fixture", [(f"{i:064x}", vectors[i])], PID)
    details = {"search_id": SEARCH_ID, "modality": "face", "best_band": "strong"}
    ctx.audit.record(AuditEvent(EventType.SEARCH, "console:fixture", "console", "identify",
                                details=details))  # fmt: skip
    audit_config_changes(ctx, console_caller())
    key = (data / "keys" / "deployment.key").read_bytes()
    auth = AuthService.open(
        data / "operators.sqlite3", key, events=AuditedAuthEvents(ctx.audit),
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )  # fmt: skip
    new = auth.add_operator(console_principal("fixture"), "alice", role="officer",
                            password=PASSWORD)  # fmt: skip
    auth.grant(console_principal("fixture"), "alice", gallery="field")
    auth.close()
    ctx.audit.close()
    ctx.close()
    _write(data, new.totp_secret)


def _write(data: Path, totp_secret: str) -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    for name in ("mobileid.sqlite3", "operators.sqlite3"):
        with closing(sqlite3.connect(data / name)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (OUT / name.replace(".sqlite3", ".sql")).write_text("\n".join(db.iterdump()) + "\n")
    (OUT / "deployment.key.hex").write_text((data / "keys" / "deployment.key").read_bytes().hex())
    for folder in ("keys", "audit-witness"):
        for path in sorted((data / folder).iterdir()):
            if path.name != "deployment.key" and not path.name.startswith("."):
                (OUT / f"{folder}--{path.name}").write_bytes(path.read_bytes())
    (OUT / "totp-secret.txt").write_text(totp_secret + "\n")


if __name__ == "__main__":
    main()
