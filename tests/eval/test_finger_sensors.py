"""Prints as other sensors give them: still prints to the gates, still enrolled and matched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mobileid.errors import InvalidArgument
from mobileid.eval.finger_sensors import SENSORS, imitate, imitate_bytes
from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.load import load_fingerprint
from mobileid.finger.quality import check_fingerprint
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture
def templates() -> TemplateBank:
    return template_bank()


def _db(name: str) -> list[bytes]:
    folder = shared_path("fingerprints", "FVC2002", name)
    return [p.read_bytes() for p in sorted(folder.glob("*.tif"))[::4]]


def test_every_imitated_sensor_passes_the_ridge_check() -> None:
    """Every 4th real print (DB1_B) under each imitation, and every 4th synthetic one (DB4_B)
    under all but ``wet``, is judged a fingerprint. (DB4_B's ridges are finer: ``wet`` merges
    them into blobs, and 5 of its 20 are refused, rightly.)"""
    real, synthetic = _db("DB1_B"), _db("DB4_B")
    for sensor in SENSORS:
        prints = real + (synthetic if sensor != "wet" else [])
        for i, data in enumerate(prints):
            check_fingerprint(load_fingerprint(imitate_bytes(data, sensor), field=f"{sensor}#{i}"))


def test_imitations_are_deterministic_and_named() -> None:
    """The same print gives the same imitation; an unknown sensor is refused by name."""
    pixels = np.asarray(Image.open(shared_path("fingerprints", "FVC2002", "DB1_B", "101_2.tif")))
    assert np.array_equal(imitate(pixels, "noisy"), imitate(pixels, "noisy"))
    assert imitate(pixels, "small").shape == (200, 200)
    assert imitate(pixels, "crop300").shape == (300, 300)
    with pytest.raises(InvalidArgument, match="sensor: expected one of"):
        imitate(pixels, "thermal")


@pytest.mark.parametrize("sensor", ["capacitive", "dry", "noisy", "inverted"])
def test_degraded_print_enrols_and_matches_its_finger(templates: TemplateBank, sensor: str) -> None:
    """102_1 as another sensor would give it enrols and matches 102_2, not 103_7."""
    pipe = templates.pipeline
    data = shared_path("fingerprints", "FVC2002", "DB1_B", "102_1.tif").read_bytes()
    probe = pipe.enrol_bytes(imitate_bytes(data, sensor), field=sensor)
    genuine = pipe.compare(probe, templates.db1("102_2.tif")).score
    impostor = pipe.compare(probe, templates.db1("103_7.tif")).score
    assert genuine > 0.3 and genuine > impostor + 0.2, (genuine, impostor)


def test_dry_skin_fades_to_the_plate_not_to_white() -> None:
    """A dry finger's lost contact shows the empty plate's grey: on DB4_B's grey plate the dry
    imitation of every 4th print keeps its polarity (the old one, fading to white, made 69 of
    80 brighter than their plate, and they were read inverted), and its brightest grey is no
    brighter than the capture's."""
    from mobileid.finger.quality import dark_ridges

    for i, data in enumerate(_db("DB4_B")):
        plain = load_fingerprint(data, field=f"dry#{i}")
        dry = load_fingerprint(imitate_bytes(data, "dry"), field=f"dry#{i}")
        assert (dark_ridges(dry) is dry) == (dark_ridges(plain) is plain), i
        assert np.percentile(dry.pixels, 99) <= np.percentile(plain.pixels, 99), i


def test_a_face_is_refused_as_a_face_not_enrolled(templates: TemplateBank) -> None:
    """Relative contrast lets a face reach the ridge floors; the face guard still refuses it."""
    face = next(shared_path("faces", "face_recognition_samples").rglob("biden.jpg"))
    with pytest.raises(NotAFingerprint) as err:
        templates.pipeline.load_image(face.read_bytes(), field="IMAGE")
    assert err.value.reasons == ("face",) and "IMAGE: expected a fingerprint" in str(err.value)


def test_inverted_print_is_turned_back() -> None:
    """A print with light ridges on a dark plate is given to the extractor with dark ridges."""
    from mobileid.finger.quality import dark_ridges

    data = shared_path("fingerprints", "FVC2002", "DB1_B", "105_3.tif").read_bytes()
    plain = load_fingerprint(data)
    inverted = load_fingerprint(imitate_bytes(data, "inverted"))
    assert np.array_equal(dark_ridges(inverted).pixels, plain.pixels)
    assert dark_ridges(plain) is plain
