"""Settings of the HTTP service alone (the rest come from ``mobileid.config.Settings``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mobileid.errors import InvalidArgument


def default_workers() -> int:
    """One worker process per CPU this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
               (os.cpu_count() or 1))  # fmt: skip


@dataclass(frozen=True)
class ApiOptions:
    """``workers``: worker processes running the CPU-bound stages (decode, detect, embed,
    finger extraction), each loading the pipelines once (default: one per CPU). Twice as many
    requests run at once (while one searches the gallery or writes its audit entry, another's
    stages use the worker it freed); ``queue`` more may wait (beyond that: 503 with
    Retry-After). ``stage_processes`` False runs the stages in the service's own threads
    instead (``workers`` threads; dlib holds the GIL there, so more clients gain nothing). A
    stage running longer than ``stage_timeout_s`` stops its worker, which is replaced.
    ``cors_origins``: browser origins allowed to call the API from other sites (none: no
    CORS). ``tls``: the service is behind HTTPS (sends HSTS). Login attempts are limited to
    ``login_per_address`` per ``login_window_s`` from one client address (accounts lock on
    their own after repeated failures, as on the command line)."""

    workers: int = field(default_factory=default_workers)
    queue: int = 8
    stage_processes: bool = True
    stage_timeout_s: float = 120.0
    cors_origins: tuple[str, ...] = ()
    tls: bool = False
    login_per_address: int = 20
    login_window_s: float = 300.0
    max_json_bytes: int = 64 * 1024
    retry_after_s: int = 2

    @classmethod
    def from_env(cls, **overrides: object) -> ApiOptions:
        env = os.environ
        values: dict[str, object] = {}
        if "MOBILEID_API_WORKERS" in env:
            values["workers"] = _count(env, "MOBILEID_API_WORKERS", least=1)
        if "MOBILEID_API_PROCESSES" in env:
            raw = env["MOBILEID_API_PROCESSES"]
            if raw.strip() not in ("0", "1"):
                raise _bad("MOBILEID_API_PROCESSES", "0 (threads) or 1 (worker processes)", raw)
            values["stage_processes"] = raw.strip() == "1"
        if "MOBILEID_API_QUEUE" in env:
            values["queue"] = _count(env, "MOBILEID_API_QUEUE", least=0)
        if env.get("MOBILEID_CORS_ORIGINS"):
            values["cors_origins"] = tuple(
                o.strip() for o in env["MOBILEID_CORS_ORIGINS"].split(",") if o.strip()
            )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _bad(name: str, expected: str, got: str) -> InvalidArgument:
    return InvalidArgument(f"{name}: expected {expected}, got {got!r}", field=name)


def _count(env: os._Environ[str], name: str, *, least: int) -> int:
    """A whole number of at least ``least`` from the environment, or a refusal naming it."""
    raw = env[name]
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, f"a whole number >= {least}", raw) from None
    if value < least:
        raise _bad(name, f"a whole number >= {least}", raw)
    return value
