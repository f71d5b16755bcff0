"""Building an embedded FAISS index from a partition's rows, resumably.

Rows arrive in id order (``VectorSync.snapshot``). Every ``checkpoint_s`` seconds the index
built so far is written aside with the highest row id it holds and the change-log sequence
its rows were read at; a build interrupted (a crash, a restart) starts again from there,
skipping the rows it already holds, and the catch-up that follows replays every change since
that sequence, so rows changed meanwhile are brought up to date like any other change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from mobileid.gallery.faiss_kinds import IndexKind, train
from mobileid.gallery.vectors import Batch, Progress, Rows, check_batch

CHECKPOINT_S = 300.0  # at most this much building is lost to an interruption


@dataclass
class Building:
    """An index being built: the rows up to ``last_id`` are in it, read at sequence ``upto``."""

    index: faiss.Index
    kind: IndexKind
    upto: int
    last_id: int = 0


def build(
    state: Building,
    batches: Iterable[Batch],
    dim: int,
    progress: Progress | None,
    total: int,
    checkpoint: Callable[[Building], None],
    checkpoint_s: float = CHECKPOINT_S,
) -> Building:
    """Add every row of ``batches`` past ``state.last_id``; an IVF index is first trained on
    the first ``kind.train_size`` of them. Calls ``checkpoint`` every ``checkpoint_s``."""
    index, kind = state.index, state.kind
    done, pending, saved = int(index.ntotal), list[Batch](), time.monotonic()
    if isinstance(batches, Rows) and state.last_id:  # resumed: read from the checkpoint on
        batches = batches.after(state.last_id)
    for raw in batches:
        batch = _after(check_batch(raw, dim), state.last_id)
        if not len(batch.ids):
            continue
        if not index.is_trained:
            pending.append(batch)
            have = sum(len(b.ids) for b in pending)
            if have < min(total, kind.train_size) and have < total:
                continue
            train(index, kind, np.concatenate([b.vectors for b in pending])[: kind.train_size])
            batch, pending = joined(pending, dim), []
        index.add_with_ids(batch.vectors, batch.ids)
        state.last_id, done = int(batch.ids[-1]), done + len(batch.ids)
        if progress:
            progress(done, max(total, done))
        if time.monotonic() - saved >= checkpoint_s:
            checkpoint(state)
            saved = time.monotonic()
    if pending or not index.is_trained:  # fewer vectors than expected: train on them
        rest = joined(pending, dim)
        if not index.is_trained:
            train(index, kind, rest.vectors if len(rest.ids) else np.zeros((1, dim), "f4"))
        index.add_with_ids(rest.vectors, rest.ids)
    return state


def _after(batch: Batch, last_id: int) -> Batch:
    if not len(batch.ids) or batch.ids[0] > last_id:
        return batch
    keep = batch.ids > last_id
    return Batch(batch.ids[keep], batch.vectors[keep])


def joined(batches: list[Batch], dim: int) -> Batch:
    if not batches:
        return Batch(np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32))
    return Batch(
        np.concatenate([b.ids for b in batches]), np.concatenate([b.vectors for b in batches])
    )
