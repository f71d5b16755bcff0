"""Synthetic face embeddings whose score distributions are fitted to real ones (lfw-dev).

Model: an embedding is ``normalise(m + a_b·L_b·z + a_w·e^(s_w·u)·L_w·w)`` with ``z`` fixed per
identity, ``w`` and the scalar ``u`` drawn per image (all standard normal): ``m`` is the mean
of the real embeddings, ``L_b`` and ``L_w`` are Cholesky factors of their between-identity and
within-identity covariances. The per-image factor ``e^(s_w·u)`` lets some captures stray
further from their identity than others (pose, light, blur), which gives the genuine scores
the heavy lower tail real ones have; with one fixed within-identity spread (``s_w = 0``) the
genuine fit was poor (KS 0.20). The scales ``a_b``, ``a_w`` and ``s_w`` are fitted so that
genuine scores (same identity) and impostor scores (different identities) match the real
ones, judged by the two-sample Kolmogorov-Smirnov statistic. Galleries are generated in
chunks: memory stays bounded by the chunk, whatever the size.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import ks_2samp

F32 = npt.NDArray[np.float32]
CHUNK = 100_000
_BETWEEN = (0.9, 1.0, 1.1)
_WITHIN = (0.8, 0.85, 0.9, 0.95, 1.0)
_SPREAD = (0.0, 0.15, 0.2, 0.25, 0.3)


def unit_rows(v: F32) -> F32:
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


@dataclass(frozen=True)
class RealScores:
    genuine: npt.NDArray[np.float64]
    impostor: npt.NDArray[np.float64]


def real_scores(vectors: F32, identity: npt.NDArray[np.int64], seed: int = 0) -> RealScores:
    """All genuine pairs and up to 50,000 impostor pairs of the embeddings."""
    genuine = []
    for ident in np.unique(identity):
        group = vectors[identity == ident]
        if len(group) > 1:
            genuine.append((group @ group.T)[np.triu_indices(len(group), k=1)])
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(vectors), (2, 60_000))
    keep = identity[i] != identity[j]
    impostor = np.einsum("ij,ij->i", vectors[i[keep]], vectors[j[keep]])[:50_000]
    return RealScores(np.concatenate(genuine).astype(np.float64), impostor.astype(np.float64))


@dataclass(frozen=True)
class FaceModel:
    mean: F32
    between: F32  # Cholesky factor of the between-identity covariance
    within: F32  # of the within-identity covariance
    a_b: float = 1.0
    a_w: float = 1.0
    s_w: float = 0.0  # spread (log-normal sigma) of each image's within-identity scale

    def identities(self, rng: np.random.Generator, n: int) -> F32:
        """``n`` identity offsets (the part shared by all images of one identity)."""
        return (rng.standard_normal((n, len(self.mean)), dtype=np.float32) @ self.between.T) * (
            self.a_b
        )

    def images(self, rng: np.random.Generator, offsets: F32) -> F32:
        """One image embedding per identity offset."""
        w = rng.standard_normal(offsets.shape, dtype=np.float32) @ self.within.T
        scale = np.exp(self.s_w * rng.standard_normal((len(w), 1))).astype(np.float32)
        return unit_rows(self.mean + offsets + self.a_w * scale * w)

    def scores(self, seed: int = 1, n: int = 1_000, per: int = 4) -> RealScores:
        rng = np.random.default_rng(seed)
        offsets = np.repeat(self.identities(rng, n), per, axis=0)
        vecs = self.images(rng, offsets)
        return real_scores(vecs, np.repeat(np.arange(n), per), seed)

    def gallery(self, n: int, seed: int, skip: int = 0) -> Iterator[F32]:
        """``n`` one-image identities, ``CHUNK`` at a time; each chunk depends only on the
        seed and its place, so ``skip`` (a multiple of ``CHUNK``) resumes a gallery."""
        for start in range(skip, n, CHUNK):
            rng = np.random.default_rng([seed, start])
            offsets = self.identities(rng, min(CHUNK, n - start))
            yield self.images(rng, offsets)


def _cholesky(cov: npt.NDArray[np.float64]) -> F32:
    cov = cov + 1e-6 * np.eye(len(cov))
    return np.linalg.cholesky(cov).astype(np.float32)


def estimate(vectors: F32, identity: npt.NDArray[np.int64]) -> FaceModel:
    """Mean and between/within covariances of real embeddings (identities with >= 2 images
    give the within-identity part)."""
    v = vectors.astype(np.float64)
    ids, inverse, counts = np.unique(identity, return_inverse=True, return_counts=True)
    centres = np.zeros((len(ids), v.shape[1]))
    np.add.at(centres, inverse, v)
    centres /= counts[:, None]
    multi = counts[inverse] >= 2
    resid = (v - centres[inverse])[multi]
    dof = max(1, int(multi.sum()) - int((counts >= 2).sum()))
    within = resid.T @ resid / dof
    mean = v.mean(axis=0)
    spread = centres - mean
    between = np.cov(spread.T) - within / max(1.0, float(np.mean(counts)))
    w_vals, w_vecs = np.linalg.eigh(between)  # keep it positive semi-definite
    between = (w_vecs * np.clip(w_vals, 1e-6, None)) @ w_vecs.T
    return FaceModel(mean.astype(np.float32), _cholesky(between), _cholesky(within))


@dataclass(frozen=True)
class Fit:
    model: FaceModel
    ks_genuine: float
    ks_impostor: float


def fit(vectors: F32, identity: npt.NDArray[np.int64]) -> Fit:
    """The model whose scales give the smallest worse-of-two KS statistic."""
    base = estimate(vectors, identity)
    real = real_scores(vectors, identity)
    best: Fit | None = None
    for a_b, a_w, s_w in itertools.product(_BETWEEN, _WITHIN, _SPREAD):
        model = FaceModel(base.mean, base.between, base.within, a_b, a_w, s_w)
        syn = model.scores()
        ks_g = float(ks_2samp(real.genuine, syn.genuine).statistic)
        ks_i = float(ks_2samp(real.impostor, syn.impostor).statistic)
        if best is None or max(ks_g, ks_i) < max(best.ks_genuine, best.ks_impostor):
            best = Fit(model, ks_g, ks_i)
    assert best is not None
    return best
