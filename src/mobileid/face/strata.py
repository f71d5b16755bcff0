"""Quality-dependent calibration: a poor capture is judged against its own kind of capture.

A single score → FMR table treats a small, blurred or turned face like a sharp frontal one.
The impostor tail of poor captures is different (their embeddings are less specific, so
strangers can score higher against them), and fewer people of the development data show it,
so the estimate is less certain. A :class:`StratifiedCalibration` puts each probe capture in a
quality stratum from its own measures (:class:`~mobileid.types.Quality`) and reads the FMR from
that stratum's table, measured on the impostor comparisons whose probe fell in the same
stratum, with the same conservative method as the pooled table (an upper bound over an
identity bootstrap). A stratum with fewer people gets a wider bound by construction, and the
answer names the stratum.

The cuts are not tuned to results: each is a fixed quantile (``POOR_SHARE``) of the
development captures' measure, on its bad side, stored in the file. A capture is ``poor`` when
any of its measures lies beyond its cut, ``good`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobileid.errors import InvalidArgument
from mobileid.scoring import Calibration, read_table, write_table
from mobileid.types import Quality

_FORMAT = "mobileid.calibration-strata/1"
STRATA = ("good", "poor")
POOR_SHARE = 0.1  # per measure: the development captures' worst tenth is "poor"


@dataclass(frozen=True)
class QualityCuts:
    """Where a capture stops being ``good``, measure by measure (see the module docstring)."""

    min_inter_eye_px: float
    min_sharpness: float
    max_abs_yaw: float

    def stratum(self, q: Quality) -> str:
        """``poor`` when any measure is beyond its cut, else ``good``."""
        poor = (
            q.inter_eye_px < self.min_inter_eye_px
            or q.sharpness < self.min_sharpness
            or abs(q.yaw) > self.max_abs_yaw
        )
        return "poor" if poor else "good"


@dataclass(frozen=True)
class StratifiedCalibration:
    """One calibration table per quality stratum of the probe capture, for one matcher."""

    matcher: str
    cuts: QualityCuts
    tables: tuple[tuple[str, Calibration], ...]  # (stratum, its table), in STRATA order

    def __post_init__(self) -> None:
        names = tuple(n for n, _ in self.tables)
        if names != STRATA:
            raise InvalidArgument(
                f"strata: expected {list(STRATA)}, got {list(names)}", field="strata"
            )
        for name, cal in self.tables:
            if cal.matcher != self.matcher:
                raise InvalidArgument(
                    f"strata.{name}.matcher: expected {self.matcher!r}, got {cal.matcher!r}",
                    field=f"strata.{name}.matcher",
                )

    def table(self, stratum: str) -> Calibration:
        """The table of one stratum."""
        for name, cal in self.tables:
            if name == stratum:
                return cal
        raise InvalidArgument(
            f"stratum: expected one of {list(STRATA)}, got {stratum!r}", field="stratum"
        )

    def for_quality(self, q: Quality) -> tuple[str, Calibration]:
        """The probe capture's stratum and the table its scores are read from."""
        name = self.cuts.stratum(q)
        return name, self.table(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "matcher": self.matcher,
            "cuts": self.cuts.__dict__,
            "strata": {name: cal.to_json() for name, cal in self.tables},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StratifiedCalibration:
        """Rebuild from :meth:`to_json` output; a wrong format or missing key is refused."""
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        if got != _FORMAT:
            raise InvalidArgument(
                f"strata: expected format {_FORMAT!r}, got {got!r}", field="format"
            )
        try:
            cuts = QualityCuts(**{k: float(v) for k, v in data["cuts"].items()})
            tables = tuple((n, Calibration.from_json(data["strata"][n])) for n in STRATA)
            return cls(matcher=str(data["matcher"]), cuts=cuts, tables=tables)
        except KeyError as e:
            raise InvalidArgument(
                f"strata: expected key {e.args[0]!r}, got keys {sorted(data)}", field="strata"
            ) from None
        except TypeError as e:
            raise InvalidArgument(
                f"strata.cuts: expected the three cuts, got {e}", field="cuts"
            ) from None

    def save(self, path: Path) -> None:
        write_table(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> StratifiedCalibration:
        return cls.from_json(read_table(path, "strata file"))
