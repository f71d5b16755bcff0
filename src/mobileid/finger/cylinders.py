"""Stage 1 of the matcher (:mod:`mobileid.finger.match`): minutia cylinders and their similarity.

Every minutia gets a cylinder (Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code", IEEE TPAMI
2010): a fixed-length vector of where its neighbours are and which way they point, measured in
the minutia's own frame. Kept apart from the alignment (stage 2) because it is the one numba
kernel of the matcher, compiled on first use and cached beside this file.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from numba import njit

from mobileid.finger.params import MatchParams

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

__all__ = ["local_similarity", "minutia_cylinders"]


@functools.cache
def _cylinder_grid(p: MatchParams) -> tuple[F64, I64, I64, F64, F64]:
    """What the cylinder kernel needs of ``p``, computed once per parameter set.

    The cell offsets along one axis (evenly spaced, centred on the minutia), the (x, y) offset
    index of each cell kept (centre within the radius, row by row), the angle bin centres, and
    the scalars: neighbour reach, 2σs², 2σd², sig_mu, sig_tau, the cell step.
    """
    step = 2.0 * p.radius / p.spatial_cells
    offsets = (np.arange(p.spatial_cells) + 0.5) * step - p.radius
    iy, ix = np.indices((p.spatial_cells, p.spatial_cells)).reshape(2, -1)
    inside = np.hypot(offsets[ix], offsets[iy]) <= p.radius
    bins = -np.pi + (np.arange(p.angle_cells) + 0.5) * (2.0 * np.pi / p.angle_cells)
    scalars = np.array(
        [
            p.radius + 3.0 * p.sigma_s,
            2.0 * p.sigma_s**2,
            2.0 * p.sigma_d**2,
            p.sig_mu,
            p.sig_tau,
            step,
        ]
    )
    f64, i64 = np.float64, np.int64
    return (
        offsets.astype(f64),
        ix[inside].astype(i64),
        iy[inside].astype(i64),
        bins.astype(f64),
        scalars.astype(f64),
    )


def minutia_cylinders(points: F64, directions: F64, p: MatchParams) -> F32:
    """N×D unit cylinders of the minutiae at ``points`` pointing ``directions`` (image frame);
    a row of zeros marks a minutia with too few neighbours to describe."""
    offsets, ix, iy, bins, scalars = _cylinder_grid(p)
    out = np.zeros((points.shape[0], ix.shape[0] * bins.shape[0]), dtype=np.float32)
    if points.shape[0] > 0:
        _cylinder_kernel(points, directions, offsets, ix, iy, bins, scalars, p.min_neighbours, out)
    return out


@njit(cache=True)
def _cylinder_kernel(
    points: F64,
    directions: F64,
    offsets: F64,
    ix: I64,
    iy: I64,
    bins: F64,
    scalars: F64,
    min_neighbours: int,
    out: F32,
) -> None:
    """Fill ``out`` (n × cells·bins, zeros) with unit cylinders, each row (cell, bin)-major.

    Each cell adds, over the minutia's neighbours, a spatial Gaussian (cell centre to
    neighbour) times an angular one (bin to direction difference), then the sum goes through
    the sigmoid and the row is normalised; a row with too few neighbours stays zero. The
    neighbour is taken into the centre minutia's frame, where the cell grid is axis-aligned,
    so the spatial Gaussian is a product of one factor per axis (:func:`_axis_gaussian`).
    Minutiae beyond the reach, and the centre itself, add exactly 0 and are skipped.
    """
    n, n_cells, n_bins, side = points.shape[0], ix.shape[0], bins.shape[0], offsets.shape[0]
    reach, two_ss, two_sd, mu, tau, step = scalars
    # Squared distances decide the reach; hypot only within a hair of it, where the two
    # could round differently (hypot is the rule, and costs ~10x more).
    far, near = reach * reach * (1.0 + 1e-9), reach * reach * (1.0 - 1e-9)
    values = np.empty((n_bins, n_cells))  # bin-major, so the accumulation vectorises
    spatial = np.empty(n_cells)
    ex = np.empty(side)
    ey = np.empty(side)
    for i in range(n):
        c, s = np.cos(directions[i]), np.sin(directions[i])
        values[:] = 0.0
        neighbours = 0
        for m in range(n):
            dx, dy = points[m, 0] - points[i, 0], points[m, 1] - points[i, 1]
            d2 = dx * dx + dy * dy
            if m == i or d2 > far or (d2 > near and np.hypot(dx, dy) > reach):
                continue
            neighbours += 1
            _axis_gaussian(offsets, c * dx + s * dy, step, two_ss, ex)
            _axis_gaussian(offsets, c * dy - s * dx, step, two_ss, ey)
            for q in range(n_cells):
                spatial[q] = ex[ix[q]] * ey[iy[q]]
            rel = directions[m] - directions[i]
            for k in range(n_bins):
                d = rel - bins[k]
                d -= 2.0 * np.pi * np.floor((d + np.pi) / (2.0 * np.pi))  # into [-π, π)
                w = np.exp(-(d * d) / two_sd)
                for q in range(n_cells):
                    values[k, q] += spatial[q] * w
        if neighbours < min_neighbours:
            continue
        norm = 0.0
        for q in range(n_cells):
            for k in range(n_bins):
                x = tau * (values[k, q] - mu)
                # Beyond 40, exp(-x) < 1e-17 vanishes beside 1: the sigmoid is exactly 1.
                y = 1.0 if x > 40.0 else 1.0 / (1.0 + np.exp(-x))
                values[k, q] = y
                norm += y * y
        norm = np.sqrt(norm)
        if norm > 0.0:
            for q in range(n_cells):
                for k in range(n_bins):
                    out[i, q * n_bins + k] = values[k, q] / max(norm, 1e-12)


@njit(inline="always", cache=True)
def _axis_gaussian(offsets: F64, u: float, step: float, two_ss: float, out: F64) -> None:
    """``out[a] = exp(-(offsets[a] - u)² / 2σ²)`` for evenly spaced ``offsets``, with 3 exps.

    From the offset nearest ``u``, each step away multiplies by a factor that itself shrinks
    by exp(-step²/σ²) per step: every factor is at most 1, so nothing overflows, and a value
    reaches 0 only where the Gaussian is below the smallest double anyway.
    """
    side = offsets.shape[0]
    a0 = min(max(int(np.floor((u - offsets[0]) / step + 0.5)), 0), side - 1)
    w = offsets[a0] - u
    top = np.exp(-(w * w) / two_ss)
    shrink = np.exp(-2.0 * step * step / two_ss)
    out[a0] = top
    e, f = top, np.exp(-(2.0 * w * step + step * step) / two_ss)
    for a in range(a0 + 1, side):
        e *= f
        out[a] = e
        f *= shrink
    e, f = top, np.exp(-(step * step - 2.0 * w * step) / two_ss)
    for a in range(a0 - 1, -1, -1):
        e *= f
        out[a] = e
        f *= shrink


def local_similarity(ca: F32, cb: F32) -> F64:
    """Na×Nb similarity of two prints' cylinders, in [0, 1]; 0 beside a zero row."""
    # Unit vectors: 1 - |a - b| / (|a| + |b|) = 1 - sqrt(2 - 2 a·b) / 2 for valid rows.
    dots = np.clip(ca @ cb.T, 0.0, 1.0).astype(np.float64)
    sim = 1.0 - np.sqrt(np.maximum(2.0 - 2.0 * dots, 0.0)) / 2.0
    valid = (np.abs(ca).sum(axis=1) > 0)[:, None] & (np.abs(cb).sum(axis=1) > 0)[None, :]
    return np.where(valid, sim, 0.0)
