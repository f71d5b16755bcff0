"""Shared pieces of the face benchmark: figures, the text table, synthetic galleries, logging."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 128
_T0 = time.perf_counter()

# Synthetic "face-like" embeddings: unit vectors around ~N/3 identity centres (so most
# subjects have look-alikes, as in a real gallery), all sharing one common direction (dlib
# embeddings of different people still have a clearly positive cosine). Only the latency of an
# exact index is measured on them, which does not depend on the values; the structure keeps
# top-k merging (several rows per subject near the probe) realistic.
_COMMON_WEIGHT = 0.5
_MEMBER_NOISE = 0.035  # per dimension: cosine to the identity centre ~0.93
_CHUNK = 100_000


def log(message: str) -> None:
    """Progress on stderr, stamped with seconds since start."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True)
class Figure:
    """One measured figure: a latency distribution (p50/p95) or a single value."""

    name: str
    unit: str
    p50: float | None = None
    p95: float | None = None
    value: float | None = None
    runs: int = 0
    target: str = ""  # in words, e.g. "p50 <= 400 ms"
    passed: bool | None = None  # None where no target exists

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "figures": [asdict(f) for f in self.figures], **self.notes}


def single(name: str, unit: str, value: float) -> Figure:
    """A figure measured once (a build time, a throughput), with no target."""
    return Figure(name, unit, value=value, runs=1)


def latency(name: str, seconds: npt.ArrayLike, *, target_p50_ms: float | None = None) -> Figure:
    """p50/p95 in milliseconds of ``seconds``, checked against a p50 target when one is set."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p95 = (float(x) for x in np.percentile(ms, [50, 95]))
    if target_p50_ms is None:
        return Figure(name, "ms", p50=p50, p95=p95, runs=len(ms))
    return Figure(
        name,
        "ms",
        p50=p50,
        p95=p95,
        runs=len(ms),
        target=f"p50 <= {target_p50_ms:g} ms",
        passed=p50 <= target_p50_ms,
    )


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}"


def _check(f: Figure) -> tuple[str, str]:
    return (f.target or "-", f.verdict or "-")


_HEADER = ("measure", "p50", "p95", "value", "unit", "runs", "target", "result")


def render(sections: Sequence[Section]) -> str:
    """All sections as one plain-text table with aligned columns, notes under each section."""
    rows = [
        (f.name, _fmt(f.p50), _fmt(f.p95), _fmt(f.value), f.unit, str(f.runs or "-"), *_check(f))
        for s in sections
        for f in s.figures
    ]
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [
            c.rjust(w) if i < 5 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells[1:], widths[1:], strict=True))
        ]
        return "  ".join([first, *rest]).rstrip()

    out = [line(_HEADER), "  ".join("-" * w for w in widths)]
    it = iter(rows)
    for s in sections:
        out.append(f"== {s.title}")
        out.extend(line(next(it)) for _ in s.figures)
        out.extend(f"   {k}: {v}" for k, v in s.notes.items())
    return "\n".join(out)


def unit_rows(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def synthetic_gallery(n: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """``n`` clustered unit vectors (float32, n×128), generated in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    common = unit_rows(rng.standard_normal((1, DIM), dtype=np.float32))[0]
    centres = unit_rows(rng.standard_normal((max(1, n // 3), DIM), dtype=np.float32))
    centres = unit_rows(centres + _COMMON_WEIGHT * common)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        rows = centres[rng.integers(0, len(centres), stop - start)]
        rows += _MEMBER_NOISE * rng.standard_normal(rows.shape, dtype=np.float32)
        out[start:stop] = unit_rows(rows)
    return out


def perturbed_probes(
    gallery: npt.NDArray[np.float32], count: int, seed: int = 1
) -> npt.NDArray[np.float32]:
    """``count`` probes, each a gallery row plus noise: another capture of an enrolled face."""
    rng = np.random.default_rng(seed)
    rows = gallery[rng.integers(0, len(gallery), count)].copy()
    rows += _MEMBER_NOISE * rng.standard_normal(rows.shape, dtype=np.float32)
    return unit_rows(rows)
