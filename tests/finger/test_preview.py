"""The preview check of finger frames (``finger.preview``) on real data the API tests leave out:
fingertips on a black ground (the IMPOSE renders) and contact prints judged as a scanner's
preview."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.finger.load import load_fingerprint
from mobileid.finger.preview import ADVICE, preview_fingertips, preview_print
from tests.conftest import shared_path


def _decoded(image: Image.Image):  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return decode_image(buf.getvalue(), CaptureLimits())


@pytest.mark.parametrize("name", ["sample1_0.png", "sample2_-13.png", "sample1_-46.png"])
def test_a_fingertip_on_a_black_ground_is_not_called_dark(name: str) -> None:
    """An IMPOSE render (a bright fingertip on black, its frame's mean luma ~25) passes: the
    frame's darkness is judged on its bright part, the fingertip's on the fingertip."""
    with Image.open(shared_path("contactless", "impose_samples", "multi_pose_CL", name)) as im:
        found = preview_fingertips(_decoded(im.convert("RGB")))
    assert found.ok is True and found.problems == (), found
    assert len(found.tips) == 1 and found.tips[0].ridge_period_px is not None


def test_contact_prints_pass_and_empty_or_saturated_plates_get_advice() -> None:
    """FVC2002 DB1_B prints pass the contact gates; an empty plate and an almost all-black one
    are refused with advice; every problem code has its advice."""
    for k in (1, 3, 8):
        data = shared_path("fingerprints", "FVC2002", "DB1_B", f"104_{k}.tif").read_bytes()
        assert preview_print(load_fingerprint(data)).ok is True
    rng = np.random.default_rng(7)
    empty = np.full((400, 400), 200, dtype=np.uint8)
    black = np.where(rng.random((400, 400)) < 0.97, 0, 128).astype(np.uint8)
    for pixels, problem in ((empty, "no_print"), (black, "dark")):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG")
        found = preview_print(load_fingerprint(buf.getvalue()))
        assert (found.ok, found.problems) == (False, (problem,)), found
        assert found.advice == (ADVICE[problem],)
