"""Failure to enrol on imitated sensors, on the prints where it is most at risk.

``make eval-fingers-sensors`` measures every imitation on all 160 prints; these are the real
(DB1_B) and synthetic (DB4_B) prints with the fewest minutiae as captured, so an imitation
whose enrolment regresses (a gate judged on absolute contrast, a lost polarity, a minutiae
floor) fails here first, in seconds. Not ``wet`` on DB4_B: its ridges are finer than real
ones and the imitation merges them into blobs (LEADER finds 2-10 minutiae on the prints the
ridge check refuses); that refusal is measured by the evaluation, not asserted here.
"""

from __future__ import annotations

import pytest

from mobileid.eval.finger_sensors import SENSORS, imitate_bytes
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank

HARDEST = (("DB1_B", "101_5.tif"), ("DB4_B", "108_3.tif"))


@pytest.mark.parametrize("sensor", sorted(SENSORS))
def test_hardest_prints_enrol_on_every_imitated_sensor(
    templates: TemplateBank, sensor: str
) -> None:
    """The sparsest real and synthetic prints, as this sensor would give them, enrol with at
    least the minutiae floor and a quality score."""
    pipe = templates.pipeline
    for db, name in HARDEST if sensor != "wet" else HARDEST[:1]:
        data = shared_path("fingerprints", "FVC2002", db, name).read_bytes()
        t = pipe.enrol_bytes(imitate_bytes(data, sensor), field=f"{db}/{name} {sensor}")
        assert t.count >= pipe.extractor.params.min_minutiae and 0 < t.quality <= 100
