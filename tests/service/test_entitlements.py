"""Entitlements of `identify finger`, `identify person` and the super query, as operators with
tokens meet them: galleries and sources not granted are refused (audited) or never reached,
training purposes reach only synthetic sources and live purposes only real ones. And the
changes a deployer makes (new galleries, sources registered and imported) and every view of a
subject are written to the real audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from mobileid.audit import AuditEntry, EventType
from mobileid.auth import AccessDenied, AuthService, console_principal
from mobileid.config import Settings
from mobileid.errors import NotFound
from mobileid.records.errors import ImportRejected
from mobileid.records.model import RecordType
from mobileid.records.query import make_query
from mobileid.records.registry import SourceEntry
from mobileid.service.access import caller_from_token
from mobileid.service.auth_audit import AuditedAuthEvents
from mobileid.service.caller import Caller, console_caller
from mobileid.service.context import Context, open_context
from mobileid.service.deployment_key import deployment_key
from mobileid.service.enrol import enrol_directory
from mobileid.service.finger_enrol import enrol_fingers
from mobileid.service.review import reference_photo, view_subject
from mobileid.service.searches import Where, Why, run_super_query, search_fingers, search_person
from mobileid.service.sources import import_into, register_source
from mobileid.service.training import certify_operator
from tests.auth.conftest import PASSWORD, fast_hasher
from tests.conftest import LIVE_PURPOSE, shared_path, write_purposes

CONSOLE = console_caller()
LIVE = Why(LIVE_PURPOSE, "CASE-E1")
PRACTICE = Why("training", "TR-E1")
# username: role, galleries, sources, token scope
OPERATORS = {
    "off1": ("officer", ["field", "range"], ["registry", "practice-people"],
             ["search_live", "search_training", "view_record"]),
    "off2": ("officer", ["field"], [], ["search_live", "view_record"]),
    "trn1": ("trainee", ["range", "field"], ["registry", "practice-people"], ["search_training"]),
}  # fmt: skip


@dataclass
class Site:
    ctx: Context
    callers: dict[str, Caller]
    subjects: dict[str, str]  # name -> subject id
    start: int  # the first audit entry of the set-up

    def entries(self, event: EventType, start: int = 1) -> list[AuditEntry]:
        return [e for e in self.ctx.audit.read(start) if e.event == event]

    def head(self) -> int:
        return self.ctx.audit.head().sequence


def _prints(root: Path, name: str, finger: int) -> None:
    (root / name).mkdir(parents=True)
    for k in (1, 2):
        src = shared_path("fingerprints", "FVC2002", "DB1_B", f"{finger}_{k}.tif")
        (root / name / f"{finger}_{k}.tif").symlink_to(src)


def _face(root: Path, name: str, person: str) -> None:
    (root / name).mkdir(parents=True)
    src = shared_path("faces", "lfw-dev", person, f"{person}_0001.jpg")
    (root / name / "1.jpg").symlink_to(src)


def _sources(ctx: Context, root: Path, subject_id: str) -> None:
    """A live source and a synthetic one, each holding a person record linked to one subject."""
    for name, synthetic in (("registry", False), ("practice-people", True)):
        entry = SourceEntry(name, "Test agency", "Test statute s.2", (RecordType.PERSON,),
                            "deleted after the test", name, synthetic=synthetic)  # fmt: skip
        register_source(ctx, CONSOLE, entry)
        rows = [{"record_type": "person", "record_id": f"{name}-1", "name": "Pat Example",
                 "subject_id": subject_id}]  # fmt: skip
        (root / f"{name}.json").write_text(json.dumps({"records": rows}))
        import_into(ctx, CONSOLE, name, root / f"{name}.json")


def _operators(ctx: Context) -> dict[str, str]:
    svc = AuthService(
        ctx.settings.main_database_url, deployment_key(ctx.settings),
        events=AuditedAuthEvents(ctx.audit), hasher=fast_hasher(),
    )  # fmt: skip
    ctx.use_auth(svc)
    root, tokens = console_principal("root"), {}
    for name, (role, galleries, sources, scope) in OPERATORS.items():
        new = svc.add_operator(root, name, role=role, password=PASSWORD)
        for g in galleries:
            svc.grant(root, name, gallery=g)
        for s in sources:
            svc.grant(root, name, source=s)
        logon = svc.logon(name, PASSWORD, pyotp.TOTP(new.totp_secret).now())
        tokens[name] = svc.issue_token(logon.principal, scope, expires_in=timedelta(hours=1)).token
    for name in ("off1", "off2"):
        certify_operator(ctx, CONSOLE, name, exempt="entitlement tests: certified elsewhere")
    return tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Live galleries "field" and "other", training gallery "range", each with a face and a
    finger per subject (chimeras, as in test_person); a live and a synthetic record source."""
    root = tmp_path_factory.mktemp("entitled")
    settings = replace(Settings(), data_dir=root / "data")
    write_purposes(settings.data_dir)
    ctx = open_context(settings)
    start = ctx.audit.head().sequence + 1
    layout = {"field": [("A", "Aaron_Peirsol", 101)], "other": [("B", "Abdullah_Gul", 102)],
              "range": [("C", "Adrien_Brody", 103)]}  # fmt: skip
    for gallery, people in layout.items():
        for name, person, finger in people:
            _face(root / gallery / "faces", name, person)
            _prints(root / gallery / "prints", name, finger)
        training = gallery == "range"
        enrol_directory(ctx, CONSOLE, root / gallery / "faces", gallery=gallery, training=training)
        enrol_fingers(ctx, CONSOLE, root / gallery / "prints", gallery=gallery, training=training)
    subjects = {s.name: s.subject_id for s in ctx.gallery.subjects()}
    _sources(ctx, root, subjects["A"])
    tokens = _operators(ctx)
    callers = {name: caller_from_token(ctx, token) for name, token in tokens.items()}
    yield Site(ctx, callers, subjects, start)
    ctx.close()


def _print(finger: int) -> bytes:
    return shared_path("fingerprints", "FVC2002", "DB1_B", f"{finger}_3.tif").read_bytes()


def _photo(person: str) -> bytes:
    return shared_path("faces", "lfw-dev", person, f"{person}_0002.jpg").read_bytes()


def test_identify_finger_keeps_to_the_operator_s_galleries(site: Site) -> None:
    """off1 finds finger 101 in "field"; "other" (not granted) is refused and audited; a
    training search never reaches a live gallery, nor a trainee a live purpose."""
    off1 = site.callers["off1"]
    found = search_fingers(site.ctx, off1, [_print(101)], LIVE, Where(("field",), 3))
    assert found.candidates[0].name == "A"
    before = site.head()
    with pytest.raises(AccessDenied, match="no entitlement to gallery 'other'"):
        search_fingers(site.ctx, off1, [_print(102)], LIVE, Where(("other",), 3))
    (denied,) = site.entries(EventType.ACCESS_DENIED, before + 1)
    assert (denied.operator, denied.details["gallery"]) == ("off1", "other")
    assert [e.event for e in site.ctx.audit.read(before + 1)] == ["access_denied"]
    with pytest.raises(NotFound, match="training galleries"):
        search_fingers(site.ctx, off1, [_print(101)], PRACTICE, Where(("field",), 3))
    with pytest.raises(AccessDenied, match="role trainee"):
        search_fingers(site.ctx, site.callers["trn1"], [_print(101)], LIVE, Where(("field",), 3))
    practice = search_fingers(
        site.ctx, site.callers["trn1"], [_print(103)], PRACTICE, Where(("range",), 3)
    )
    assert practice.candidates[0].name == "C"


def test_identify_person_keeps_to_the_operator_s_galleries(site: Site) -> None:
    """A face and prints searched together: off1 in "field" finds A; off2, granted "field"
    only, is refused "other" (audited); a trainee is refused the live purpose."""
    off1, off2 = site.callers["off1"], site.callers["off2"]
    found = search_person(
        site.ctx, off1, _photo("Aaron_Peirsol"), [_print(101)], LIVE, Where(("field",), 3)
    )
    assert found.candidates[0].name == "A"
    before = site.head()
    with pytest.raises(AccessDenied, match="no entitlement to gallery 'other'"):
        search_person(
            site.ctx, off2, _photo("Abdullah_Gul"), [_print(102)], LIVE, Where(("other",), 3)
        )
    (denied,) = site.entries(EventType.ACCESS_DENIED, before + 1)
    assert (denied.operator, denied.details["gallery"]) == ("off2", "other")
    with pytest.raises(AccessDenied):
        search_person(site.ctx, site.callers["trn1"], _photo("Aaron_Peirsol"), [_print(101)],
                      LIVE, Where(("field",), 3))  # fmt: skip


def _states(answer: object) -> dict[str, str]:
    return {o.source: o.state.value for o in answer.result.sources}  # type: ignore[attr-defined]


def test_the_super_query_reaches_real_sources_live_and_synthetic_ones_in_training(
    site: Site,
) -> None:
    """A live query reaches the live source only, a training one the synthetic source only;
    a source not granted is listed as not entitled; a trainee's live query is refused."""
    query = make_query(subject_id=site.subjects["A"])
    off1, off2, trn1 = site.callers["off1"], site.callers["off2"], site.callers["trn1"]
    live = run_super_query(site.ctx, off1, query, LIVE)
    assert _states(live) == {"registry": "answered", "practice-people": "not_entitled"}
    assert [h.record.record_id for h in live.result.hits] == ["registry-1"]
    practice = run_super_query(site.ctx, off1, query, PRACTICE)
    assert _states(practice) == {"registry": "not_entitled", "practice-people": "answered"}
    assert [h.record.record_id for h in practice.result.hits] == ["practice-people-1"]
    ungranted = run_super_query(site.ctx, off2, query, LIVE)
    assert set(_states(ungranted).values()) == {"not_entitled"} and not ungranted.result.hits
    with pytest.raises(AccessDenied):
        run_super_query(site.ctx, trn1, query, LIVE)
    trainee = run_super_query(site.ctx, trn1, query, PRACTICE)
    assert _states(trainee)["practice-people"] == "answered"
    assert _states(trainee)["registry"] == "not_entitled"
    logged = site.entries(EventType.SUPER_QUERY)
    assert [(e.operator, e.details["sources"]["registry"]) for e in logged[-4:]] == [
        ("off1", "answered"), ("off1", "not_entitled"), ("off2", "not_entitled"),
        ("trn1", "not_entitled"),
    ]  # fmt: skip


def test_new_galleries_and_sources_are_in_the_log(site: Site) -> None:
    """Each gallery created by enrolment left a gallery_change entry (name, kind); each
    source registered and imported a source_change entry (never its URL or records)."""
    created = site.entries(EventType.GALLERY_CHANGE, site.start)
    assert [(e.details["gallery"], e.details["training"]) for e in created] == [
        ("field", False), ("other", False), ("range", True),
    ]  # fmt: skip
    changes = site.entries(EventType.SOURCE_CHANGE, site.start)
    assert [(e.details["change"], e.details["source"] if "source" in e.details
             else e.details["name"]) for e in changes] == [
        ("registered", "registry"), ("import", "registry"),
        ("registered", "practice-people"), ("import", "practice-people"),
    ]  # fmt: skip
    assert changes[1].details["records"] == {"person": 1} and "url" not in changes[0].details
    assert changes[2].details["synthetic"] is True


def test_a_rejected_import_is_in_the_log(site: Site, tmp_path: Path) -> None:
    """A file refused whole leaves a refused source_change entry with its error count."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"records": [{"record_type": "person", "record_id": ""}]}))
    before = site.head()
    with pytest.raises(ImportRejected):
        import_into(site.ctx, CONSOLE, "registry", bad)
    (entry,) = site.entries(EventType.SOURCE_CHANGE, before + 1)
    assert (entry.outcome, entry.details["change"]) == ("refused", "import")
    assert entry.details["errors"] >= 1


def test_every_view_of_a_subject_is_a_record_view_entry(site: Site) -> None:
    """Viewing a subject and its reference photo writes one record_view entry each, naming
    the operator; a gallery not granted is refused before anything is read."""
    off1, off2 = site.callers["off1"], site.callers["off2"]
    before = site.head()
    view_subject(site.ctx, off1, site.subjects["A"])
    reference_photo(site.ctx, off1, site.subjects["A"], 1)
    with pytest.raises(AccessDenied):
        view_subject(site.ctx, off2, site.subjects["B"])
    views = site.entries(EventType.RECORD_VIEW, before + 1)
    assert [(e.operator, e.details["view"], e.details["subject_id"]) for e in views] == [
        ("off1", "subject", site.subjects["A"]),
        ("off1", "photo", site.subjects["A"]),
    ]
    assert site.ctx.audit.verify().ok
