"""Prometheus metrics of one app (its own registry, so several apps never share counters).

Labels hold route templates (``/api/v1/subjects/{subject_id}``), methods, statuses, stage and
gallery names: never a subject id, an operator, a case number or anything else personal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mobileid.service.context import Context

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class _Galleries(Collector):
    """Gallery sizes, read when scraped."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "mobileid_gallery_embeddings", "face embeddings per gallery", labels=["gallery"]
        )
        for name in self.ctx.gallery.galleries():
            family.add_metric([name], self.ctx.gallery.count(name))
        yield family


class Metrics:
    def __init__(self, ctx: Context, depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mobileid_http_requests", "answers by route, method and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "mobileid_http_request_seconds", "time to answer, by route", ["route"],
            buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.stage = Histogram(
            "mobileid_stage_seconds", "time per stage (queue_wait, work)", ["stage"],
            buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        depth_gauge = Gauge("mobileid_work_queue_depth", "requests in the work pool", registry=r)
        depth_gauge.set_function(lambda: float(depth()))
        r.register(_Galleries(ctx))


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            m = self.metrics
            m.requests.labels(label_of(scope), scope["method"], str(status)).inc()
            m.latency.labels(label_of(scope)).observe(time.perf_counter() - started)


def label_of(scope: Scope) -> str:
    """The route template (an included route's path lacks the /api/v1 prefix), "static" for
    the phone app's files, "unmatched" for anything else: never the raw path."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if not scope["path"].startswith("/api/"):
        return "static"
    return "/api/v1" + str(getattr(route, "path", ""))
