"""Prints judged and read relative to their own contrast: merged ridges are a poor print, not
something else, and a print with few minutiae is read again once normalised."""

from __future__ import annotations

import numpy as np
import pytest

from mobileid.finger.enhance import enhance_print, normalise_print
from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.extract import find_minutiae
from mobileid.finger.load import load_fingerprint
from mobileid.finger.quality import assess_ridges, check_fingerprint, dark_ridges
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation, faded_to_white, png_of


def test_merged_ridges_pass_once_normalised(templates: TemplateBank) -> None:
    """A wet print whose ridges merged fails the plain ridge check but passes the pipeline's,
    which judges it again once normalised."""
    data = db4_imitation("110_4.tif", "wet")
    with pytest.raises(NotAFingerprint):
        check_fingerprint(load_fingerprint(data))
    image = templates.pipeline.load_image(data, field="wet")
    assert image.pixels.shape == load_fingerprint(data).pixels.shape


@pytest.mark.parametrize("what", ["wall", "blank", "face"])
def test_what_is_no_print_stays_not_a_fingerprint(templates: TemplateBank, what: str) -> None:
    """A textured wall, a blank frame and a face are still refused as not a fingerprint by
    the pipeline, normalisation or not."""
    rng = np.random.default_rng(1)
    x = np.mgrid[0:480, 0:480][1].astype(np.float64)
    if what == "face":
        face = next(shared_path("faces", "face_recognition_samples").rglob("obama.jpg"))
        data_bytes = face.read_bytes()
    elif what == "wall":
        wall = 120 + 40 * np.sin(x / 90.0) + rng.normal(0, 12, x.shape)
        data_bytes = png_of(np.clip(wall, 0, 255).astype(np.uint8))
    else:
        data_bytes = png_of(np.full(x.shape, 120, np.uint8))
    with pytest.raises(NotAFingerprint) as err:
        templates.pipeline.enrol_bytes(data_bytes, field="IMAGE")
    assert err.value.code == "not_a_fingerprint" and err.value.field == "IMAGE"


def test_a_wall_has_no_ridges_even_normalised() -> None:
    """Normalising a textured wall gives it no ridge blocks: the second look cannot turn
    texture into a print."""
    rng = np.random.default_rng(1)
    x = np.mgrid[0:480, 0:480][1]
    wall = np.clip(120 + 40 * np.sin(x / 90.0) + rng.normal(0, 12, x.shape), 0, 255)
    assert assess_ridges(normalise_print(wall.astype(np.uint8))).ridge_blocks == 0


def test_a_sparse_print_is_read_again_enhanced(templates: TemplateBank) -> None:
    """A broken print with fewer minutiae than ``enhance_below`` as captured is read again on
    its normalised copy, and the template keeps the reading with more minutiae."""
    pipe = templates.pipeline
    data = faded_to_white("108_3.tif")
    image = pipe.load_image(data)
    plain = find_minutiae(image.pixels, pipe.extractor).shape[0]
    again = find_minutiae(enhance_print(image.pixels), pipe.extractor).shape[0]
    assert plain < pipe.extractor.params.enhance_below < again
    assert pipe.enrol_bytes(data).count == again


def test_enhanced_print_keeps_ridges_dark_and_the_plate_white() -> None:
    """The enhanced copy of a real print is white off the print and has dark ridges on it."""
    image = dark_ridges(
        load_fingerprint(shared_path("fingerprints", "FVC2002", "DB1_B", "101_2.tif").read_bytes())
    )
    out = enhance_print(image.pixels)
    assert out.shape == image.pixels.shape and out[:8, :8].min() == 255
    ridge = image.pixels < np.percentile(image.pixels, 10)
    assert float(out[ridge].mean()) < 100 < float(out[~ridge].mean())
