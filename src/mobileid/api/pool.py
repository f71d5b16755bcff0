"""Blocking work off the event loop, in a bounded pool: a full queue is refused at once.

A request waits for a thread only while fewer than ``threads + queue`` requests are in the
pool; the next one gets ``ServiceBusy`` (503 with Retry-After) instead of joining an unbounded
backlog. A slot is released when the work ends, even if the client has gone. When ``stages``
is set (worker processes, :mod:`mobileid.api.workers`), each call's CPU-bound stages run
there, and the thread only checks, searches the gallery and writes the audit entry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mobileid.errors import ServiceBusy
from mobileid.service.stages import StageRunner, use_runner

T = TypeVar("T")


class WorkPool:
    def __init__(
        self,
        threads: int,
        queue: int,
        *,
        retry_after_s: int = 2,
        on_stage: Callable[[str, float], None] | None = None,
    ) -> None:
        if threads < 1 or queue < 0:
            raise ValueError(f"pool: expected threads >= 1 and queue >= 0, got {threads}, {queue}")
        self.capacity = threads + queue
        self.retry_after_s = retry_after_s
        self.stages: StageRunner | None = None  # None: the stages run in the pool's threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="mobileid-work")
        self._lock = threading.Lock()
        self._busy = 0
        self._on_stage = on_stage

    @property
    def depth(self) -> int:
        """Requests in the pool now (running or waiting)."""
        return self._busy

    def _take(self) -> None:
        with self._lock:
            if self._busy >= self.capacity:
                raise ServiceBusy(
                    f"service: expected a free worker or queue slot, got all {self.capacity} "
                    f"taken; try again in {self.retry_after_s} s",
                    retry_after_s=self.retry_after_s,
                )
            self._busy += 1

    def _release(self, _: object = None) -> None:
        with self._lock:
            self._busy -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a pool thread (its stages in ``stages``); ServiceBusy at once when
        the pool is full."""
        self._take()
        queued = time.perf_counter()

        def timed() -> T:
            started = time.perf_counter()
            use_runner(self.stages)
            try:
                return fn(*args)
            finally:
                if self._on_stage is not None:
                    self._on_stage("queue_wait", started - queued)
                    self._on_stage("work", time.perf_counter() - started)

        try:
            future = self._executor.submit(timed)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
