"""Which ``MOBILEID_*`` environment variables mobileid reads, and which of those set are not.

A name outside these is a mistake: a misspelt band bound would otherwise be ignored without a
word. ``tests/cli/test_env_names.py`` keeps the list in step with every name the source, tests,
benchmarks, Makefile and README write.
"""

from __future__ import annotations

import os
from dataclasses import fields

from mobileid.config import BandParams, CaptureLimits, CertificationParams, FaceParams

# the names read one by one; the prefixed parameters are below
_NAMES = frozenset(
    {
        # Settings.from_env
        "MOBILEID_DATA_DIR",
        "MOBILEID_WORKERS",
        "MOBILEID_SEARCH_THREADS",
        "MOBILEID_AUDIT_CHECKPOINT_EVERY",
        "MOBILEID_AUDIT_CHECKPOINT_MINUTES",
        "MOBILEID_AUDIT_FULL_VERIFY_MINUTES",
        "MOBILEID_DATABASE_TIMEOUT_S",
        "MOBILEID_AUDIT_WITNESS_DIR",
        "MOBILEID_AUDIT_WITNESS_URL",
        "MOBILEID_DATABASE_URL",
        "MOBILEID_DATABASE_PASSWORD_FILE",
        "MOBILEID_VECTOR_URI",
        "MOBILEID_VECTOR_TIMEOUT_S",
        "MOBILEID_VECTOR_INDEX",
        # the command line, make run and the HTTP service (api.options)
        "MOBILEID_TOKEN",
        "MOBILEID_PASSWORD",
        "MOBILEID_TOTP",
        "MOBILEID_PURPOSE",
        "MOBILEID_CASE",
        "MOBILEID_LOCATION",
        "MOBILEID_DEMO_DATA",
        "MOBILEID_HOST",
        "MOBILEID_PORT",
        "MOBILEID_API_WORKERS",
        "MOBILEID_API_PROCESSES",
        "MOBILEID_API_QUEUE",
        "MOBILEID_CORS_ORIGINS",
        # the test suite and the benchmarks
        "MOBILEID_SHARED_DATA",
        "MOBILEID_WEB_SHOTS",
        "MOBILEID_TEST_MILVUS_URI",
        "MOBILEID_TEST_POSTGRES_URL",
    }
)
_PREFIXES = {
    "MOBILEID_LIMIT_": CaptureLimits,
    "MOBILEID_FACE_": FaceParams,
    "MOBILEID_BAND_": BandParams,
    "MOBILEID_CERT_": CertificationParams,
}


def known_variables() -> frozenset[str]:
    """Every ``MOBILEID_*`` environment variable mobileid reads."""
    prefixed = {p + f.name.upper() for p, kind in _PREFIXES.items() for f in fields(kind)}
    return _NAMES | prefixed


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """One line per ``MOBILEID_*`` variable set that nothing reads, naming the closest known
    one: the command line prints them as warnings before it runs."""
    from difflib import get_close_matches

    env = os.environ if environ is None else environ
    known = known_variables()
    choices = sorted(known)
    lines = []
    for name in sorted(n for n in env if n.startswith("MOBILEID_") and n not in known):
        close = get_close_matches(name, choices, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{name} is not a mobileid setting{hint}; it is ignored")
    return lines
