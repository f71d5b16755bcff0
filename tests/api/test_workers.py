"""The face stages of HTTP searches run in worker processes: the answers are those of the
command line (which runs them in process), and a worker that dies or overruns is replaced
while its request gets a 503 that is audited once."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mobileid.api import ApiOptions, create_app
from mobileid.api.workers import StageWorkers
from mobileid.cli.main import main
from mobileid.errors import InvalidArgument, NoFaceFound, WorkerLost
from mobileid.service.stages import embed_face_bytes
from tests.api.conftest import API, Deployment, assert_problem, search_form
from tests.conftest import LIVE_PURPOSE

SAME = ("subject_id", "name", "gallery", "score", "fmr", "band", "rank")


def _face(client: TestClient, d: Deployment, photo: bytes) -> Any:
    files = {"image": ("probe.jpg", photo, "image/jpeg")}
    return client.post(
        f"{API}/searches/face", headers=d.headers("off1"), files=files, data=search_form()
    )


def test_the_api_answers_as_the_command_line(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same probe gives the same candidates, scores, bands and quality through the API
    (stages in a worker process) as through `mobileid identify face --json` (in process)."""
    probe = deployment.lfw / "Bill_Clinton" / "Bill_Clinton_0005.jpg"
    answer = _face(deployment.client, deployment, probe.read_bytes())
    assert answer.status_code == 200, answer.text
    argv = ["identify", "face", str(probe), "--purpose", LIVE_PURPOSE, "--case", "CASE-A1",
            "--gallery", "field", "--json", "--data-dir", str(deployment.settings.data_dir),
            "--token", deployment.tokens["off1"]]  # fmt: skip
    assert main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    api = answer.json()
    assert api["candidates"] and api["candidates"][0]["name"] == "Bill Clinton"
    assert [{k: c[k] for k in SAME} for c in api["candidates"]] == [
        {k: c[k] for k in SAME} for c in cli["candidates"]
    ]
    for key in ("pipeline_id", "quality", "faces_seen", "gallery_sizes", "thresholds"):
        assert api[key] == cli[key], key


@pytest.fixture(scope="module")
def one_worker(deployment: Deployment) -> Any:
    """A second app on the test deployment with one worker process and no queue."""
    options = ApiOptions(workers=1, queue=0, login_per_address=1000)
    app = create_app(deployment.settings, context=deployment.ctx, options=options)
    with TestClient(app) as client:
        yield client, app.state.runtime


def test_a_killed_worker_is_replaced_and_its_search_audited_once(
    deployment: Deployment, one_worker: Any
) -> None:
    """A search whose worker process is killed gets 503 worker_lost with Retry-After and one
    audit entry (failed); the worker is replaced and the next search is answered."""
    client, rt = one_worker
    (pid,) = rt.stages.pids()
    os.kill(pid, signal.SIGKILL)
    before = deployment.audit_count()
    photo = deployment.photo("Bill_Clinton", 5)
    body = assert_problem(_face(client, deployment, photo), 503, "worker_lost")
    assert "replaced" in body["detail"]
    entries = deployment.ctx.audit.read()[before:]
    assert [(e.event, e.outcome, e.operator) for e in entries] == [("search", "failed", "off1")]
    assert entries[0].details["error"] == "worker_lost"
    assert rt.stages.pids() != [pid] and rt.stages.replaced == 1
    again = _face(client, deployment, photo)
    assert again.status_code == 200, again.text
    assert again.json()["candidates"][0]["name"] == "Bill Clinton"


def test_a_worker_over_its_time_limit_is_stopped_and_replaced(deployment: Deployment) -> None:
    """A stage running past the time limit stops its worker with WorkerLost (503); the fresh
    worker then answers, and refusals cross the process boundary with their type and field."""
    settings = deployment.settings
    photo = deployment.photo("Bill_Clinton", 5)
    workers = StageWorkers(1, settings.face, settings.limits, timeout_s=0.01)
    try:
        workers.wait_ready()
        (first,) = workers.pids()
        with pytest.raises(WorkerLost) as lost:
            workers.face(photo, "image")
        assert lost.value.retry_after_s >= 1 and workers.pids() != [first]
        workers.timeout_s = 120.0
        got = workers.face(photo, "image")
        here = embed_face_bytes(deployment.ctx.pipeline, settings.limits, photo, "image")
        assert (got.vector == here.vector).all() and got.quality == here.quality
        with pytest.raises(NoFaceFound) as there:
            workers.face(_no_face(), "probe")
        with pytest.raises(NoFaceFound) as here_too:
            embed_face_bytes(deployment.ctx.pipeline, settings.limits, _no_face(), "probe")
        assert (there.value.message, there.value.field) == (here_too.value.message, "image")
    finally:
        workers.close()


def _no_face() -> bytes:
    """A real photo without a face: a flat grey JPEG large enough to pass the size gates."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (128, 128, 128)).save(out, "JPEG")
    return out.getvalue()


def test_options_default_to_one_worker_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MOBILEID_API_WORKERS the service starts one worker process per CPU it may use;
    MOBILEID_API_PROCESSES=0 keeps the stages in its threads."""
    monkeypatch.delenv("MOBILEID_API_WORKERS", raising=False)
    monkeypatch.delenv("MOBILEID_API_PROCESSES", raising=False)
    default = ApiOptions.from_env()
    assert default.workers == len(os.sched_getaffinity(0)) and default.stage_processes
    monkeypatch.setenv("MOBILEID_API_PROCESSES", "0")
    monkeypatch.setenv("MOBILEID_API_WORKERS", "3")
    options = ApiOptions.from_env()
    assert options.stage_processes is False and options.workers == 3


@pytest.mark.parametrize(
    ("name", "raw", "wanted"),
    [
        ("MOBILEID_API_WORKERS", "two", "expected a whole number >= 1, got 'two'"),
        ("MOBILEID_API_WORKERS", "0", "expected a whole number >= 1, got '0'"),
        ("MOBILEID_API_QUEUE", "-1", "expected a whole number >= 0, got '-1'"),
        ("MOBILEID_API_PROCESSES", "yes", "expected 0 (threads) or 1 (worker processes)"),
    ],
)
def test_service_options_out_of_range_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, wanted: str
) -> None:
    """Before: 'two' stopped the service with a traceback, and 'yes' was silently ignored."""
    monkeypatch.setenv(name, raw)
    with pytest.raises(InvalidArgument) as info:
        ApiOptions.from_env()
    assert info.value.field == name and wanted in str(info.value)
