"""Management and audit commands once a deployment has operators: each acts as the operator
of --token (role and scope decide), the local console keeps only the creation of the first
admin, and every refusal is in the real audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mobileid.audit import AuditEntry, open_audit_log
from mobileid.config import Settings
from mobileid.service.context import open_context
from tests.conftest import ADMIN_PASSWORD, cli_json, first_admin_token, operator_with_token

PASSWORD = "an operator's long passphrase"
DAY = "2026-01-01"


def entries(data: Path, start: int = 1) -> list[AuditEntry]:
    log = open_audit_log(data)
    try:
        return log.read(start)
    finally:
        log.close()


def head(data: Path) -> int:
    found = entries(data)
    return found[-1].sequence if found else 0


def operator_token(data: Path, admin: str, name: str, role: str, scope: str) -> str:
    """An operator added by the admin's token, and an API token of its own."""
    return operator_with_token(data, name, role, scope, admin=admin, password=PASSWORD)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A deployment with two subjects (synthetic vectors), an officer created from the console
    before anyone else, then the first admin, an auditor and a supervisor."""
    data = tmp_path_factory.mktemp("mgmt") / "data"
    ctx = open_context(Settings(data_dir=data))
    ids = []
    for i in range(2):
        v = np.random.default_rng(i).normal(size=128).astype(np.float32)
        subject, _ = ctx.gallery.enrol(
            "custody", f"r{i}", f"N{i}", "t", [(f"h{i}", v / np.linalg.norm(v))], "test/1"
        )
        ids.append(subject.subject_id)
    ctx.close()
    d = ["--data-dir", str(data)]
    env = {"MOBILEID_PASSWORD": PASSWORD}
    # A fresh install: the console may add anyone while there is no operator at all.
    code, added = cli_json("operators", "add", "off1", "--role", "officer", *d, env=env)
    assert code == 0, added
    admin = first_admin_token(data, "adm1")
    tokens = {
        "admin": admin,
        "auditor": operator_token(data, admin, "aud1", "auditor", "read_audit,export_audit"),
        "supervisor": operator_token(data, admin, "sup1", "supervisor", "run_report"),
        "reporter": operator_token(data, admin, "aud2", "auditor", "run_report"),
        "narrow": operator_token(data, admin, "adm2", "admin", "manage_operators"),
    }
    return {"data": data, "d": d, "tokens": tokens, "subjects": ids}


def test_console_keeps_only_the_first_admin(site: dict[str, Any]) -> None:
    """Once operators exist the console is refused (exit 9, audited as console_refused) for
    everything but creating an admin while none is active; that one it may still do."""
    d, data = site["d"], site["data"]
    env = {"MOBILEID_PASSWORD": ADMIN_PASSWORD}
    before = head(data)
    code, err = cli_json("operators", "add", "adm9", "--role", "admin", *d, env=env)
    assert code == 9 and "may only create the first admin" in err["error"]["message"]
    code, err = cli_json("operators", "grant", "off1", "--gallery", "custody", *d)
    assert code == 9 and err["error"]["field"] == "token"
    denied = [e for e in entries(data, before + 1) if e.event == "access_denied"]
    assert [(e.operator.startswith("os:"), e.role, e.details["action"]) for e in denied] == [
        (True, "console", "operators add"),
        (True, "console", "operators grant"),
    ]
    assert all(e.details["reason"] == "console_refused" for e in denied)


def test_operators_add_refuses_before_asking_for_a_password(site: dict[str, Any]) -> None:
    """A refused console is not prompted: the refusal comes first, nothing is created."""
    code, err = cli_json("operators", "add", "nobody", "--role", "officer", *site["d"])
    assert code == 9 and err["error"]["code"] == "authentication_failed"
    code, listed = cli_json("operators", "list", *site["d"])
    assert "nobody" not in {o["username"] for o in listed["operators"]}


# (command, who may run it, someone whose role or token scope may not)
MATRIX = [
    (["audit", "show", "--limit", "3"], "auditor", "supervisor", "read_audit"),
    (["audit", "verify"], "auditor", "admin", "read_audit"),
    (["audit", "export", "{tmp}/export"], "auditor", "reporter", "export_audit"),
    (["report", "oversight", "--from", DAY, "--to", DAY], "supervisor", "admin", "run_report"),
    (["report", "oversight", "--from", DAY, "--to", DAY], "reporter", "auditor", "run_report"),
    (["admin", "retention"], "admin", "auditor", "manage_galleries"),
    (["admin", "retention", "custody", "--hours", "12"], "admin", "narrow", "manage_galleries"),
    (["admin", "purge"], "admin", "supervisor", "manage_galleries"),
    (["subjects", "delete", "{subject}"], "admin", "auditor", "manage_galleries"),
    (["operators", "disable", "off1"], "admin", "auditor", "manage_operators"),
    (["operators", "grant", "aud1", "--gallery", "custody"], "narrow", "auditor",
     "manage_operators"),
    (["admin", "rotate-key"], "admin", "narrow", "manage_galleries"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "allowed", "refused", "action"), MATRIX)
def test_management_commands_act_as_the_tokens_operator(
    site: dict[str, Any], tmp_path: Path, argv: list[str], allowed: str, refused: str, action: str
) -> None:
    """Without a token: exit 9, audited; with a token whose role or scope does not allow it:
    exit 8, audited as that operator; with the right one: done, recorded as that operator."""
    d, data, tokens = site["d"], site["data"], site["tokens"]
    argv = [a.format(tmp=tmp_path, subject=site["subjects"][0]) for a in argv]
    what = " ".join(argv[:2])
    before = head(data)
    code, err = cli_json(*argv, *d)
    assert code == 9, err
    denied = entries(data, before + 1)
    assert [(e.event, e.details.get("action")) for e in denied] == [("access_denied", what)]

    before = head(data)
    code, err = cli_json(*argv, "--token", tokens[refused], *d)
    assert code == 8, err
    assert err["error"]["code"] == "access_denied"
    (denial,) = [e for e in entries(data, before + 1) if e.event == "access_denied"]
    assert denial.details["action"] == action and denial.operator != "os:"

    before = head(data)
    code, out = cli_json(*argv, "--token", tokens[allowed], *d)
    assert code == 0, out
    acted = entries(data, before + 1)
    assert acted or argv == ["admin", "retention"]  # listing the rules changes nothing
    assert all(not e.operator.startswith("os:") for e in acted)
    assert {e.role for e in acted} <= {"auditor", "supervisor", "admin"}


def test_revoke_token_from_the_command_line(site: dict[str, Any]) -> None:
    """The owner revokes its own token with it; the revoked token is then refused (exit 9)
    and the refusal is audited as token_revoked; revoking another's token needs an admin."""
    d, data, admin = site["d"], site["data"], site["tokens"]["admin"]
    mine = operator_token(data, admin, "aud5", "auditor", "read_audit")
    other = operator_token(data, admin, "aud6", "auditor", "read_audit")
    assert cli_json("audit", "show", "--limit", "1", "--token", mine, *d)[0] == 0
    ids = _token_ids(data)
    code, err = cli_json("operators", "revoke-token", ids["aud6"], "--token", mine, *d)
    assert code == 8 and "manage_operators" in err["error"]["message"]
    code, out = cli_json("operators", "revoke-token", ids["aud5"], "--token", mine, *d)
    assert code == 0 and out == {"revoked": ids["aud5"]}
    before = head(data)
    code, err = cli_json("audit", "show", "--token", mine, *d)
    assert code == 9 and err["error"]["code"] == "token_refused"
    (refusal,) = entries(data, before + 1)
    assert (refusal.event, refusal.operator, refusal.details["reason"]) == (
        "access_denied",
        "aud5",
        "token_revoked",
    )
    code, out = cli_json("operators", "revoke-token", ids["aud6"], "--token", admin, *d)
    assert code == 0
    revoked = [e for e in entries(data) if e.event == "token_revoked"]
    assert [(e.operator, e.details["owner"]) for e in revoked[-2:]] == [
        ("aud5", "aud5"),
        ("adm1", "aud6"),
    ]
    assert cli_json("audit", "show", "--token", other, *d)[0] == 9


def _token_ids(data: Path) -> dict[str, str]:
    """Each operator's latest token id, as `operators token` logged it."""
    return {e.operator: e.details["token_id"] for e in entries(data) if e.event == "token_issued"}


def test_operators_add_without_a_terminal_says_how_to_give_the_password(tmp_path: Path) -> None:
    """No terminal and no MOBILEID_PASSWORD: exit 2 naming the variable, no traceback, nobody
    created (a real process, with no controlling terminal and stdin at end of file)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MOBILEID_PASSWORD", "MOBILEID_TOTP")}
    argv = [sys.executable, "-m", "mobileid.cli.main", "operators", "add", "alice", "--role",
            "admin", "--data-dir", str(tmp_path / "data")]  # fmt: skip
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        start_new_session=True,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "MOBILEID_PASSWORD" in done.stderr and "Traceback" not in done.stderr
    token = [*argv[:4], "token", "alice", "--scope", "manage_operators", *argv[-2:]]
    done = subprocess.run(
        token, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        start_new_session=True,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    code, listed = cli_json("operators", "list", "--data-dir", str(tmp_path / "data"))
    assert code == 0 and listed["operators"] == []


def test_an_auditor_verifies_the_log_after_the_deployment_key_is_lost(tmp_path: Path) -> None:
    """The deployment key seals TOTP secrets, not the audit log: with it gone (sealed rows
    still naming it), an auditor's token still verifies the log; without a token, refused."""
    data = tmp_path / "data"
    admin = first_admin_token(data)
    auditor = operator_token(data, admin, "aud1", "auditor", "read_audit")
    key = data / "keys" / "deployment.key"
    key.rename(tmp_path / "elsewhere.key")
    d = ["--data-dir", str(data)]
    code, report = cli_json("audit", "verify", "--token", auditor, *d)
    assert code == 0 and report["ok"] is True, report
    assert cli_json("audit", "verify", *d)[0] == 9
    assert not key.exists()  # no new key was made in its place
