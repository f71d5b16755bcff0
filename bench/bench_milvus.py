"""A Milvus standalone server for the benchmark: the one given, or one started and stopped here.

Started as the tests start theirs (tests/milvus.py: ``milvus-server`` from the ``milvus``
package), on port 19530 when free; data in a temporary folder, removed afterwards.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_common import log

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the Milvus server the tests start

from tests.milvus import start, stop  # noqa: E402


@contextmanager
def milvus_server(uri: str | None) -> Iterator[str | None]:
    """``uri`` itself; None when ``uri`` is "none"; otherwise a server started here."""
    if uri == "none" or uri:
        yield None if uri == "none" else uri
        return
    base = Path(tempfile.mkdtemp(prefix="mobileid-bench-milvus-"))
    try:
        t0 = time.monotonic()
        started = start(Path(sys.executable).with_name("milvus-server"), base, 19530)
        if isinstance(started, str):
            raise SystemExit(started)
        proc, uri = started
        log(f"Milvus up on {uri} in {time.monotonic() - t0:.0f} s")
        try:
            yield uri
        finally:
            stop(proc, wait_s=60)
    finally:
        shutil.rmtree(base, ignore_errors=True)
