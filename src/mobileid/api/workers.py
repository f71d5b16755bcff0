"""Worker processes for the CPU-bound stages of a search (a :class:`StageRunner`).

dlib holds the GIL while it detects and embeds, so threads alone give no more throughput
with more clients. Each worker is a separate process that loads the face and finger
pipelines once, at start, then runs one stage at a time for whichever pool thread holds it.
Only the stages cross the process boundary (the image bytes go in, an embedding or templates
come back); access checks, the gallery search and the audit entry stay in the service.

A worker that dies (killed, out of memory, a crash inside a native library) or overruns
``timeout_s`` is stopped and replaced; only the request it was running fails, with
``WorkerLost`` (503 with Retry-After), which the use case audits as a failed search. Each
worker is a fresh interpreter (:mod:`mobileid.service.stage_worker`) talking over two pipes:
forking a server that already runs threads and holds database connections is not safe, and
``multiprocessing``'s spawn would re-run the caller's main module in every worker.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from mobileid.config import CaptureLimits, FaceParams
from mobileid.errors import WorkerLost
from mobileid.service.stages import Extracted
from mobileid.types import FaceEmbedding


class _Lost(Exception):
    """The worker process stopped answering (died, or overran its time limit)."""


class _Worker:
    """One worker process and this side of its pipes; used by one thread at a time."""

    def __init__(self, face: FaceParams, limits: CaptureLimits) -> None:
        their_in, my_out = os.pipe()
        my_in, their_out = os.pipe()
        cmd = [sys.executable, "-m", "mobileid.service.stage_worker", str(their_in),
               str(their_out)]  # fmt: skip
        self.process = subprocess.Popen(
            cmd, pass_fds=(their_in, their_out), stdin=subprocess.DEVNULL
        )
        os.close(their_in)  # so that this side sees EOF when the worker dies
        os.close(their_out)
        self.outbox = Connection(my_out, readable=False)
        self.inbox = Connection(my_in, writable=False)
        self.outbox.send((face, limits))
        self.ready = False

    def _receive(self, timeout_s: float) -> Any:
        try:
            if not self.inbox.poll(timeout_s):
                raise _Lost(f"no answer within {timeout_s:g} s")
            return self.inbox.recv()
        except (EOFError, OSError) as exc:
            raise _Lost(f"worker process stopped ({self._exit()})") from exc

    def _exit(self) -> str:
        try:
            code = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def wait_ready(self, timeout_s: float) -> None:
        if not self.ready:
            self._receive(timeout_s)
            self.ready = True

    def call(self, kind: str, args: tuple[object, ...], timeout_s: float) -> Any:
        try:
            self.outbox.send((kind, args))
        except (OSError, ValueError) as exc:
            raise _Lost(f"worker process stopped ({self._exit()})") from exc
        status, value = self._receive(timeout_s)
        if status == "ok":
            return value
        if status == "error":
            raise value
        raise RuntimeError(f"stage {kind} failed in a worker process: {value}")

    def stop(self, timeout_s: float = 5.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.outbox.send(None)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.outbox.close()
        self.inbox.close()


class StageWorkers:
    """``count`` worker processes; a thread takes an idle one for each stage it runs."""

    def __init__(
        self,
        count: int,
        face: FaceParams,
        limits: CaptureLimits,
        *,
        timeout_s: float = 120.0,
        start_timeout_s: float = 300.0,
        retry_after_s: int = 2,
    ) -> None:
        if count < 1:
            raise ValueError(f"workers: expected at least 1 process, got {count}")
        self._face, self._limits = face, limits
        self.timeout_s, self.start_timeout_s = timeout_s, start_timeout_s
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._all = [_Worker(face, limits) for _ in range(count)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for worker in self._all:
            self._idle.put(worker)
        self.replaced = 0  # workers that died or overran and were replaced

    def wait_ready(self) -> None:
        """Block until every worker has loaded its pipelines (raises if one could not)."""
        for worker in list(self._all):
            try:
                worker.wait_ready(self.start_timeout_s)
            except _Lost as exc:
                raise RuntimeError(
                    f"a worker process could not load the pipelines: {exc}"
                ) from None

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all]

    def face(self, data: bytes, field: str) -> FaceEmbedding:
        embedding: FaceEmbedding = self._call("face", (data, field))
        return embedding

    def fingers(
        self, images: Sequence[bytes], contactless: bool, ppi: float | None, field: str
    ) -> Extracted:
        extracted: Extracted = self._call("fingers", (list(images), contactless, ppi, field))
        return extracted

    def _call(self, kind: str, args: tuple[object, ...]) -> Any:
        worker = self._idle.get()
        try:
            worker.wait_ready(self.start_timeout_s)
            result = worker.call(kind, args, self.timeout_s)
        except _Lost as exc:
            self._replace(worker)
            raise WorkerLost(
                f"service: expected the worker process to finish the {kind} stages, got: "
                f"{exc}; it was replaced and nothing was stored: try again",
                retry_after_s=self.retry_after_s,
            ) from None
        except BaseException:
            self._idle.put(worker)
            raise
        self._idle.put(worker)
        return result

    def _replace(self, lost: _Worker) -> None:
        """A fresh worker in place of ``lost`` (it loads its pipelines while others work)."""
        lost.stop(timeout_s=1.0)
        fresh = _Worker(self._face, self._limits)
        with self._lock:
            self._all = [fresh if w is lost else w for w in self._all]
            self.replaced += 1
        self._idle.put(fresh)

    def close(self) -> None:
        """Stop every worker (the pool's threads have finished by now)."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()
