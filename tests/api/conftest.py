"""One deployment for every API test: a live gallery ("field"), a training gallery ("range"),
a live record source linked to an enrolled subject, an operator of each role, and the app
served by Starlette's TestClient (started once per test session)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from mobileid.api import ApiOptions, create_app
from mobileid.auth import AuthService, console_principal
from mobileid.auth.crypto import load_or_create_key
from mobileid.config import Settings
from mobileid.records.model import PersonRecord, RecordType
from mobileid.records.registry import SourceEntry, SourceRegistry
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.caller import console_caller
from mobileid.service.context import Context, open_context
from mobileid.service.enrol import enrol_directory
from mobileid.service.training import certify_operator
from tests.auth.conftest import PASSWORD, fast_hasher
from tests.conftest import LIVE_PURPOSE, link_subjects, write_purposes

API = "/api/v1"
ROOT = console_principal("root")

# username: (role, galleries, sources, token scopes)
OPERATORS: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "off1": ("officer", ["field"], ["registry"],
             ["search_live", "record_disposition", "view_record"]),
    "off2": ("officer", ["field"], [], ["search_live"]),
    "sup1": ("supervisor", ["field"], ["registry"], ["review", "run_report", "view_record"]),
    "aud1": ("auditor", [], [], ["read_audit", "run_report"]),
    "adm1": ("admin", [], [], ["manage_galleries"]),
    "trn1": ("trainee", ["range"], [], ["search_training"]),
    "off3": ("officer", ["field", "range"], ["registry"],
             ["search_live", "search_training", "view_record"]),  # never certified
    "sup2": ("supervisor", [], [], ["certify_operators", "review"]),
    # a trainee granted a live gallery and source by mistake: still never reaches them
    "trn2": ("trainee", ["range", "field"], ["registry"], ["search_training"]),
    "off4": ("officer", ["field"], [], ["search_live", "view_record"]),  # no record source
    "off5": ("officer", ["range"], [], ["record_disposition"]),  # not entitled to "field"
    # the practice searches of fingers and persons (their own record, counted by those tests)
    "trn3": ("trainee", ["range"], [], ["search_training"]),
}  # fmt: skip
CERTIFIED = ("off1", "off2", "off4")  # exempted at set-up: their tests search live data


@dataclass
class Deployment:
    client: TestClient
    ctx: Context
    settings: Settings
    lfw: Path
    subjects: dict[str, str]  # display name -> subject id
    tokens: dict[str, str]  # username -> API token
    totp: dict[str, str]  # username -> TOTP secret
    auth: AuthService

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def photo(self, name: str, n: int) -> bytes:
        return (self.lfw / name / f"{name}_{n:04d}.jpg").read_bytes()

    def login(self, username: str) -> dict[str, Any]:
        code = pyotp.TOTP(self.totp[username]).now()
        body = {"username": username, "password": PASSWORD, "totp": code}
        answer = self.client.post(f"{API}/auth/login", json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def audit_count(self) -> int:
        return len(self.ctx.audit.read())

    def gallery_count(self) -> int:
        return sum(self.ctx.gallery.count(g) for g in self.ctx.gallery.galleries())


def search_form(purpose: str = LIVE_PURPOSE, case: str = "CASE-A1", **extra: Any) -> dict[str, Any]:
    return {"purpose": purpose, "case": case, "galleries": ["field"], **extra}


def _records(settings: Settings, subject_id: str) -> None:
    registry = SourceRegistry(settings.data_dir / "records")
    entry = SourceEntry(
        "registry", "Test agency", "Test statute s.2", (RecordType.PERSON,),
        "deleted after the test", "registry",
    )  # fmt: skip
    registry.register(entry)
    with registry.open_entry(entry) as source:
        source.add([PersonRecord("R-1", "Bill Clinton", subject_id=subject_id, source="registry")])


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("api")
    link_subjects(lfw_dev, root / "live", ["Bill_Clinton", "Carlos_Menem"], per_subject=2)
    link_subjects(lfw_dev, root / "range", ["Colin_Powell"], per_subject=2)
    settings = replace(Settings(), data_dir=root / "data", workers=1)
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    console = console_caller()
    enrol_directory(ctx, console, root / "live", gallery="field")
    enrol_directory(ctx, console, root / "range", gallery="range", training=True)
    subjects = {s.name: s.subject_id for s in ctx.gallery.subjects()}
    _records(settings, subjects["Bill Clinton"])
    key = load_or_create_key(settings.deployment_key_path)
    auth = AuthService(ctx.engine, key, events=AuditedAuthEvents(ctx.audit), hasher=fast_hasher())
    ctx.use_auth(auth)
    tokens, totp = {}, {}
    for name, (role, galleries, sources, scope) in OPERATORS.items():
        new = auth.add_operator(ROOT, name, role=role, password=PASSWORD, unit="unit-7")
        for g in galleries:
            auth.grant(ROOT, name, gallery=g)
        for s in sources:
            auth.grant(ROOT, name, source=s)
        totp[name] = new.totp_secret
        # The previous step's code (accepted within the allowed drift), so that a test may
        # still log on with the current one: a code, once used, never opens a second session.
        earlier = pyotp.TOTP(new.totp_secret).at(time.time() - 30)
        logon = auth.logon(name, PASSWORD, earlier)
        tokens[name] = auth.issue_token(logon.principal, scope, expires_in=timedelta(hours=2)).token
        auth.logout(logon.session_token)
    for name in CERTIFIED:
        certify_operator(ctx, console, name, exempt="API test deployment: live-search tests")
    options = ApiOptions(workers=2, queue=2, login_per_address=1000)
    app = create_app(settings, context=ctx, options=options)
    with TestClient(app) as client:
        yield Deployment(client, ctx, settings, lfw_dev, subjects, tokens, totp, auth)


def assert_problem(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A problem+json answer with this status (and stable code)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = dict(answer.json())
    assert body["status"] == status and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body
