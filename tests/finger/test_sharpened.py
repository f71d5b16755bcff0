"""Prints of unclear orientation read sharpened: a wet print's thin valleys deepened by
top-hats (``ExtractParams.tophat_certainty_below``, off by default) before LEADER reads it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.finger.enhance import sharpen_valleys
from mobileid.finger.extract import find_minutiae
from mobileid.finger.nfiq import print_quality
from mobileid.finger.pipeline import FingerPipeline
from mobileid.finger.quality import contrast_blocks
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation

_NONE = np.zeros((0, 5), dtype=np.float32)


def _cut(pipe: FingerPipeline, below: float) -> FingerPipeline:
    params = replace(pipe.extractor.params, tophat_certainty_below=below)
    return replace(pipe, extractor=replace(pipe.extractor, params=params))


def test_the_pipeline_id_names_the_option_only_when_it_is_on(templates: TemplateBank) -> None:
    on = _cut(templates.pipeline, 0.3).pipeline_id
    off = _cut(templates.pipeline, 0.0).pipeline_id
    assert "-thc" not in off and off == templates.pipeline.pipeline_id
    assert on.replace("-thc0.3s5", "") == off and on != off


def test_sharpening_deepens_a_wet_prints_valleys_and_leaves_the_plate(
    templates: TemplateBank,
) -> None:
    """DB4_B 108_1 wet: the grey levels inside the print spread further apart (valleys
    brighter, ridges darker), while the flat plate around it keeps its grey."""
    px = templates.pipeline.load_image(db4_imitation("108_1.tif", "wet")).pixels
    out = sharpen_valleys(px, 5)
    assert out.shape == px.shape and out.dtype == np.uint8
    h, w = px.shape
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    assert out[centre].std() > 1.3 * px[centre].std()
    blocks = contrast_blocks(px, 16, 6.0)  # the print's blocks; the rest is the plate
    inside = np.zeros(px.shape, dtype=bool)
    inside[: blocks.shape[0] * 16, : blocks.shape[1] * 16] = np.kron(blocks, np.ones((16, 16)))
    change = np.abs(out.astype(np.int16) - px.astype(np.int16))
    assert (~inside).any() and change[~inside].mean() < 1.0 and change[inside].mean() > 5.0


def test_a_wet_print_of_unclear_orientation_is_read_sharpened(templates: TemplateBank) -> None:
    """DB4_B 108_3 wet (orientation certainty under 0.3): on, its template holds the
    minutiae LEADER finds on the sharpened print; off, the reading is as before."""
    data = db4_imitation("108_3.tif", "wet")
    pipe = _cut(templates.pipeline, 0.3)
    image = pipe.load_image(data)
    assert print_quality(image.pixels, _NONE).certainty < 0.3
    on = pipe.enrol_bytes(data)
    off = _cut(pipe, 0.0).enrol_bytes(data)
    sharp = find_minutiae(sharpen_valleys(image.pixels, 5), pipe.extractor)
    assert np.array_equal(on.minutiae, sharp)
    assert not np.array_equal(on.minutiae, off.minutiae)
    # Quality is measured on the capture (with the minutiae kept), not the sharpened copy.
    assert on.quality == print_quality(image.pixels, on.minutiae).score


def test_a_clear_print_is_read_as_before(templates: TemplateBank) -> None:
    """DB4_B 101_1 as captured (certainty ~0.56): the same template with the option on."""
    data = shared_path("fingerprints", "FVC2002", "DB4_B", "101_1.tif").read_bytes()
    pipe = _cut(templates.pipeline, 0.3)
    assert print_quality(pipe.load_image(data).pixels, _NONE).certainty >= 0.3
    on, off = pipe.enrol_bytes(data), _cut(pipe, 0.0).enrol_bytes(data)
    assert np.array_equal(on.minutiae, off.minutiae)


@pytest.mark.parametrize("size", [2, 4, 1])
def test_a_top_hat_size_that_is_not_odd_and_at_least_3_is_refused(size: int) -> None:
    with pytest.raises(InvalidArgument, match="tophat_size: expected an odd number") as exc:
        sharpen_valleys(np.full((32, 32), 200, dtype=np.uint8), size)
    assert exc.value.field == "tophat_size"
