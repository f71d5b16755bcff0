"""Turning many image files into face embeddings, in worker processes, with a cache.

Enrolment and evaluation both go through here. A file that fails (no face, bad image,
low quality) is an outcome with its error, never dropped and never fatal for the batch.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobileid.capture.decode import decode_image
from mobileid.capture.files import read_regular
from mobileid.config import Settings
from mobileid.errors import InputError
from mobileid.face.pipeline import FacePipeline, load_face_pipeline
from mobileid.service.sealed_cache import SealedCache
from mobileid.types import Quality, Vector

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class EmbedOutcome:
    path: str
    sha256: str
    vector: Vector | None  # None when the image failed to enrol
    error_code: str = ""
    error: str = ""
    quality: Quality | None = None  # the capture's measures, when it got as far as measuring

    @property
    def ok(self) -> bool:
        return self.vector is not None


_worker: tuple[Settings, FacePipeline] | None = None


def _init_worker(settings: Settings) -> None:
    global _worker
    _worker = (settings, load_face_pipeline(settings.face))


def _embed_one(path: str) -> EmbedOutcome:
    assert _worker is not None, "worker not initialised"
    settings, pipeline = _worker
    try:
        data = read_regular(path, settings.limits.max_file_bytes, field=path)
    except InputError as exc:  # a device, a FIFO, a file over the limit, a vanished file
        return EmbedOutcome(path, "", None, exc.code, exc.message)
    sha = hashlib.sha256(data).hexdigest()
    try:
        image = decode_image(data, settings.limits, field=path)
        emb = pipeline.process(image)
    except InputError as exc:
        return EmbedOutcome(path, sha, None, exc.code, exc.message)
    return EmbedOutcome(path, sha, emb.vector, quality=emb.quality)


def file_sha256(path: str | Path, max_bytes: int) -> str:
    """The SHA-256 of the regular file at ``path``, or "" when it is anything else or over
    ``max_bytes``: such a file is never enrolled, and reading it (``/dev/zero``, a 64 GiB file)
    would not end; the embedding step reports why."""
    try:
        data = read_regular(path, max_bytes, field=str(path))
    except InputError:
        return ""
    return hashlib.sha256(data).hexdigest()


class EmbeddingCache:
    """Embeddings (and failures) by image hash and pipeline id, so reruns are fast; sealed
    under the deployment key (:mod:`mobileid.service.sealed_cache`), each with the capture's
    quality measures. An entry written before quality measures were kept has none; a caller
    that needs them (``need_quality``) treats it as a miss, so it is embedded again once."""

    def __init__(self, path: Path, key: bytes):
        self._store = SealedCache(path, key)

    def get(
        self, sha: str, key: str, path: str, *, need_quality: bool = False
    ) -> EmbedOutcome | None:
        payload = self._store.get(key, sha)
        if payload is None:
            return None
        entry = json.loads(payload)
        vector = entry.get("vector")
        measures = entry.get("quality")
        if need_quality and vector is not None and measures is None:
            return None
        vec = None if vector is None else np.frombuffer(bytes.fromhex(vector), dtype="<f4").copy()
        quality = None if measures is None else _quality_from_dict(measures)
        return EmbedOutcome(path, sha, vec, entry["error_code"], entry["error"], quality)

    def put(self, outcome: EmbedOutcome, key: str) -> None:
        if not outcome.sha256:
            return
        vector = None if outcome.vector is None else outcome.vector.astype("<f4").tobytes().hex()
        q = outcome.quality
        measures = None if q is None else {**q.__dict__, "problems": list(q.problems)}
        entry = {
            "vector": vector,
            "error_code": outcome.error_code,
            "error": outcome.error,
            "quality": measures,
        }
        self._store.put(key, outcome.sha256, json.dumps(entry).encode())

    def close(self) -> None:
        self._store.close()


def _quality_from_dict(d: dict) -> Quality:
    return Quality(**{**d, "problems": tuple(d.get("problems", ()))})


def embed_files(
    paths: Sequence[str | Path],
    settings: Settings,
    cache_key: str,
    *,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    need_quality: bool = False,
) -> list[EmbedOutcome]:
    """One outcome per path, in order, using ``settings.workers`` processes. With a cache,
    outcomes are looked up and stored under (image hash, ``cache_key``); ``need_quality``
    embeds again a cached success whose quality measures were not kept."""
    names = [str(p) for p in paths]
    outcomes: dict[int, EmbedOutcome] = {}
    todo: list[int] = []
    for i, name in enumerate(names):
        sha = file_sha256(name, settings.limits.max_file_bytes) if cache else ""
        hit = cache.get(sha, cache_key, name, need_quality=need_quality) if sha and cache else None
        if hit is not None:
            outcomes[i] = hit
        else:
            todo.append(i)
    done = len(outcomes)
    if progress:
        progress(done, len(names))
    for i, outcome in zip(todo, _run([names[i] for i in todo], settings), strict=True):
        outcomes[i] = outcome
        if cache:
            cache.put(outcome, cache_key)
        done += 1
        if progress:
            progress(done, len(names))
    return [outcomes[i] for i in range(len(names))]


def _run(names: list[str], settings: Settings) -> Iterator[EmbedOutcome]:
    if not names:
        return
    if settings.workers <= 1 or len(names) < 4:
        _init_worker(settings)
        yield from map(_embed_one, names)
        return
    with ProcessPoolExecutor(
        max_workers=settings.workers,
        # spawn, not fork: a forked child would inherit FAISS/OpenMP threads mid-state
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(settings,),
    ) as pool:
        yield from pool.map(_embed_one, names, chunksize=4)
