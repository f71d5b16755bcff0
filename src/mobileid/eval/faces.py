"""Face evaluation protocols (../shared/data/PROVENANCE.md) on a folder-per-identity root.

A capture that fails to enrol is never dropped: its comparisons score ``-inf``, so a genuine
pair or a mated search with such an image counts as a miss, and the rate is reported as
``fte_rate``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mobileid.config import Settings
from mobileid.errors import InvalidArgument
from mobileid.eval import metrics as m
from mobileid.eval.bootstrap import RESAMPLES
from mobileid.eval.concentration import false_candidates_by_subject
from mobileid.eval.lfw_pairs import read_lfw_pairs
from mobileid.eval.open_set import distractor_split, open_set_split
from mobileid.eval.tail import TailModel, bootstrap_tail
from mobileid.face.pipeline import load_face_pipeline
from mobileid.scoring import Calibration, build_calibration
from mobileid.service.deployment_key import deployment_key
from mobileid.service.embedding import EmbeddingCache, Progress, embed_files
from mobileid.service.enrol import scan_subject_folders
from mobileid.types import Quality

FloatArray = npt.NDArray[np.float64]
MAX_IMPOSTORS = 10_000_000  # beyond this, a fixed-seed sample of impostor pairs
SEED = 20021


@dataclass(frozen=True, eq=False)
class EmbeddedSet:
    """Every image of an evaluation root, its identity, and its embedding (zero row if FTE)."""

    paths: list[str]
    identity: npt.NDArray[np.int64]
    names: list[str]
    vectors: npt.NDArray[np.float32]  # N×128, unit rows; zero rows where enrolment failed
    ok: npt.NDArray[np.bool_]
    failures: dict[str, int]  # error code -> count
    pipeline_id: str
    qualities: tuple[Quality | None, ...] = ()  # per image; None where it was not measured
    # cohort normalisation (mobileid.face.cohort), already weighted: what each image's score
    # loses when it is the probe, and when it is the gallery face; None: plain cosine
    offsets: tuple[FloatArray, FloatArray] | None = None

    @property
    def fte_rate(self) -> float:
        return float(1.0 - self.ok.mean())

    def scores(self, a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
        """Similarity of image pairs (a[i], b[i]); -inf where either failed to enrol."""
        ia, ib = np.asarray(a), np.asarray(b)
        s = np.einsum("ij,ij->i", self.vectors[ia], self.vectors[ib]).astype(np.float64)
        if self.offsets is not None:
            s -= self.offsets[0][ia] + self.offsets[1][ib]
        s[~(self.ok[ia] & self.ok[ib])] = -np.inf
        return s

    def search_scores(self, probes: npt.ArrayLike, gallery: npt.ArrayLike) -> FloatArray:
        """Probes × gallery similarity; -inf where either failed to enrol."""
        p, g = np.asarray(probes), np.asarray(gallery)
        sim = (self.vectors[p] @ self.vectors[g].T).astype(np.float64)
        if self.offsets is not None:
            sim -= self.offsets[0][p][:, None] + self.offsets[1][g][None, :]
        sim[~self.ok[p], :] = -np.inf
        sim[:, ~self.ok[g]] = -np.inf
        return sim


def embed_root(root: Path, settings: Settings, progress: Progress | None = None) -> EmbeddedSet:
    """Embed every image under ``root`` with the pipeline these settings choose (cached)."""
    folders = scan_subject_folders(root)
    paths: list[str] = []
    identity: list[int] = []
    for i, files in enumerate(folders.values()):
        paths.extend(str(p) for p in files)
        identity.extend([i] * len(files))
    pipeline_id = load_face_pipeline(settings.face).pipeline_id
    cache = EmbeddingCache(settings.cache_dir / "face-embeddings.sqlite3", deployment_key(settings))
    # Detection and quality settings change outcomes without changing the embedding space
    # (the pipeline id), so they are part of the cache key.
    digest = hashlib.sha256(repr((settings.face, settings.limits)).encode()).hexdigest()[:12]
    key = f"{pipeline_id}|{digest}"
    try:
        outcomes = embed_files(
            paths, settings, key, cache=cache, progress=progress, need_quality=True
        )
    finally:
        cache.close()
    vectors = np.zeros((len(paths), 128), dtype=np.float32)
    failures: dict[str, int] = {}
    for i, o in enumerate(outcomes):
        if o.vector is not None:
            vectors[i] = o.vector
        else:
            failures[o.error_code] = failures.get(o.error_code, 0) + 1
    return EmbeddedSet(
        paths=paths,
        identity=np.array(identity, dtype=np.int64),
        names=list(folders),
        vectors=vectors,
        ok=np.array([o.ok for o in outcomes]),
        failures=failures,
        pipeline_id=pipeline_id,
        qualities=tuple(o.quality for o in outcomes),
    )


def genuine_pairs(identity: npt.NDArray[np.int64]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of images of the same identity."""
    a, b = np.triu_indices(identity.size, k=1)
    same = identity[a] == identity[b]
    return a[same], b[same]


def impostor_pairs(identity: npt.NDArray[np.int64]) -> tuple[np.ndarray, np.ndarray]:
    """Every cross-identity pair, or a fixed-seed sample of MAX_IMPOSTORS of them."""
    n = identity.size
    if n * (n - 1) // 2 <= MAX_IMPOSTORS * 1.2:
        a, b = np.triu_indices(n, k=1)
        diff = identity[a] != identity[b]
        return a[diff], b[diff]
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, n, MAX_IMPOSTORS * 2)
    b = rng.integers(0, n, MAX_IMPOSTORS * 2)
    keep = identity[a] != identity[b]
    return a[keep][:MAX_IMPOSTORS], b[keep][:MAX_IMPOSTORS]


def verify(
    data: EmbeddedSet, pairs_file: Path | None = None
) -> tuple[dict, FloatArray, FloatArray]:
    """Verification metrics, and the genuine and impostor scores behind them."""
    if pairs_file is not None:
        return _verify_pairs(data, pairs_file)
    gen = data.scores(*genuine_pairs(data.identity))
    imp = data.scores(*impostor_pairs(data.identity))
    if gen.size == 0:
        raise InvalidArgument(
            "root: expected identities with 2 or more images, found none", field="root"
        )
    # Accuracy as LFW defines it: as many impostor pairs as genuine ones (a fixed-seed sample),
    # so that it is not swamped by easy impostors. The rates below use every impostor pair.
    balanced = np.random.default_rng(SEED).choice(imp, size=min(gen.size, imp.size), replace=False)
    acc, thr = m.best_accuracy(gen, balanced)
    return _verify_metrics(data, gen, imp, acc, {"threshold": thr}), gen, imp


def _verify_metrics(
    data: EmbeddedSet, gen: FloatArray, imp: FloatArray, acc: float, extra: dict
) -> dict:
    return {
        "accuracy": acc,
        "tar_at_far_1e-3": m.tar_at_far(gen, imp, 1e-3),
        "tar_at_far_1e-4": m.tar_at_far(gen, imp, 1e-4),
        "eer": m.eer(gen, imp),
        "genuine_pairs": int(gen.size),
        "impostor_pairs": int(imp.size),
        "images": len(data.paths),
        "identities": len(data.names),
        "fte_rate": data.fte_rate,
        "fte_by_reason": data.failures,
        "pipeline_id": data.pipeline_id,
        **extra,
    }


def _verify_pairs(data: EmbeddedSet, pairs_file: Path) -> tuple[dict, FloatArray, FloatArray]:
    pairs, folds = read_lfw_pairs(pairs_file)
    index = {Path(p).name: i for i, p in enumerate(data.paths)}
    a: list[int] = []
    b: list[int] = []
    for name1, i, name2, j in pairs:
        for name, k, out in ((name1, i, a), (name2, j, b)):
            key = f"{name}_{k:04d}"
            hit = next((index[k] for k in (key + ".jpg", key + ".png") if k in index), None)
            if hit is None:
                raise InvalidArgument(
                    f"pairs: expected image {name}/{key}.jpg under the root, it is absent",
                    field="pairs",
                )
            out.append(hit)
    s = data.scores(a, b)
    truth = np.array([p[0] == p[2] for p in pairs])
    extra: dict = {"pairs_file": str(pairs_file)}
    if len(set(folds)) > 1:
        acc, std, per = m.kfold_accuracy(s, truth, np.array(folds))
        extra.update(accuracy_std=std, folds=len(per))
    else:
        acc, extra["threshold"] = m.best_accuracy(s[truth], s[~truth])
    return _verify_metrics(data, s[truth], s[~truth], acc, extra), s[truth], s[~truth]


def identify(
    data: EmbeddedSet,
    cal: Calibration | None,
    bands: tuple[float, float],
    *,
    distractors: bool = False,
) -> tuple[dict, m.IdentificationMetrics]:
    """Open-set 1:N metrics, with the honesty check of the calibrated bands; with
    ``distractors``, the one-image people are enrolled too (:func:`distractor_split`)."""
    if distractors:
        gallery, probes, mate, own = distractor_split(data.identity)
    else:
        (gallery, probes, mate), own = open_set_split(data.identity), None
    sim = data.search_scores(probes, gallery)
    if own is not None:  # a one-image person's search leaves their own gallery image out
        rows = np.flatnonzero(own >= 0)
        sim[rows, own[rows]] = -np.inf
    ident = m.identification_metrics(sim, mate, fpir_points=(0.01, 0.001), max_rank=20)
    out: dict = {
        "rank1": ident.rank1,
        "rank10": float(ident.cmc[9]),
        "fnir_at_fpir_0.01": ident.fnir_at_fpir[0.01],
        "fnir_at_fpir_0.001": ident.fnir_at_fpir[0.001],
        "threshold_at_fpir_0.01": ident.threshold_at_fpir[0.01],
        "threshold_at_fpir_0.001": ident.threshold_at_fpir[0.001],
        "gallery_size": int(gallery.size),
        "mated_probes": ident.mated_probes,
        "nonmated_probes": ident.nonmated_probes,
        "fte_rate": data.fte_rate,
        "fte_by_reason": data.failures,
        "pipeline_id": data.pipeline_id,
    }
    lines: dict[str, float] = {"fpir_0.01": ident.threshold_at_fpir[0.01]}
    if cal is not None:
        out.update(band_check(ident, cal, bands, int(gallery.size)))
        lines.update(out["band_thresholds"])
    names = [data.names[int(data.identity[g])] for g in gallery]
    out["false_candidates_by_subject"] = false_candidates_by_subject(sim, mate, names, lines)
    # the same count over the searches for people who are not enrolled only: what a stranger's
    # search lists (the count above also holds the other people listed beside a found mate)
    strangers = mate < 0
    out["false_candidates_nonmated"] = false_candidates_by_subject(
        sim[strangers], mate[strangers], names, lines
    )
    return out, ident


def band_check(
    ident: m.IdentificationMetrics, cal: Calibration, bands: tuple[float, float], n: int
) -> dict:
    """Observed FPIR of each band (non-mated searches whose best candidate reaches the band's
    threshold: that band or a stronger one) beside the prediction N × FMR bound, capped at 1."""
    observed, predicted, thresholds = {}, {}, {}
    for name, bound in zip(("strong", "possible"), bands, strict=True):
        # a bound finer than the calibration's resolution cannot be reached by any score
        t = cal.threshold_or(bound, math.inf)
        thresholds[name] = t
        observed[name] = ident.fpir(t)
        predicted[name] = min(1.0, n * bound)
    return {
        "band_fpir": observed,
        "band_fpir_predicted": predicted,
        "band_thresholds": thresholds,
        "band_fnir": {k: ident.fnir(t) for k, t in thresholds.items()},
        "calibration": cal.dataset,
    }


def calibrate(
    data: EmbeddedSet,
    dataset: str,
    *,
    resamples: int | None = RESAMPLES,
    tail: TailModel | None = None,
) -> Calibration:
    """A score → FMR table from every impostor pair of images that enrolled: the upper bound
    over an identity bootstrap (``mobileid.eval.bootstrap``; with ``tail``, at least the
    bootstrap GPD tail bound in the far tail: ``mobileid.eval.tail``), or with
    ``resamples=None`` the in-sample empirical curve."""
    a, b = impostor_pairs(data.identity)
    keep = data.ok[a] & data.ok[b]
    a, b = a[keep], b[keep]
    imp = data.scores(a, b)
    ga, gb = genuine_pairs(data.identity)
    genuine = int((data.ok[ga] & data.ok[gb]).sum())
    if resamples is None:
        return build_calibration(imp, genuine, matcher=data.pipeline_id, dataset=dataset)
    return bootstrap_tail(
        imp,
        data.identity[a],
        data.identity[b],
        genuine,
        matcher=data.pipeline_id,
        dataset=dataset,
        resamples=resamples,
        tail=tail,
    )
