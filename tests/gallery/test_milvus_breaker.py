"""A Milvus server whose host vanishes (a relay in front of the real server accepts and never
forwards): the first search waits out its time limit, the next ones fail at once with the same
BackendUnavailable and a Retry-After, and searches are served again within the cool-down once
the host is back. Milvus Lite (a local folder) has no breaker."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from mobileid.api.problems import from_error
from mobileid.breaker import FIRST_S, breaker_for
from mobileid.errors import BackendUnavailable
from mobileid.gallery.vectors import Partition
from tests.gallery.relay import Relay
from tests.gallery.test_sync import PID, batch, opened, unit

LIMIT_S = 2.0
FAST_S = 0.1
SLACK_S = 3.0


def _failure(search: object) -> tuple[float, BackendUnavailable]:
    start = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=r"Milvus at http://127\.0\.0\.1") as caught:
        search()  # type: ignore[operator]
    return time.perf_counter() - start, caught.value


def test_searches_fail_fast_while_the_milvus_host_is_gone_and_resume_after(
    tmp_path: Path, milvus_uri: str
) -> None:
    """The host vanishes: one search waits its limit, the next ones fail at once (503 with
    Retry-After) naming the same failure; back, the host serves searches within the
    cool-down and the answer is the one from before."""
    from mobileid.gallery.milvus_index import MilvusVectorIndex

    relay = Relay(milvus_uri)
    breaker = breaker_for(relay.uri, relay.uri)
    g = opened(tmp_path, vectors=MilvusVectorIndex(relay.uri, timeout=LIMIT_S))
    part = Partition("gone", PID)
    try:
        vecs = unit(np.random.default_rng(3), 20)
        g.enrol_many("gone", [batch(vecs)], PID)
        mate = g.search("gone", vecs[7], PID, k=1)[0].subject_id
        relay.vanish()
        took, first = _failure(lambda: g.search("gone", vecs[7], PID, k=1))
        assert LIMIT_S * 0.9 <= took <= 3 * LIMIT_S, took
        assert not breaker.closed
        for _ in range(5):
            took, fast = _failure(lambda: g.search("gone", vecs[7], PID, k=1))
            assert took < FAST_S, took
            assert first.message in fast.message
            assert 1 <= int(from_error(fast).headers["Retry-After"]) <= FIRST_S
        relay.resume()
        back = time.perf_counter()
        while True:
            try:
                hit = g.search("gone", vecs[7], PID, k=1)[0].subject_id
                break
            except BackendUnavailable:
                time.sleep(0.05)
        assert time.perf_counter() - back <= FIRST_S + SLACK_S
        assert hit == mate and breaker.closed
    finally:
        relay.resume()
        time.sleep(breaker.retry_in_s())
        g.vectors.drop(part)
        g.close()
        relay.close()
