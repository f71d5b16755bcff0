"""Calibration of similarity scores to false-match rates, used at run time.

Definitions (scores are similarities: higher is more alike):

- The false-match rate at a score ``s``, ``FMR(s)``, is the fraction of impostor comparisons
  (two captures of different subjects) that score ``>= s``. It is measured on development data
  with ``n`` impostor comparisons, so it is known only to a resolution of ``1/n``.
- A ``Calibration`` is a table of scores and their measured FMRs. Between table points the
  estimate interpolates ``log10(FMR)`` linearly in the score; above the highest table score no
  impostor was seen, and the estimate is the resolution bound ``1/n``: we never claim an FMR
  smaller than the measurement can show. So the strong band (FMR <= 1e-5) can only be reached
  with a calibration set of at least 100 000 impostor comparisons.
- A band is strong when the estimated FMR is ``<= strong_fmr``, possible when ``<=
  possible_fmr``, and none otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from mobileid.errors import InvalidArgument
from mobileid.types import Band

_FORMAT = "mobileid.calibration/1"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Calibration:
    """A measured score → FMR table for one matcher (one pipeline id).

    ``scores`` are strictly ascending; ``fmrs[i]`` is the fraction of the ``impostor_count``
    impostor comparisons that scored ``>= scores[i]``, so ``fmrs`` is non-increasing and never
    below ``1/impostor_count``.
    """

    matcher: str
    dataset: str
    scores: tuple[float, ...]
    fmrs: tuple[float, ...]
    impostor_count: int
    genuine_count: int
    # which scores the table was measured on: "plain" (the matcher's own similarity) or a
    # normalisation's label (mobileid.face.cohort); a table is only read for its own scoring
    scoring: str = "plain"

    def __post_init__(self) -> None:
        _check_table(self.scores, self.fmrs, self.impostor_count, self.genuine_count)

    @property
    def resolution(self) -> float:
        """The smallest FMR this table can support: ``1/impostor_count``."""
        return 1.0 / self.impostor_count

    def fmr(self, score: float) -> float:
        """Estimated FMR of one comparison scoring ``score``.

        Below the lowest table score: ``fmrs[0]`` (1.0 for a built table). Between table points:
        ``log10(FMR)`` interpolated linearly. Above the highest: ``min(fmrs[-1], 1/n)``, the
        resolution of the measurement rather than an extrapolation.
        """
        s = _finite_or_inf("score", score)
        if s > self.scores[-1]:
            return min(self.fmrs[-1], self.resolution)
        i = int(np.searchsorted(self.scores, s))
        if i < len(self.scores) and self.scores[i] == s:  # exact at a node: no log round trip
            return max(self.fmrs[i], self.resolution)
        log_fmr = np.interp(s, self.scores, np.log10(self.fmrs))
        return float(max(10.0**log_fmr, self.resolution))

    def threshold(self, fmr: float) -> float:
        """The smallest score, from the lowest table score up, whose estimated FMR is ``<= fmr``.

        The inverse of :meth:`fmr`: ``fmr(threshold(f)) <= f``. Raises ``InvalidArgument`` when
        ``fmr`` is below the resolution ``1/impostor_count``: no score can be shown to reach it.
        """
        f = float(fmr)
        if not (self.resolution <= f <= 1.0):
            raise InvalidArgument(
                f"fmr: expected a rate in [{self.resolution:g}, 1] (1/impostor_count is the "
                f"resolution of this calibration), got {fmr!r}",
                field="fmr",
            )
        fmrs = np.asarray(self.fmrs)
        i = int(np.argmax(fmrs <= f)) if fmrs[-1] <= f else len(fmrs)
        if i == 0:
            return self.scores[0]
        if i == len(fmrs):  # only reachable above the table, where the estimate is 1/n
            return float(np.nextafter(self.scores[-1], math.inf))
        lo, hi = math.log10(fmrs[i - 1]), math.log10(fmrs[i])
        t = (math.log10(f) - lo) / (hi - lo)
        return self._refine(self.scores[i - 1] + t * (self.scores[i] - self.scores[i - 1]), f)

    def threshold_or(self, fmr: float, unreachable: _T) -> float | _T:
        """:meth:`threshold`, or ``unreachable`` when ``fmr`` is below the resolution: no score
        can be shown to reach it. An evaluation passes ``math.inf`` (no score passes), a report
        ``None`` (JSON null)."""
        return self.threshold(fmr) if float(fmr) >= self.resolution else unreachable

    def _refine(self, s: float, f: float) -> float:
        """Move ``s`` by a few ulps to the smallest score with ``fmr <= f``: the inverse formula
        and :meth:`fmr`'s interpolation round differently."""
        for _ in range(1000):
            if self.fmr(s) > f:
                s = float(np.nextafter(s, math.inf))
            elif self.fmr(below := float(np.nextafter(s, -math.inf))) <= f:
                s = below
            else:
                break
        return s

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_json`` restores an equal ``Calibration``."""
        return {
            "format": _FORMAT,
            "matcher": self.matcher,
            "dataset": self.dataset,
            "impostor_count": self.impostor_count,
            "genuine_count": self.genuine_count,
            "scores": list(self.scores),
            "fmrs": list(self.fmrs),
            **({"scoring": self.scoring} if self.scoring != "plain" else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """Rebuild from :meth:`to_json` output; a wrong format or missing key is refused."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InvalidArgument(
                f"calibration: expected format {_FORMAT!r}, got {got!r}", field="format"
            )
        try:
            return cls(
                matcher=str(data["matcher"]),
                dataset=str(data["dataset"]),
                scores=tuple(float(x) for x in data["scores"]),
                fmrs=tuple(float(x) for x in data["fmrs"]),
                impostor_count=int(data["impostor_count"]),
                genuine_count=int(data["genuine_count"]),
                scoring=str(data.get("scoring", "plain")),
            )
        except KeyError as e:
            raise InvalidArgument(
                f"calibration: expected key {e.args[0]!r}, got keys {sorted(data)}",
                field=str(e.args[0]),
            ) from None

    def save(self, path: Path) -> None:
        """Write the table as JSON to ``path``."""
        write_table(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a table written by :meth:`save`."""
        return cls.from_json(read_table(path, "calibration file"))


def write_table(path: Path, data: dict[str, Any]) -> None:
    """A calibration file (a table, or the tables of strata) as the repository keeps them."""
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_table(path: Path, what: str) -> dict[str, Any]:
    """The JSON of a calibration file; a file that is not JSON is a clear input error."""
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InvalidArgument(
            f"{what} {path}: expected JSON, got a parse error ({e})", field="path"
        ) from None
    return data


def build_calibration(
    impostor_scores: npt.ArrayLike,
    genuine_count: int,
    *,
    matcher: str,
    dataset: str,
    points: int = 200,
) -> Calibration:
    """Measure a calibration table from impostor comparison scores.

    Target FMRs are spaced evenly in ``log10`` from 1 down to ``1/n``; the score for target
    ``f`` is the exact order statistic, the ``ceil(f*n)``-th highest impostor score, and its
    table FMR is recomputed exactly (ties included) as the fraction of impostors ``>=`` it.
    Repeated scores are kept once, so the table is strictly monotone.
    """
    imp = np.asarray(impostor_scores, dtype=np.float64).ravel()
    if imp.size == 0 or not np.isfinite(imp).all():
        raise InvalidArgument(
            "impostor_scores: expected a non-empty array of finite scores, got "
            f"{imp.size} values ({int(np.count_nonzero(~np.isfinite(imp)))} not finite)",
            field="impostor_scores",
        )
    if points < 2:
        raise InvalidArgument(f"points: expected >= 2, got {points}", field="points")
    n = imp.size
    asc = np.sort(imp)
    targets = np.logspace(0.0, -math.log10(n), points)
    ranks = np.clip(np.ceil(targets * n - 1e-9).astype(np.int64), 1, n)  # k-th highest
    scores = np.unique(asc[n - ranks])
    fmrs = (n - np.searchsorted(asc, scores, side="left")) / n
    return Calibration(
        matcher=matcher,
        dataset=dataset,
        scores=tuple(float(x) for x in scores),
        fmrs=tuple(float(x) for x in fmrs),
        impostor_count=n,
        genuine_count=int(genuine_count),
    )


def band_for(fmr: float, strong_fmr: float, possible_fmr: float) -> Band:
    """Strong when ``fmr <= strong_fmr``, possible when ``fmr <= possible_fmr``, else none."""
    if not strong_fmr <= possible_fmr:
        raise InvalidArgument(
            f"strong_fmr: expected <= possible_fmr ({possible_fmr!r}), got {strong_fmr!r}",
            field="strong_fmr",
        )
    f = float(fmr)
    if math.isnan(f):
        raise InvalidArgument("fmr: expected a rate in [0, 1], got nan", field="fmr")
    if f <= strong_fmr:
        return Band.STRONG
    if f <= possible_fmr:
        return Band.POSSIBLE
    return Band.NONE


def _finite_or_inf(name: str, value: float) -> float:
    v = float(value)
    if math.isnan(v):
        raise InvalidArgument(f"{name}: expected a number, got nan", field=name)
    return v


def _check_table(
    scores: tuple[float, ...], fmrs: tuple[float, ...], impostors: int, genuines: int
) -> None:
    def bad(field: str, expected: str, got: object) -> InvalidArgument:
        return InvalidArgument(f"{field}: expected {expected}, got {got}", field=field)

    if impostors < 1:
        raise bad("impostor_count", ">= 1", impostors)
    if genuines < 0:
        raise bad("genuine_count", ">= 0", genuines)
    if not scores or len(scores) != len(fmrs):
        raise bad("fmrs", f"one rate per score ({len(scores)} scores, at least 1)", len(fmrs))
    s, f = np.asarray(scores, dtype=np.float64), np.asarray(fmrs, dtype=np.float64)
    if not np.isfinite(s).all() or np.any(np.diff(s) <= 0):
        raise bad("scores", "finite and strictly ascending", list(scores[:5]))
    if np.any(np.diff(f) > 0):
        raise bad("fmrs", "non-increasing", list(fmrs[:5]))
    if not (f[0] <= 1.0 and f[-1] * impostors >= 1.0 - 1e-9):
        raise bad("fmrs", f"within [1/impostor_count, 1] = [{1 / impostors:g}, 1]", (f[-1], f[0]))
