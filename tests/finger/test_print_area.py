"""The print's blocks with contrast, one mask for the polarity check, LEADER's crop, the
print's area and the sensor imitations; its area net of the sensor's noise."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mobileid.eval.finger_sensors import _plate_level
from mobileid.finger.quality import contrast_blocks, sensor_noise
from tests.conftest import shared_path
from tests.finger.prints import db4_imitation


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def _captured(name: str) -> np.ndarray:
    return _pixels(shared_path("fingerprints", "FVC2002", "DB4_B", name).read_bytes())


def test_noise_is_measured_apart_from_the_ridges() -> None:
    """DB4_B 103_2: a clean synthetic print has little pixel noise; its noisy imitation
    (noise of spread 14) is measured near that, ridges and plate alike."""
    assert sensor_noise(_captured("103_2.tif")) < 3.0
    assert 11.0 < sensor_noise(_pixels(db4_imitation("103_2.tif", "noisy"))) < 16.0


def test_noise_does_not_make_the_whole_frame_print() -> None:
    """Counted raw, noise gives the plate's blocks contrast and the print grows toward the
    frame; net of the noise the print keeps about its size as captured."""
    clean = int(contrast_blocks(_captured("103_2.tif"), 16, 6.0, net_of_noise=True).sum())
    noisy_px = _pixels(db4_imitation("103_2.tif", "noisy"))
    raw = int(contrast_blocks(noisy_px, 16, 6.0).sum())
    net = int(contrast_blocks(noisy_px, 16, 6.0, net_of_noise=True).sum())
    assert raw > 1.4 * clean
    assert abs(net - clean) < 0.15 * clean


def test_merged_and_broken_ridges_still_count_as_print() -> None:
    """Wet (merged) and dry (broken) imitations keep most of the print's area net of noise."""
    clean = int(contrast_blocks(_captured("103_2.tif"), 16, 6.0).sum())
    for sensor in ("wet", "dry"):
        px = _pixels(db4_imitation("103_2.tif", sensor))
        assert contrast_blocks(px, 16, 6.0, net_of_noise=True).sum() > 0.85 * clean, sensor


def test_the_plate_is_the_blocks_without_contrast() -> None:
    """DB4_B's grey plate: the imitations' plate level is the grey of the blocks the mask
    leaves out (a print's valleys are brighter, its ridges darker)."""
    g = _captured("103_2.tif").astype(np.float32)
    plate = ~contrast_blocks(g, 16, 2.0, 0.2)
    assert 0.08 < plate.mean() < 0.95
    assert 150.0 < _plate_level(g) < 190.0
