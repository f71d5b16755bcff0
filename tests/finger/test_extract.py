"""LEADER runs on the print's bounding box; minutiae come back in whole-image coordinates."""

from __future__ import annotations

import numpy as np

from mobileid.finger.extract import foreground_box
from mobileid.finger.params import ExtractParams
from tests.finger.bank import TemplateBank


def test_the_box_holds_the_print_and_its_minutiae(templates: TemplateBank) -> None:
    """On a real DB1_B print the box is smaller than the frame and holds every minutia."""
    params = ExtractParams()
    image = templates.pipeline.load_image(_bytes("101_1.tif"))
    top, bottom, left, right = foreground_box(image.pixels, params)
    assert (bottom - top) * (right - left) < image.pixels.size
    m = templates.db1("101_1.tif").minutiae
    assert m[:, 0].min() >= left and m[:, 0].max() < right
    assert m[:, 1].min() >= top and m[:, 1].max() < bottom


def test_a_blank_or_tiny_image_keeps_the_whole_frame() -> None:
    params = ExtractParams()
    assert foreground_box(np.full((200, 300), 128.0, dtype=np.float32), params) == (0, 200, 0, 300)
    assert foreground_box(np.zeros((10, 10), dtype=np.float32), params) == (0, 10, 0, 10)


def _bytes(name: str) -> bytes:
    from tests.conftest import shared_path

    return shared_path("fingerprints", "FVC2002", "DB1_B", name).read_bytes()
