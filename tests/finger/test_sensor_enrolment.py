"""Failure to enrol on imitated sensors, on the prints where it is most at risk.

``make eval-fingers-sensors`` measures every imitation on all 160 prints; these are the real
(DB1_B) and synthetic (DB4_B) prints with the fewest minutiae as captured, so an imitation
whose enrolment regresses (a gate judged on absolute contrast, a lost polarity, a minutiae
floor) fails here first, in seconds. ``wet`` on DB4_B merges its fine ridges into blobs:
the plain ridge check refuses 108_3 as not a fingerprint, the check on the normalised print
(``finger/enhance.py``) lets it through.
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
    for db, name in HARDEST:
        data = shared_path("fingerprints", "FVC2002", db, name).read_bytes()
        t = pipe.enrol_bytes(imitate_bytes(data, sensor), field=f"{db}/{name} {sensor}")
        assert t.count >= pipe.extractor.params.min_minutiae and 0 < t.quality <= 100
