"""Contactless photos: a fingertip is found and scaled; non-finger photos are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mobileid.capture.decode import load_image_file
from mobileid.config import CaptureLimits
from mobileid.finger.contactless import fingertip_print
from mobileid.finger.errors import NotAFingerprint
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank


def _photo(name: str) -> bytes:
    return shared_path("contactless", "ISPFDv1_samples", name).read_bytes()


def test_fingertip_is_found_and_scaled() -> None:
    """The fingertip of a 12 MP photo is cut out and scaled to a ~500 ppi print size."""
    path = shared_path("contactless", "ISPFDv1_samples", "1_o_1_n_1.jpg")
    image, tip, period = fingertip_print(load_image_file(path, CaptureLimits()))
    left, top, right, bottom = tip.box
    assert 500 < left < right < 1900 and 500 < top < bottom < 2400  # the finger is central
    assert 12.0 < period < 30.0  # ridge period in the photo, px
    assert 700 < image.source_ppi < 1700 and image.ppi == 500.0
    assert 200 < image.width < 600 and 200 < image.height < 600


def test_same_finger_photos_outscore_another_finger(templates: TemplateBank) -> None:
    """Two photos of one finger (indoor/outdoor) score above a photo of another person's."""
    pipe = templates.pipeline
    a = pipe.enrol_photo(_photo("1_i_1_w_1.jpg"))
    b = pipe.enrol_photo(_photo("1_o_1_n_1.jpg"))
    other = pipe.enrol_photo(_photo("9_o_2_n_1.jpg"))
    assert a.pipeline_id == pipe.contactless_pipeline_id != pipe.pipeline_id
    genuine = pipe.compare(a, b).score
    assert genuine > 0.35
    assert genuine > pipe.compare(a, other).score + 0.1
    assert genuine > pipe.compare(b, other).score + 0.1


def test_face_photo_is_not_a_fingertip(templates: TemplateBank) -> None:
    """A face photo is skin-coloured but has no ridges: refused before extraction."""
    face = next(shared_path("faces", "face_recognition_samples").rglob("obama.jpg"))
    with pytest.raises(NotAFingerprint):
        templates.pipeline.enrol_photo(face.read_bytes())


def test_wall_photo_has_no_finger(templates: TemplateBank) -> None:
    """A grey wall photo has no skin-coloured region."""
    rng = np.random.default_rng(3)
    wall = np.clip(150 + rng.normal(0, 8, (600, 800, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(wall).save(out, format="JPEG")
    with pytest.raises(NotAFingerprint) as err:
        templates.pipeline.enrol_photo(out.getvalue())
    assert err.value.reasons == ("no_finger",)
