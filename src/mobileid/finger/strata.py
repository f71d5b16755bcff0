"""Quality-dependent finger calibration: a poor probe print is judged against its own kind.

A print of low quality (:mod:`mobileid.finger.nfiq`: small area, few or unreliable minutiae,
unclear ridges) gives a less specific template, so strangers can score higher against it, and
the development data hold few such prints. :class:`FingerStrata` puts each probe print in a
stratum by its quality score and reads the false-match rate from that stratum's table:

- ``good``: at every score the largest of the pooled contact table (``calibration.json``,
  DB1_B as captured, all pairs) and, for each development set apart (DB1_B and each of its
  sensor imitations, :mod:`mobileid.eval.finger_sensors`), the 95% upper bound over a
  bootstrap of the fingers of the rate measured on that set's impostor comparisons whose
  probe was good: a sensor not seen is held to the worst sensor seen, not to their mixture;
- ``poor``: at every score the largest of the good rate and the 95% Clopper-Pearson and
  finger-bootstrap upper bounds of the rate measured on the impostor comparisons whose probe
  was poor (the same sets, pooled). A poor probe never gets a lower rate than a good one,
  and where poor probes' impostors score higher, a higher rate.

The cut is not tuned to results: it is the ``POOR_SHARE`` quantile of the quality of every
development print the poor table was measured on, stored in the file with the quality version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobileid.errors import InvalidArgument
from mobileid.scoring import Calibration, read_table, write_table

__all__ = ["POOR_SHARE", "STRATA", "FingerStrata"]

_FORMAT = "mobileid.finger-strata/1"
STRATA = ("good", "poor")
POOR_SHARE = 0.1  # the development prints' worst tenth by quality is "poor"


@dataclass(frozen=True)
class FingerStrata:
    """One table per quality stratum of the probe print, for one pipeline and quality version."""

    matcher: str
    quality_version: str
    min_good_quality: float  # a probe print below this quality is "poor"
    good: Calibration
    poor: Calibration

    def __post_init__(self) -> None:
        for name, cal in (("good", self.good), ("poor", self.poor)):
            if cal.matcher != self.matcher:
                raise InvalidArgument(
                    f"strata.{name}.matcher: expected {self.matcher!r}, got {cal.matcher!r}",
                    field=f"strata.{name}.matcher",
                )

    def stratum(self, quality: float) -> str:
        """``poor`` below the cut, else ``good``."""
        return "poor" if quality < self.min_good_quality else "good"

    def for_quality(self, quality: float) -> tuple[str, Calibration]:
        """The probe print's stratum and the table its scores are read from."""
        name = self.stratum(quality)
        return name, self.poor if name == "poor" else self.good

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "matcher": self.matcher,
            "quality_version": self.quality_version,
            "min_good_quality": self.min_good_quality,
            "strata": {"good": self.good.to_json(), "poor": self.poor.to_json()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FingerStrata:
        """Rebuild from :meth:`to_json` output; a wrong format or missing key is refused."""
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        if got != _FORMAT:
            raise InvalidArgument(
                f"strata: expected format {_FORMAT!r}, got {got!r}", field="format"
            )
        try:
            return cls(
                matcher=str(data["matcher"]),
                quality_version=str(data["quality_version"]),
                min_good_quality=float(data["min_good_quality"]),
                good=Calibration.from_json(data["strata"]["good"]),
                poor=Calibration.from_json(data["strata"]["poor"]),
            )
        except KeyError as e:
            raise InvalidArgument(
                f"strata: expected key {e.args[0]!r}, got keys {sorted(data)}", field="strata"
            ) from None

    def save(self, path: Path) -> None:
        write_table(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> FingerStrata:
        return cls.from_json(read_table(path, "strata file"))
