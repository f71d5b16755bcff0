"""Settings of the HTTP service alone (the rest come from ``mobileid.config.Settings``)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiOptions:
    """``workers``: threads doing CPU-bound work (decode, detect, embed, extract, search);
    ``queue``: requests allowed to wait for one (beyond that: 503 with Retry-After).
    ``cors_origins``: browser origins allowed to call the API from other sites (none: no
    CORS). ``tls``: the service is behind HTTPS (sends HSTS). Login attempts are limited to
    ``login_per_address`` per ``login_window_s`` from one client address (accounts lock on
    their own after repeated failures, as on the command line)."""

    workers: int = 2
    queue: int = 8
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
            values["workers"] = int(env["MOBILEID_API_WORKERS"])
        if "MOBILEID_API_QUEUE" in env:
            values["queue"] = int(env["MOBILEID_API_QUEUE"])
        if env.get("MOBILEID_CORS_ORIGINS"):
            values["cors_origins"] = tuple(
                o.strip() for o in env["MOBILEID_CORS_ORIGINS"].split(",") if o.strip()
            )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
