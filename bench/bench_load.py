"""Load test on loopback: ``make load`` (50 clients for 60 s); ``make test`` runs a short one.

The real service (``mobileid serve``, in its own process with its worker processes) runs on a
temporary data folder holding a live gallery of real faces from the shared data (``--people``
people, two photos each), a record source linking a record to each, and two certified
officers: one searches faces and records dispositions of its searches (scopes search_live,
record_disposition), the other runs super queries (search_live, view_record). ``--clients``
clients send requests one after another (after a 503, waiting as its Retry-After says) until
``--seconds`` have passed (or ``--max-requests`` were sent in all): face searches with a
third photo of an enrolled person, super queries by name, and dispositions of answered
searches, in the ratio 2:1:1 (a disposition needs an answered search; until one exists the
client searches).

Reported: p50/p95/p99 latency of answered requests per kind, answers by status, the audit
entries written during the run (every served request writes exactly one: an answered search,
query or disposition, and a refusal other than a full queue's 503), whether ``mobileid audit
verify`` passes afterwards, and the peak memory of the service and its workers. Passes when
no answer is a 5xx other than a counted 503, no request went unanswered, the new audit
entries equal the requests served, and the chain verifies. ``--json PATH`` writes the figures
for a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench_common import Figure, Section, latency, log, render, single
from http_common import Answer, Service, multipart, officer_token, request
from mobileid.config import Settings
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.records.model import PersonRecord, RecordType
from mobileid.records.registry import SourceEntry, SourceRegistry
from mobileid.service.caller import console_caller
from mobileid.service.config_audit import audit_config_changes
from mobileid.service.context import Context, open_context
from mobileid.service.enrol import enrol_directory

API = "/api/v1"
PURPOSE = "lead-check"
GALLERY = "field"
SOURCE = "registry"
DEFAULT_LFW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces" / "lfw-dev"


@dataclass
class Deployment:
    data_dir: Path
    probes: dict[str, bytes]  # person -> a photo that was not enrolled
    searcher: str  # API tokens
    querier: str


def _purposes(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    entry = {"code": PURPOSE, "description": "checking a lead (load test deployment)",
             "legal_authority": "Load Test Authority s.1"}  # fmt: skip
    (data_dir / "purposes.json").write_text(json.dumps({"purposes": [entry]}))


def build(root: Path, lfw: Path, people: int) -> Deployment:
    """Enrol ``people`` persons with at least three photos; link one record to each."""
    names = [p.name for p in sorted(lfw.iterdir()) if len(list(p.iterdir())) >= 3][:people]
    enrol = root / "enrol"
    probes = {}
    for name in names:
        photos = sorted((lfw / name).iterdir())
        (enrol / name).mkdir(parents=True)
        for photo in photos[:2]:
            (enrol / name / photo.name).symlink_to(photo)
        probes[name.replace("_", " ")] = photos[2].read_bytes()
    settings = replace(Settings.from_env(), data_dir=root / "data")
    _purposes(settings.data_dir)
    ctx = open_context(settings)
    try:
        enrol_directory(ctx, console_caller(), enrol, gallery=GALLERY)
        registry = SourceRegistry(settings.data_dir / "records")
        entry = SourceEntry(SOURCE, "Load test agency", "Load Test Authority s.2",
                            (RecordType.PERSON,), "deleted after the run", SOURCE)  # fmt: skip
        registry.register(entry)
        with registry.open_entry(entry) as source:
            source.add([PersonRecord(f"R-{i}", s.name, subject_id=s.subject_id, source=SOURCE)
                        for i, s in enumerate(ctx.gallery.subjects())])  # fmt: skip
        searcher = officer_token(ctx, "load-searcher", [GALLERY],
                                 ["search_live", "record_disposition"], certify=True)  # fmt: skip
        querier = officer_token(ctx, "load-querier", [GALLERY], ["search_live", "view_record"],
                                (SOURCE,), certify=True)  # fmt: skip
        # the deployment's purposes and bands are audited when first seen: here, not as
        # part of the first search under load
        audit_config_changes(ctx, console_caller())
    finally:
        close(ctx)
    return Deployment(settings.data_dir, probes, searcher, querier)


def close(ctx: Context) -> None:
    """Close everything the context opened, the gallery's database too (the service opens it
    next)."""
    if isinstance(ctx.gallery, EmbeddedGallery):
        ctx.gallery.close()
    ctx.close()


def audit_count(data_dir: Path) -> int:
    ctx = open_context(replace(Settings.from_env(), data_dir=data_dir))
    try:
        return len(ctx.audit.read())
    finally:
        close(ctx)


@dataclass
class Tally:
    answers: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    searches: list[tuple[str, str]] = field(default_factory=list)  # (search id, top subject)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0


def _face(port: int, dep: Deployment, rng: random.Random, tally: Tally) -> tuple[str, Answer]:
    name = rng.choice(sorted(dep.probes))
    fields = {"purpose": PURPOSE, "case": "LOAD-1", "galleries": GALLERY, "top": "5"}
    body, ctype = multipart(fields, {"image": dep.probes[name]})
    headers = {"Authorization": f"Bearer {dep.searcher}", "Content-Type": ctype}
    answer = request(port, "POST", f"{API}/searches/face", body, headers)
    if answer.status == 200:
        found = answer.json()
        if found["candidates"]:
            with tally.lock:
                tally.searches.append((found["search_id"], found["candidates"][0]["subject_id"]))
    return "face search", answer


def _query(port: int, dep: Deployment, rng: random.Random, _: Tally) -> tuple[str, Answer]:
    name = rng.choice(sorted(dep.probes))
    body = json.dumps({"purpose": PURPOSE, "case": "LOAD-2", "name": name})
    headers = {"Authorization": f"Bearer {dep.querier}", "Content-Type": "application/json"}
    return "super query", request(port, "POST", f"{API}/queries", body.encode(), headers)


def _disposition(
    port: int, dep: Deployment, rng: random.Random, tally: Tally
) -> tuple[str, Answer]:
    with tally.lock:
        done = list(tally.searches)
    if not done:
        return _face(port, dep, rng, tally)
    search_id, subject = rng.choice(done)
    body = json.dumps({"disposition": "confirmed", "subject_id": subject}).encode()
    headers = {"Authorization": f"Bearer {dep.searcher}", "Content-Type": "application/json"}
    path = f"{API}/searches/{search_id}/disposition"
    return "disposition", request(port, "POST", path, body, headers)


MIX = (_face, _face, _query, _disposition)


def client(port: int, dep: Deployment, seed: int, until: float, cap: int, tally: Tally) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        with tally.lock:
            if tally.sent >= cap:
                return
            tally.sent += 1
        kind, answer = rng.choice(MIX)(port, dep, rng, tally)
        with tally.lock:
            tally.answers[kind].append(answer)
        if answer.status == 503:  # as a well-behaved client does: wait as told
            time.sleep(min(answer.retry_after_s, max(0.0, until - time.monotonic())))


@dataclass(frozen=True)
class Outcome:
    served: int  # answers other than a full queue's 503
    busy: int
    server_errors: int  # 5xx other than 503
    no_answer: int
    refusals: int  # 4xx
    audit_new: int
    verified: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return (self.server_errors == 0 and self.no_answer == 0
                and self.audit_new == self.served and self.verified)  # fmt: skip


def _tracebacks(log_text: str, limit: int = 3) -> str:
    """The first ``limit`` tracebacks in the service's log: a 5xx must be explained."""
    found, lines, inside = 0, [], False
    for line in log_text.splitlines():
        if line.startswith("Traceback"):
            found += 1
            inside = found <= limit
        elif inside and not line.startswith((" ", "\t")):
            lines.append(line)
            inside = False
            continue
        if inside:
            lines.append(line)
    return "\n".join(lines)


def _verify(data_dir: Path) -> bool:
    """The whole chain against its witness (what `audit verify` runs; the command itself now
    wants an auditor's token once the deployment has operators)."""
    from mobileid.audit import open_deployment_audit_log
    from mobileid.config import Settings

    log = open_deployment_audit_log(Settings.from_env({}, data_dir=data_dir), create_key=False)
    try:
        return log.verify().ok
    finally:
        log.close()


def run(args: argparse.Namespace, root: Path) -> tuple[list[Section], Outcome]:
    log(f"load: enrolling {args.people} people from {args.lfw}")
    dep = build(root, args.lfw, args.people)
    before = audit_count(dep.data_dir)
    tally = Tally()
    load = os.getloadavg()[0]
    with Service(dep.data_dir) as service:
        log(f"load: service ready in {service.started_s:.1f} s; {args.clients} clients, "
            f"{args.seconds} s")  # fmt: skip
        t0 = time.perf_counter()
        until = time.monotonic() + args.seconds
        with ThreadPoolExecutor(args.clients) as pool:
            for i in range(args.clients):
                pool.submit(client, service.port, dep, i, until, args.max_requests, tally)
        wall = time.perf_counter() - t0
        peak, workers = service.peak_mib(), len(service.workers())
    faults = _tracebacks(service.log.read_text(errors="replace"))
    load_end = os.getloadavg()[0]
    new = audit_count(dep.data_dir) - before
    verified = _verify(dep.data_dir)
    answers = [a for kind in tally.answers.values() for a in kind]
    statuses = Counter(a.status for a in answers)
    busy = statuses[503]
    outcome = Outcome(
        served=sum(n for s, n in statuses.items() if s not in (0, 503)),
        busy=busy,
        server_errors=sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        no_answer=statuses[0],
        refusals=sum(n for s, n in statuses.items() if 400 <= s < 500),
        audit_new=new,
        verified=verified,
        seconds=wall,
    )
    sections = []
    for kind, got in sorted(tally.answers.items()):
        ok = [a.seconds for a in got if a.status == 200]
        sec = Section(f"{kind}: {len(got)} requests, {len(ok)} answered")
        if ok:
            fig = latency("latency of answered requests", ok)
            sec.notes["p99"] = f"{sorted(ok)[min(len(ok) - 1, int(0.99 * len(ok)))] * 1000:.0f} ms"
            sec.figures.append(fig)
        sec.figures.append(single("answered per second", "req/s", len(ok) / wall))
        sec.notes["statuses"] = dict(sorted(Counter(a.status for a in got).items()))
        sections.append(sec)
    total = Section(f"all: {args.clients} clients, {wall:.0f} s, {len(answers)} requests")
    total.figures.append(Figure("5xx other than 503, or no answer", "count",
                                value=float(outcome.server_errors + outcome.no_answer),
                                runs=len(answers), target="0",
                                passed=outcome.server_errors + outcome.no_answer == 0))  # fmt: skip
    total.figures.append(single("503 answers (queue full, counted)", "count", float(busy)))
    total.figures.append(Figure("new audit entries", "count", value=float(new), runs=1,
                                target=f"= requests served ({outcome.served})",
                                passed=new == outcome.served))  # fmt: skip
    total.figures.append(Figure("audit verify afterwards", "ok", value=float(verified), runs=1,
                                target="passes", passed=verified))  # fmt: skip
    total.figures.append(single("service peak RSS", "MiB", peak[0]))
    total.figures.append(single(f"worker processes' peak RSS ({workers})", "MiB", peak[1]))
    total.notes["load average (1 min) at start / end"] = f"{load:.2f} / {load_end:.2f}"
    if faults:
        total.notes["the service's log of its faults"] = "\n" + faults
    total.notes["cores"] = os.cpu_count()
    sections.append(total)
    return sections, outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long (60)")
    p.add_argument("--max-requests", type=int, default=20_000, help="cap on requests (20000)")
    p.add_argument("--people", type=int, default=8, help="people enrolled (8)")
    p.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="folder-per-person photos")
    p.add_argument("--json", type=Path, help="write the outcome here as JSON")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mobileid-load-") as tmp:
        sections, outcome = run(args, Path(tmp))
    print(render(sections))
    if args.json is not None:
        figures = {k: getattr(outcome, k) for k in outcome.__dataclass_fields__}
        args.json.write_text(json.dumps({**figures, "passed": outcome.passed}, indent=2))
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
