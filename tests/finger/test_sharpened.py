"""Prints of unclear orientation read sharpened: a wet print's thin valleys deepened by
top-hats (``ExtractParams.tophat_certainty_below``, on: 0.3) before LEADER reads it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mobileid.errors import InvalidArgument, PipelineMismatch
from mobileid.finger.enhance import sharpen_valleys
from mobileid.finger.extract import find_minutiae, reads_sharpened
from mobileid.finger.nfiq import orientation_certainty, print_quality
from mobileid.finger.pipeline import FingerPipeline
from mobileid.finger.quality import contrast_blocks
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation

_NONE = np.zeros((0, 5), dtype=np.float32)


def _cut(pipe: FingerPipeline, below: float) -> FingerPipeline:
    params = replace(pipe.extractor.params, tophat_certainty_below=below)
    return replace(pipe, extractor=replace(pipe.extractor, params=params))


def test_the_pipeline_id_names_the_option_and_older_templates_are_refused(
    templates: TemplateBank,
) -> None:
    """Shipped on (cut 0.3, certainty net of noise, 5 px): the id names it; off, the id is the
    earlier tables' one, and a template stored under it is not compared with today's."""
    pipe = templates.pipeline
    shipped, off = pipe.pipeline_id, _cut(pipe, 0.0).pipeline_id
    plain = replace(pipe.extractor.params, tophat_net_of_noise=False)
    plain_id = replace(pipe, extractor=replace(pipe.extractor, params=plain)).pipeline_id
    assert "-thc0.3ns5" in shipped and "-thc" not in off
    assert shipped.replace("-thc0.3ns5", "") == off
    assert plain_id == shipped.replace("-thc0.3ns5", "-thc0.3s5")
    t = templates.db1("104_1.tif")
    with pytest.raises(PipelineMismatch, match="thc"):
        pipe.compare(t, replace(t, pipeline_id=off))


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
    assert orientation_certainty(image.pixels, net_of_noise=True) < 0.3
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
    assert orientation_certainty(pipe.load_image(data).pixels, net_of_noise=True) >= 0.3
    on, off = pipe.enrol_bytes(data), _cut(pipe, 0.0).enrol_bytes(data)
    assert np.array_equal(on.minutiae, off.minutiae)


def test_the_gates_certainty_is_the_qualitys_own_feature(templates: TemplateBank) -> None:
    """Counted over every block with contrast, the gate's certainty is the quality's
    ``certainty`` feature (measured alone: no spectra, no minutiae)."""
    for name, sensor in (("108_3.tif", "wet"), ("105_3.tif", "noisy")):
        px = templates.pipeline.load_image(db4_imitation(name, sensor)).pixels
        assert orientation_certainty(px) == print_quality(px, _NONE).certainty


def test_a_noisy_sensors_plate_does_not_send_a_clear_print_to_the_sharpened_reading(
    templates: TemplateBank,
) -> None:
    """DB4_B 103_1 noisy (noise of spread 14): over every block with contrast its certainty
    is 0.25, the plate's noise counting as print; net of the noise, 0.67."""
    pipe = _cut(templates.pipeline, 0.3)
    px = pipe.load_image(db4_imitation("103_1.tif", "noisy")).pixels
    assert orientation_certainty(px) < 0.3 <= orientation_certainty(px, net_of_noise=True)
    assert not reads_sharpened(px, pipe.extractor.params)
    plain = replace(pipe.extractor.params, tophat_net_of_noise=False)
    assert reads_sharpened(px, plain)


@pytest.mark.parametrize("size", [2, 4, 1])
def test_a_top_hat_size_that_is_not_odd_and_at_least_3_is_refused(size: int) -> None:
    with pytest.raises(InvalidArgument, match="tophat_size: expected an odd number") as exc:
        sharpen_valleys(np.full((32, 32), 200, dtype=np.uint8), size)
    assert exc.value.field == "tophat_size"
