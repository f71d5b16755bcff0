"""Contextual filtering: a wet or dry print that gives too few minutiae as captured and
normalised is rebuilt along its own ridges, read once more, and enrolled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mobileid.finger.contextual import contextual_print, ridge_period
from mobileid.finger.enhance import enhance_print, z_normalised
from mobileid.finger.errors import LowQualityFingerprint
from mobileid.finger.extract import find_minutiae
from mobileid.finger.load import load_fingerprint
from mobileid.finger.params import ContextParams, EnhanceParams
from mobileid.finger.pipeline import FingerPipeline
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation, png_of


def _ridges(period: float, side: int = 320) -> np.ndarray:
    """Straight parallel ridges of ``period`` px over the whole frame: a print without minutiae."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    return (128 + 60 * np.cos(2 * np.pi * (0.96 * xx + 0.28 * yy) / period)).astype(np.uint8)


def _unsharpened(pipe: FingerPipeline) -> FingerPipeline:
    """``pipe`` without the sharpened reading, which reads these wet prints first now (their
    orientation is unclear): the rebuilt reading stays the fallback for the prints it lets by."""
    params = replace(pipe.extractor.params, tophat_certainty_below=0.0)
    return replace(pipe, extractor=replace(pipe.extractor, params=params))


def test_a_refused_wet_print_now_enrols_with_its_quality(templates: TemplateBank) -> None:
    """A wet print that gave too few minutiae as captured and normalised (it was refused as
    too poor to use) enrols once rebuilt, with its quality measured on the capture."""
    pipe = _unsharpened(templates.pipeline)
    data = db4_imitation("109_4.tif", "wet")
    image = pipe.load_image(data)
    floor = pipe.extractor.params.min_minutiae
    assert find_minutiae(image.pixels, pipe.extractor).shape[0] < floor
    assert find_minutiae(enhance_print(image.pixels), pipe.extractor).shape[0] < floor
    t = pipe.enrol_bytes(data, field="wet")
    assert t.count >= floor and 0 < t.quality <= 100


def test_a_rescued_wet_print_matches_its_own_finger(templates: TemplateBank) -> None:
    """The minutiae read on the rebuilt wet print are the finger's: it scores higher against
    another wet impression of its finger than against other fingers' wet prints."""
    pipe = _unsharpened(templates.pipeline)
    rescued = pipe.enrol_bytes(db4_imitation("109_4.tif", "wet"))
    mate = pipe.compare(rescued, pipe.enrol_bytes(db4_imitation("109_5.tif", "wet"))).score
    others = [
        pipe.compare(rescued, pipe.enrol_bytes(db4_imitation(f"{finger}_1.tif", "wet"))).score
        for finger in (101, 103, 106, 108)
    ]
    assert mate > max(others) + 0.1


def test_ridges_without_minutiae_are_a_quality_refusal(templates: TemplateBank) -> None:
    """Straight ridges pass the ridge check but hold no minutiae, rebuilt or not: the refusal
    is 'too poor to use', not 'not a fingerprint'."""
    with pytest.raises(LowQualityFingerprint) as err:
        templates.pipeline.enrol_bytes(png_of(_ridges(8.0)), field="IMAGE")
    assert err.value.code == "low_quality_fingerprint" and err.value.field == "IMAGE"
    assert err.value.reasons == ("too_few_minutiae",) and "too poor to use" in str(err.value)


@pytest.mark.parametrize("period", [6.0, 7.0, 9.0, 11.0])
def test_ridge_period_of_straight_ridges(period: float) -> None:
    """The period chosen for straight ridges is their own."""
    z, where = z_normalised(_ridges(period), EnhanceParams())
    assert ridge_period(z.astype(np.float64), where, ContextParams()) == period


def test_ridge_period_of_a_wet_print_is_its_ridges_not_its_blobs() -> None:
    """On a wet print, whose merged blobs put the spectrum's peak at 11-14 px, the period
    chosen is the print's ridge period as captured (DB4_B: 6-8 px)."""
    px = load_fingerprint(db4_imitation("101_1.tif", "wet")).pixels
    z, where = z_normalised(px, EnhanceParams())
    assert 6.0 <= ridge_period(z.astype(np.float64), where, ContextParams()) <= 8.0


def test_rebuilt_print_keeps_the_plate_white_and_ridges_where_the_print_is() -> None:
    """The rebuilt copy of a wet print is white off the print and has full-contrast ridges
    on it."""
    px = load_fingerprint(db4_imitation("101_1.tif", "wet")).pixels
    out = contextual_print(px)
    assert out.shape == px.shape and out[:8, :8].min() == 255
    centre = out[px.shape[0] // 3 : 2 * px.shape[0] // 3, px.shape[1] // 3 : 2 * px.shape[1] // 3]
    assert float(np.percentile(centre, 90)) - float(np.percentile(centre, 10)) > 100
