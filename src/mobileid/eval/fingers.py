"""Fingerprint evaluation on an FVC-style folder (``NNN_k.ext``: finger ``NNN``, impression ``k``).

Protocols (``../shared/data/PROVENANCE.md``, FVC2002):

- genuine: every pair of impressions of the same finger (28 per finger of 8 impressions);
- impostor (FVC): the first impression of each finger against the first of every other;
- impostor_all: every impression of a finger against every impression of every other finger.

Sensors: ``sensor`` names an imitation of :mod:`mobileid.eval.finger_sensors` applied to
every print before enrolment (the FVC protocol is unchanged). Photos of fingertips are
evaluated by :mod:`mobileid.eval.finger_contactless`.

Each unordered pair is compared once. A print that fails to enrol scores ``-inf`` in every
pair it is in: a miss in each genuine pair, a rejection in each impostor pair. Templates are
cached by the SHA-256 of the file's bytes under the pipeline id, so reruns only compare.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mobileid.errors import InputError, InvalidArgument
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.metrics import eer, fnmr_at_fmr, zero_fmr
from mobileid.finger.match import MatchFeatures, match_features
from mobileid.finger.nfiq import QUALITY_VERSION, print_quality
from mobileid.finger.pipeline import READINGS_VERSION, FingerPipeline
from mobileid.finger.types import FingerTemplate
from mobileid.scoring import Calibration, build_calibration
from mobileid.service.sealed_cache import SealedCache

__all__ = [
    "Enrolled",
    "FingerEval",
    "TemplateCache",
    "calibrate",
    "enrol_root",
    "evaluate",
    "list_fvc_root",
]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]

_NAME = re.compile(r"^(\d+)_(\d+)\.(tif|tiff|png|bmp|jpg|jpeg|wsq)$", re.IGNORECASE)


@dataclass(frozen=True)
class PrintFile:
    path: Path
    finger: int
    impression: int


@dataclass(frozen=True, eq=False)
class Enrolled:
    """One print's outcome: a template, or the error that refused it."""

    file: PrintFile
    template: FingerTemplate | None
    error: str  # "" when enrolled; else "<code>: <message>"
    extract_ms: float | None  # None when the template came from the cache


@dataclass(frozen=True, eq=False)
class FingerEval:
    """Metrics (the DESIGN.md keys and more) and the score arrays behind them."""

    metrics: dict[str, Any]
    genuine: FloatArray
    impostor: FloatArray  # FVC protocol
    impostor_all: FloatArray


def list_fvc_root(root: Path) -> list[PrintFile]:
    """The ``NNN_k.ext`` prints directly in ``root``, by finger then impression."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidArgument(
            f"root: expected a folder of FVC prints, got {str(root)!r}", field="root"
        )
    files = []
    for entry in sorted(root.iterdir()):
        m = _NAME.match(entry.name)
        if m and entry.is_file():
            files.append(PrintFile(entry, int(m.group(1)), int(m.group(2))))
    fingers = {f.finger for f in files}
    if len(fingers) < 2 or len(files) <= len(fingers):
        raise InvalidArgument(
            f"root: expected FVC prints named NNN_k.tif (finger NNN, impression k) of at least two "
            f"fingers with two impressions, got {len(files)} prints of {len(fingers)} fingers "
            f"in {str(root)!r}",
            field="root",
        )
    return sorted(files, key=lambda f: (f.finger, f.impression))


class TemplateCache:
    """Templates and enrolment failures by pipeline id and image SHA-256, sealed under the
    deployment key in ``folder/finger-templates.sqlite3`` (:mod:`mobileid.service.sealed_cache`);
    a failure stored before the pipeline's current ``READINGS_VERSION`` counts as not cached.
    The plaintext JSON folders of earlier versions are removed on opening."""

    def __init__(self, folder: Path, pipeline_id: str, key: bytes) -> None:
        for old in Path(folder).glob("finger-templates-*"):
            shutil.rmtree(old, ignore_errors=True)
        self._store = SealedCache(Path(folder) / "finger-templates.sqlite3", key)
        self.pipeline_id = pipeline_id

    def get(self, sha: str) -> FingerTemplate | str | None:
        """The cached template, the cached error text, or ``None`` when not cached."""
        payload = self._store.get(self.pipeline_id, sha)
        if payload is None:
            return None
        data = json.loads(payload)
        if "error" in data:
            # A refusal is final only for the readings that led to it.
            if data.get("readings_version") != READINGS_VERSION:
                return None
            return str(data["error"])
        # Minutiae still right, quality measured by another version: -1 asks for it again.
        fresh = data.get("quality_version") == QUALITY_VERSION
        return FingerTemplate(
            minutiae=np.asarray(data["minutiae"], dtype=np.float32).reshape(-1, 5),
            width=int(data["width"]),
            height=int(data["height"]),
            ppi=float(data["ppi"]),
            quality=float(data["quality"]) if fresh else -1.0,
            pipeline_id=self.pipeline_id,
        )

    def put(self, sha: str, outcome: FingerTemplate | str) -> None:
        if isinstance(outcome, str):
            data: dict[str, Any] = {"error": outcome, "readings_version": READINGS_VERSION}
        else:
            data = {
                "minutiae": outcome.minutiae.tolist(),
                "width": outcome.width,
                "height": outcome.height,
                "ppi": outcome.ppi,
                "quality": outcome.quality,
                "quality_version": QUALITY_VERSION,
            }
        self._store.put(self.pipeline_id, sha, json.dumps(data).encode())
        self._store.commit()  # each print costs ~1.5 s to extract: keep every one at once


def enrol_root(
    files: list[PrintFile],
    pipeline: FingerPipeline,
    cache: TemplateCache | None = None,
    progress: Progress | None = None,
    sensor: str | None = None,
) -> list[Enrolled]:
    """Enrol every print (from the cache when it holds the image's hash), as ``sensor`` would
    give it when one is named (:mod:`mobileid.eval.finger_sensors`)."""
    out = []
    for i, f in enumerate(files):
        data = f.path.read_bytes()
        if sensor:
            data = imitate_bytes(data, sensor)
        sha = hashlib.sha256(data).hexdigest()
        cached = cache.get(sha) if cache else None
        ms: float | None = None
        if isinstance(cached, FingerTemplate) and cached.quality < 0 and cache:
            cached = _requalify(pipeline, data, cached)
            cache.put(sha, cached)
        if cached is None:
            start = time.perf_counter()
            try:
                cached = pipeline.enrol_bytes(data, field=f.path.name)
            except InputError as exc:
                cached = f"{exc.code}: {exc.message}"
            ms = 1000.0 * (time.perf_counter() - start)
            if cache:
                cache.put(sha, cached)
        if isinstance(cached, str):
            out.append(Enrolled(f, None, cached, ms))
        else:
            out.append(Enrolled(f, cached, "", ms))
        if progress:
            progress(i + 1, len(files))
    return out


def _requalify(pipeline: FingerPipeline, data: bytes, template: FingerTemplate) -> FingerTemplate:
    """``template`` with its quality measured again on its image (minutiae unchanged)."""
    image = pipeline.load_image(data)
    q = print_quality(image.pixels, template.minutiae).score
    return replace(template, quality=float(q))


def evaluate(
    enrolled: list[Enrolled], pipeline: FingerPipeline, progress: Progress | None = None
) -> FingerEval:
    """Compare every pair once and compute the FVC metrics."""
    feats: list[MatchFeatures | None] = [
        pipeline.features(e.template) if e.template else None for e in enrolled
    ]
    n = len(enrolled)
    gen, imp, imp_all = [], [], []
    total, done = n * (n - 1) // 2, 0
    start = time.perf_counter()
    compared = 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = feats[i], feats[j]
            if a is None or b is None:
                s = -np.inf
            else:
                s = match_features(a, b, pipeline.match).score
                compared += 1
            fi, fj = enrolled[i].file, enrolled[j].file
            if fi.finger == fj.finger:
                gen.append(s)
            else:
                imp_all.append(s)
                if fi.impression == _first(enrolled, fi.finger) and fj.impression == _first(
                    enrolled, fj.finger
                ):
                    imp.append(s)
            done += 1
        if progress:
            progress(done, total)
    elapsed = time.perf_counter() - start
    g, fv, al = (np.asarray(v, dtype=np.float64) for v in (gen, imp, imp_all))
    return FingerEval(
        _metrics(enrolled, pipeline, g, fv, al, compared / max(elapsed, 1e-9)), g, fv, al
    )


def _first(enrolled: list[Enrolled], finger: int) -> int:
    return min(e.file.impression for e in enrolled if e.file.finger == finger)


def _metrics(
    enrolled: list[Enrolled],
    pipeline: FingerPipeline,
    gen: FloatArray,
    imp: FloatArray,
    imp_all: FloatArray,
    rate: float,
) -> dict[str, Any]:
    if gen.size == 0 or imp_all.size == 0:
        raise InvalidArgument(
            f"root: expected genuine and impostor pairs, got {gen.size} and {imp_all.size}",
            field="root",
        )
    failed = [e for e in enrolled if e.template is None]
    timed = [e.extract_ms for e in enrolled if e.extract_ms is not None and e.template]
    counts = [e.template.count for e in enrolled if e.template]
    return {
        "eer": eer(gen, imp) if imp.size else float("nan"),
        "eer_all": eer(gen, imp_all),
        "fmr100": fnmr_at_fmr(gen, imp_all, 0.01),
        "fmr1000": fnmr_at_fmr(gen, imp_all, 0.001),
        "zero_fmr": zero_fmr(gen, imp_all),
        "genuine": int(gen.size),
        "impostor": int(imp.size),
        "impostor_all": int(imp_all.size),
        "fte_rate": len(failed) / len(enrolled),
        "pipeline_id": pipeline.pipeline_id,
        "prints": len(enrolled),
        "fingers": len({e.file.finger for e in enrolled}),
        "failed_to_enrol": {e.file.path.name: e.error for e in failed},
        "minutiae_mean": float(np.mean(counts)) if counts else 0.0,
        "extract_ms_mean": float(np.mean(timed)) if timed else None,
        "extracted_now": len(timed),
        "comparisons_per_s": rate,
    }


def calibrate(result: FingerEval, dataset: str) -> Calibration:
    """The score → FMR table of this run, from all cross-finger impostor pairs.

    Pairs with a print that failed to enrol are left out: they were never compared. With the
    2,880 impostors of an FVC "B" set the table resolves FMR down to 3.5e-4 only, enough for
    the possible band (1e-3) and not for the strong one (1e-5).
    """
    imp = result.impostor_all[np.isfinite(result.impostor_all)]
    gen = result.genuine[np.isfinite(result.genuine)]
    return build_calibration(
        imp, int(gen.size), matcher=str(result.metrics["pipeline_id"]), dataset=dataset
    )
