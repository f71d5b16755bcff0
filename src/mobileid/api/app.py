"""``create_app(settings)``: the HTTP service over the shared use cases.

Nothing happens at import. The app opens (or is given) one process-wide ``Context``; its
lifespan starts the worker processes of the CPU-bound stages (each loads the pipelines once)
and loads the calibrations (``readyz`` says when that is done). Each request resolves its own
``Caller`` from the bearer token and passes it to one use case, run in the bounded pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

import mobileid
from mobileid import NOTICE, __version__
from mobileid.api import (
    problems,
    routes_auth,
    routes_ops,
    routes_oversight,
    routes_review,
    routes_search,
    routes_training,
)
from mobileid.api.deps import Runtime
from mobileid.api.metrics import Metrics, MetricsMiddleware
from mobileid.api.options import ApiOptions
from mobileid.api.pool import WorkPool
from mobileid.api.security import BodyLimit, LoginLimiter, SecurityHeaders
from mobileid.api.workers import StageWorkers
from mobileid.config import Settings
from mobileid.errors import MobileIdError
from mobileid.service.context import Context, open_context
from mobileid.service.stages import MAX_PROBES

API = "/api/v1"
WEB_DIR = Path(mobileid.__file__).parent / "web"


def body_limits(settings: Settings, options: ApiOptions) -> dict[str, int]:
    """Largest body per POST route; anything else gets ``options.max_json_bytes``."""
    image = settings.limits.max_file_bytes
    form = 64 * 1024  # the text fields and multipart framing around the files
    return {
        f"{API}/searches/face": image + form,
        f"{API}/searches/fingers": image * MAX_PROBES + form,
        f"{API}/searches/person": image * (MAX_PROBES + 1) + form,
        f"{API}/capture/quality": routes_ops.PREVIEW_MAX_BYTES + form,
    }


def pool_threads(options: ApiOptions) -> int:
    """Requests run at once: twice the worker processes (see ``ApiOptions``), or one per
    thread when the stages run in the threads themselves."""
    return 2 * options.workers if options.stage_processes else options.workers


async def warm(rt: Runtime) -> None:
    """Start the worker processes and wait until each has loaded its pipelines; then load the
    calibrations, running once in every pool thread so that all of them have started."""
    options = rt.options
    if options.stage_processes and rt.pool.stages is None:
        settings = rt.ctx.settings
        stages = StageWorkers(options.workers, settings.face, settings.limits,
                              timeout_s=options.stage_timeout_s,
                              retry_after_s=options.retry_after_s)  # fmt: skip
        await asyncio.to_thread(stages.wait_ready)
        rt.pool.stages = rt.stages = stages
    threads = pool_threads(options)
    barrier = threading.Barrier(threads)

    def one() -> None:
        _ = rt.ctx.calibration, rt.ctx.finger_calibration
        barrier.wait(timeout=300)

    try:
        await asyncio.gather(*(rt.pool.run(one) for _ in range(threads)))
        rt.ready = True
    except MobileIdError:  # a missing calibration: readyz says not ready; searches say why
        rt.ready = False


def create_app(
    settings: Settings, *, context: Context | None = None, options: ApiOptions | None = None
) -> FastAPI:
    """The app for ``settings``; ``context`` shares an already opened one (tests), ``options``
    sets the pool, CORS and login limits (default: from the environment)."""
    options = options or ApiOptions.from_env()
    ctx = context or open_context(settings)
    holder: dict[str, Metrics] = {}
    pool = WorkPool(
        pool_threads(options),
        options.queue,
        retry_after_s=options.retry_after_s,
        on_stage=lambda stage, s: holder["m"].stage.labels(stage).observe(s),
    )
    metrics = holder["m"] = Metrics(ctx, lambda: pool.depth)
    limiter = LoginLimiter(options.login_per_address, options.login_window_s)
    rt = Runtime(ctx, pool, options, limiter, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Counted: one app may be run by more than one server (or test client) at a time,
        # and only the last one to stop may close what they share.
        rt.serving += 1
        if not rt.ready:
            await warm(rt)
        yield
        rt.serving -= 1
        if rt.serving == 0:
            pool.shutdown()
            if rt.stages is not None:
                rt.stages.close()
                rt.pool.stages = rt.stages = None
            if context is None:
                ctx.close()

    app = FastAPI(
        title="mobileid",
        version=__version__,
        description="Accountable mobile biometric identification. " + NOTICE,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the stock docs pages load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    routers = (routes_auth, routes_search, routes_review, routes_oversight, routes_ops,
               routes_training)  # fmt: skip
    for module in routers:
        app.include_router(module.router, prefix=API)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    limits = body_limits(settings, options)
    if options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit_for=lambda path: limits.get(path, options.max_json_bytes))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders, tls=options.tls)
    return app
