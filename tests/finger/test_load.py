"""Loading contact prints: formats, resolution and the refusals of stage 1."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from mobileid.errors import CorruptImage, ImageTooSmall, UnsupportedImage
from mobileid.finger.errors import BadResolution, CorruptFingerprintImage, FingerprintTooSmall
from mobileid.finger.load import load_fingerprint
from tests.capture.corpus import wsq_decoder_crash
from tests.conftest import shared_path


def _afis(name: str) -> bytes:
    return shared_path("fingerprints", "sourceafis_test_images", name).read_bytes()


def _png(pixels: np.ndarray, dpi: tuple[float, float] | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", **({"dpi": dpi} if dpi else {}))
    return out.getvalue()


def test_wsq_decodes_like_its_png_conversion() -> None:
    """The WSQ sample decodes at its stated 500 ppi to the pixels of its PNG conversion."""
    image = load_fingerprint(_afis("wsq-original.wsq"))
    png = load_fingerprint(_afis("wsq-converted.png"))
    assert (image.format, image.width, image.height) == ("WSQ", 832, 768)
    assert (image.source_ppi, image.ppi_source) == (500.0, "file")
    diff = np.abs(image.pixels.astype(int) - png.pixels.astype(int))
    assert diff.mean() < 2.0


def test_png_bmp_jpeg_of_one_print_agree() -> None:
    """The same print as PNG (with alpha), BMP and JPEG loads as the same grey image."""
    png, bmp, jpeg = (load_fingerprint(_afis(f"probe.{x}")) for x in ("png", "bmp", "jpeg"))
    assert png.pixels.shape == bmp.pixels.shape == jpeg.pixels.shape == (374, 388)
    assert np.array_equal(png.pixels, bmp.pixels)
    assert np.abs(png.pixels.astype(int) - jpeg.pixels.astype(int)).mean() < 6.0


def test_placeholder_resolution_is_ignored() -> None:
    """FVC TIFFs state 1 ppi: 500 ppi is assumed and the image says so."""
    data = shared_path("fingerprints", "FVC2002", "DB1_B", "102_1.tif").read_bytes()
    image = load_fingerprint(data)
    assert (image.ppi, image.source_ppi, image.ppi_source) == (500.0, 500.0, "assumed")


def test_stated_and_given_resolution_rescale_to_500() -> None:
    """A 1000 ppi file is halved; the caller's ppi wins over the file's."""
    grey = load_fingerprint(_afis("probe.png")).pixels
    big = np.asarray(Image.fromarray(grey).resize((776, 748)))
    from_file = load_fingerprint(_png(big, (1000, 1000)))
    assert (from_file.width, from_file.height, from_file.ppi_source) == (388, 374, "file")
    given = load_fingerprint(_png(big, (1000, 1000)), ppi=500)
    assert (given.width, given.ppi_source) == (776, "caller")


@pytest.mark.parametrize("ppi", [100.0, 249.0, 2001.0, 1e9, math.nan, -500.0])
def test_absurd_ppi_is_refused(ppi: float) -> None:
    """A resolution no fingerprint reader produces is refused, naming the field."""
    with pytest.raises(BadResolution, match="ppi") as err:
        load_fingerprint(_afis("probe.png"), ppi=ppi)
    assert err.value.field == "ppi"


def test_absurd_ppi_in_file_is_refused() -> None:
    """A file stating 5000 ppi is refused rather than shrunk to a few pixels."""
    with pytest.raises(BadResolution):
        load_fingerprint(_png(np.full((400, 400), 128, np.uint8), (5000, 5000)))


def test_corrupt_wsq_is_refused() -> None:
    """Truncated or garbled WSQ data raises a corrupt-image error, not a crash."""
    data = _afis("wsq-original.wsq")
    for broken in (data[:40], data[:2] + b"\x00" * 100, data[: len(data) // 3]):
        with pytest.raises(CorruptImage):
            load_fingerprint(broken)
    assert issubclass(CorruptFingerprintImage, CorruptImage)


def test_wsq_that_crashes_the_decoder_is_refused_and_this_process_lives() -> None:
    """WSQ on which NBIS's C decoder segfaults is one refused print: the decoder runs in a
    child process (before, this test's own process died with the decoder)."""
    with pytest.raises(CorruptFingerprintImage, match="WSQ") as err:
        load_fingerprint(wsq_decoder_crash(_afis("wsq-original.wsq")), field="print")
    assert err.value.field == "print"


def test_tiny_crop_is_refused() -> None:
    """A 60x60 crop (about 3 mm) cannot hold a print."""
    crop = load_fingerprint(_afis("probe.png")).pixels[100:160, 100:160].copy()
    with pytest.raises(FingerprintTooSmall, match="at least 96 px") as err:
        load_fingerprint(_png(crop))
    assert isinstance(err.value, ImageTooSmall)


def test_not_an_image_is_refused() -> None:
    """Bytes that are no image format are refused by the shared decoder."""
    with pytest.raises(UnsupportedImage):
        load_fingerprint(b"%PDF-1.4 not a fingerprint")
