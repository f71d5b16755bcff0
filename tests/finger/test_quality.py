"""Stage 2 refuses what is not a usable fingerprint, each with its own reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mobileid.errors import LowQualityCapture
from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.load import load_fingerprint
from mobileid.finger.quality import check_fingerprint
from tests.conftest import shared_path


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _reasons(data: bytes) -> tuple[str, ...]:
    with pytest.raises(NotAFingerprint) as err:
        check_fingerprint(load_fingerprint(data))
    assert isinstance(err.value, LowQualityCapture)
    return err.value.reasons


def test_real_prints_pass() -> None:
    """FVC and SourceAFIS prints, the binarised DB1_B 101_1 included, pass the ridge check."""
    for parts in (
        ("FVC2002", "DB1_B", "101_1.tif"),
        ("FVC2002", "DB4_B", "105_3.tif"),
        ("sourceafis_test_images", "wsq-original.wsq"),
    ):
        q = check_fingerprint(load_fingerprint(shared_path("fingerprints", *parts).read_bytes()))
        assert q.ridge_fraction > 0.12 and 0.07 < q.mean_frequency < 0.2


def test_blank_image_is_refused() -> None:
    """A flat grey image (a wall, a lens cap) is blank."""
    rng = np.random.default_rng(0)
    flat = np.clip(128 + rng.normal(0, 1, (400, 400)), 0, 255).astype(np.uint8)
    assert _reasons(_png(flat)) == ("blank",)


def test_saturated_image_is_refused() -> None:
    """An over-exposed capture, nearly all white, is saturated."""
    white = np.full((400, 400), 255, np.uint8)
    white[:10, :10] = 0
    assert _reasons(_png(white)) == ("saturated",)


def test_textured_wall_is_refused() -> None:
    """A wall with shading and grain has contrast but no ridge pattern."""
    rng = np.random.default_rng(1)
    x = np.mgrid[0:480, 0:480][1]
    wall = 120 + 40 * np.sin(x / 90.0) + rng.normal(0, 12, (480, 480))
    assert _reasons(_png(np.clip(wall, 0, 255).astype(np.uint8))) == ("no_ridges",)


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_face_photo_is_refused(name: str) -> None:
    """A face photo is refused as not a fingerprint."""
    path = next(shared_path("faces", "face_recognition_samples").rglob(name))
    assert _reasons(path.read_bytes()) == ("no_ridges",)
