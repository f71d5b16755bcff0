"""decode_image / load_image_file: real face photos in many encodings, and hostile bytes."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pillow_heif
import pytest
from PIL import Image, PngImagePlugin

from mobileid.capture.decode import decode_image, load_image_file
from mobileid.config import CaptureLimits
from mobileid.errors import (
    AnimatedImage,
    CorruptImage,
    ImageTooLarge,
    ImageTooSmall,
    InputError,
    InvalidArgument,
    UnsupportedImage,
)

LIMITS = CaptureLimits()
LOSSY_MAD = 6.0  # grey levels; a re-encode at quality 90 stays well under this
Array = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def face_path(lfw_dev: Path) -> Path:
    return lfw_dev / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg"


@pytest.fixture(scope="module")
def face(face_path: Path) -> Image.Image:
    with Image.open(face_path) as img:
        return img.convert("RGB")  # 250×250


@pytest.fixture(scope="module")
def portrait(fr_samples: Path) -> Image.Image:
    with Image.open(fr_samples / "examples" / "obama.jpg") as img:
        return img.convert("RGB")  # 910×1137: not square, so a 90° turn shows


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def pixels(img: Image.Image) -> Array:
    return np.asarray(img.convert("RGB"))


def grey3(img: Image.Image) -> Array:
    return np.repeat(np.asarray(img.convert("L"))[:, :, None], 3, axis=2)


def mad(a: Array, b: Array) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def png_chunks(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG built by hand, so its header can claim any size at almost no cost."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def assert_input_error(exc: BaseException, cls: type[InputError], field: str, *hints: str) -> None:
    assert type(exc) is cls
    assert isinstance(exc, ValueError)
    assert exc.field == field
    message = str(exc)
    assert message.startswith(f"{field}: expected ")
    assert ", got " in message or " got " in message
    for hint in hints:
        assert hint in message, f"{hint!r} not in {message!r}"


# --- valid images ----------------------------------------------------------------------------


def test_real_jpeg_file_decodes_to_contiguous_rgb(face_path: Path) -> None:
    """A real LFW JPEG decodes to the same pixels as Pillow, with its hash, format and mode."""
    decoded = load_image_file(face_path, LIMITS)
    with Image.open(face_path) as img:
        expected = pixels(img)
    assert decoded.pixels.shape == (250, 250, 3)
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels.flags.c_contiguous and decoded.pixels.flags.writeable
    assert np.array_equal(decoded.pixels, expected)
    assert decoded.format == "JPEG" and decoded.source_mode == "RGB"
    assert decoded.sha256 == hashlib.sha256(face_path.read_bytes()).hexdigest()
    assert decoded.exif_orientation == 1


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "PPM"])
def test_lossless_formats_decode_exactly(face: Image.Image, fmt: str) -> None:
    """PNG, BMP, TIFF and PPM round-trip the face pixel for pixel."""
    decoded = decode_image(encode(face, fmt), LIMITS)
    assert decoded.format == fmt
    assert np.array_equal(decoded.pixels, pixels(face))


def test_real_photo_keeps_its_full_resolution(portrait: Image.Image) -> None:
    """A 910×1137 photo comes back at full size, height first, as 8-bit RGB."""
    decoded = decode_image(encode(portrait, "PNG"), LIMITS)
    assert decoded.pixels.shape == (1137, 910, 3)
    assert decoded.width == 910 and decoded.height == 1137


def heif_bytes(img: Image.Image) -> bytes:
    if not pillow_heif.libheif_info()["HEIF"]:
        pytest.skip("this libheif build has no HEVC encoder, so no HEIC can be written")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(img).save(buffer, quality=90)
    return buffer.getvalue()


LOSSY: list[tuple[str, Callable[[Image.Image], bytes], str, str]] = [
    ("webp", lambda im: encode(im, "WEBP", quality=90), "WEBP", "RGB"),
    ("heic", heif_bytes, "HEIF", "RGB"),
    ("cmyk-jpeg", lambda im: encode(im.convert("CMYK"), "JPEG", quality=95), "JPEG", "CMYK"),
    (
        "mpo",
        lambda im: encode(im, "MPO", save_all=True, append_images=[im.rotate(90)], quality=95),
        "MPO",
        "RGB",
    ),
]


@pytest.mark.parametrize(
    ("build", "fmt", "mode"), [pytest.param(*case[1:], id=case[0]) for case in LOSSY]
)
def test_lossy_formats_decode_close_to_the_original(
    face: Image.Image, build: Callable[[Image.Image], bytes], fmt: str, mode: str
) -> None:
    """WebP, HEIC, CMYK JPEG and MPO (JPEG + extra picture) decode close to the face, as RGB."""
    decoded = decode_image(build(face), LIMITS)
    assert (decoded.format, decoded.source_mode) == (fmt, mode)
    assert decoded.pixels.shape == (250, 250, 3) and decoded.pixels.dtype == np.uint8
    assert mad(decoded.pixels, pixels(face)) < LOSSY_MAD


def test_orl_pgm_decodes_as_grey_rgb(orl_faces: Path) -> None:
    """An ORL PGM (8-bit grey) becomes three equal channels of the same grey."""
    path = orl_faces / "s1" / "1.pgm"
    decoded = load_image_file(path, LIMITS)
    with Image.open(path) as img:
        expected = grey3(img)
    assert (decoded.format, decoded.source_mode) == ("PPM", "L")
    assert decoded.pixels.shape == (112, 92, 3)
    assert np.array_equal(decoded.pixels, expected)


def test_greyscale_png_decodes_exactly(face: Image.Image) -> None:
    """An 8-bit greyscale PNG decodes to its grey levels on all three channels."""
    decoded = decode_image(encode(face.convert("L"), "PNG"), LIMITS)
    assert decoded.source_mode == "L"
    assert np.array_equal(decoded.pixels, grey3(face))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "PPM"])
def test_sixteen_bit_grey_scales_back_to_the_8bit_picture(face: Image.Image, fmt: str) -> None:
    """16-bit grey (v×257) in PNG, TIFF and PGM comes back as exactly the 8-bit grey."""
    wide = np.asarray(face.convert("L")).astype(np.uint16) * 257
    decoded = decode_image(encode(Image.fromarray(wide), fmt), LIMITS)
    assert decoded.source_mode in ("I;16", "I;16B", "I")
    assert np.array_equal(decoded.pixels, grey3(face))


def test_sixteen_bit_full_range_is_scaled_not_clipped() -> None:
    """A 0..65535 ramp maps onto 0..255 in order (Pillow's own convert would clip at 255)."""
    ramp = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    grey = decode_image(encode(Image.fromarray(ramp), "PNG"), LIMITS).pixels[:, :, 0]
    assert grey.min() == 0 and grey.max() == 255
    assert np.all(np.diff(grey.ravel().astype(np.int16)) >= 0)
    assert abs(int(grey.ravel()[len(ramp.ravel()) // 2]) - 128) <= 1


def test_float_tiff_is_stretched_over_its_own_range() -> None:
    """A float image holding 0..1 spans 0..255 after decoding, not two grey levels."""
    ramp = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    decoded = decode_image(encode(Image.fromarray(ramp), "TIFF"), LIMITS)
    assert decoded.source_mode == "F"
    assert decoded.pixels.min() == 0 and decoded.pixels.max() == 255


def test_palette_png_and_gif_decode_to_their_colours(face: Image.Image) -> None:
    """Palette PNG and single-frame GIF give the palette's colours, close to the photo."""
    paletted = face.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    for fmt in ("PNG", "GIF"):
        decoded = decode_image(encode(paletted, fmt), LIMITS)
        assert (decoded.format, decoded.source_mode) == (fmt, "P")
        assert np.array_equal(decoded.pixels, pixels(paletted))
        assert mad(decoded.pixels, pixels(face)) < LOSSY_MAD


def test_alpha_is_composited_over_mid_grey(face: Image.Image) -> None:
    """RGBA: opaque pixels stay, transparent ones become 128 grey, half-alpha ones blend."""
    alpha = np.full((250, 250), 255, dtype=np.uint8)
    alpha[:, 125:200] = 0
    alpha[:, 200:] = 128
    rgba = face.copy()
    rgba.putalpha(Image.fromarray(alpha))
    decoded = decode_image(encode(rgba, "PNG"), LIMITS)
    original = pixels(face).astype(np.int16)
    assert decoded.source_mode == "RGBA"
    assert np.array_equal(decoded.pixels[:, :125], original[:, :125])
    assert np.all(decoded.pixels[:, 125:200] == 128)
    blend = (original[:, 200:] + 128) / 2
    assert np.abs(decoded.pixels[:, 200:] - blend).max() <= 1.5


def test_palette_transparency_becomes_mid_grey(face: Image.Image) -> None:
    """A palette PNG's transparent index is composited over grey, like an alpha channel."""
    paletted = face.convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    img = paletted.copy()
    img.putpalette([*(paletted.getpalette() or []), 255, 0, 0])  # entry 255: red, see-through
    img.paste(255, (0, 0, 40, 40))
    decoded = decode_image(encode(img, "PNG", transparency=255), LIMITS)
    assert np.all(decoded.pixels[:40, :40] == 128)
    assert np.array_equal(decoded.pixels[40:, 40:], pixels(paletted)[40:, 40:])


# EXIF orientation k: how the camera stored an upright picture, and how to turn it back.
STORED = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}
TURN_BACK = {3: 2, 6: -1, 8: 1}  # quarter turns for np.rot90 (positive: anticlockwise)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(portrait: Image.Image, orientation: int) -> None:
    """A JPEG stored sideways or upside down with an EXIF tag decodes upright."""
    stored = portrait.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = decode_image(encode(stored, "JPEG", quality=90, exif=exif.tobytes()), LIMITS)
    plain = decode_image(encode(stored, "JPEG", quality=90), LIMITS)
    assert tagged.exif_orientation == orientation and plain.exif_orientation == 1
    assert tagged.pixels.shape == (1137, 910, 3)
    assert np.array_equal(tagged.pixels, np.rot90(plain.pixels, TURN_BACK[orientation]))
    assert mad(tagged.pixels, pixels(portrait)) < LOSSY_MAD


def test_content_not_file_name_decides_the_format(face: Image.Image, tmp_path: Path) -> None:
    """A PNG saved as face.jpg is read as PNG, losslessly."""
    path = tmp_path / "face.jpg"
    path.write_bytes(encode(face, "PNG"))
    decoded = load_image_file(str(path), LIMITS)
    assert decoded.format == "PNG"
    assert np.array_equal(decoded.pixels, pixels(face))


# --- refused inputs --------------------------------------------------------------------------


def animated(fmt: str) -> Callable[[Image.Image], bytes]:
    return lambda im: encode(im, fmt, save_all=True, append_images=[im.rotate(90)])


def half(fmt: str) -> Callable[[Image.Image], bytes]:
    return lambda im: encode(im, fmt)[: len(encode(im, fmt)) // 2]


def one_bit_10000_square(_: Image.Image) -> bytes:
    """A valid 10000×10000 1-bit PNG of ~12 kB: 100 megapixels behind a tiny file."""
    rows = b"\x00" * ((1 + 10000 // 8) * 10000)
    return png_chunks(10000, 10000, 1, 0, zlib.compress(rows, 9))


def gif_frame_bomb(_: Image.Image) -> bytes:
    """A 40×40 GIF whose first frame claims 65535×65535: Pillow's own bomb check fires."""
    gif = bytearray(encode(Image.new("P", (40, 40)), "GIF"))
    frame = gif.index(b",")  # image descriptor: left, top, width, height (little-endian)
    gif[frame + 5 : frame + 9] = struct.pack("<HH", 65535, 65535)
    return bytes(gif)


SMALL_LIMITS = CaptureLimits(max_file_bytes=1000, max_pixels=10_000, max_dimension=200)

REFUSED: list[tuple[str, Callable[[Image.Image], bytes], CaptureLimits, type[InputError], str]] = [
    ("empty", lambda im: b"", LIMITS, UnsupportedImage, "empty"),
    ("text", lambda im: b"Dear officer,\nplease find the photo attached.\n", LIMITS,
     UnsupportedImage, "got text"),
    ("pdf", lambda im: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", LIMITS,
     UnsupportedImage, "PDF"),
    ("random", lambda im: np.random.default_rng(7).bytes(4096), LIMITS, UnsupportedImage,
     "unrecognised bytes"),
    ("avif", lambda im: encode(im, "AVIF"), LIMITS, UnsupportedImage, "AVIF"),
    ("truncated-jpeg", half("JPEG"), LIMITS, CorruptImage, "JPEG"),
    ("truncated-png", half("PNG"), LIMITS, CorruptImage, "PNG"),
    ("one-pixel", lambda im: encode(im.resize((1, 1)), "PNG"), LIMITS, ImageTooSmall, "1x1"),
    ("over-file-bytes", lambda im: encode(im, "PNG"), SMALL_LIMITS, ImageTooLarge, "1,000 bytes"),
    ("over-dimension", lambda im: encode(im, "JPEG"),
     CaptureLimits(max_dimension=200), ImageTooLarge, "250x250"),
    ("over-pixels", lambda im: encode(im, "JPEG"),
     CaptureLimits(max_pixels=10_000), ImageTooLarge, "62,500 pixels"),
    ("claims-65535-square", lambda im: png_chunks(65535, 65535, 8, 0, zlib.compress(b"\0")),
     LIMITS, ImageTooLarge, "65535x65535"),
    ("100-megapixels", one_bit_10000_square, LIMITS, ImageTooLarge, "100,000,000 pixels"),
    ("gif-frame-bomb", gif_frame_bomb, LIMITS, ImageTooLarge, "decompression bomb"),
    ("animated-gif", animated("GIF"), LIMITS, AnimatedImage, "2 frames"),
    ("animated-png", animated("PNG"), LIMITS, AnimatedImage, "2 frames"),
    ("animated-webp", animated("WEBP"), LIMITS, AnimatedImage, "2 frames"),
    ("multi-page-tiff", animated("TIFF"), LIMITS, AnimatedImage, "2 frames"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "limits", "error", "hint"), [pytest.param(*case[1:], id=case[0]) for case in REFUSED]
)
def test_refused_inputs_raise_the_right_error(
    face: Image.Image,
    build: Callable[[Image.Image], bytes],
    limits: CaptureLimits,
    error: type[InputError],
    hint: str,
) -> None:
    """Each hostile or unusable input raises its own error class, naming field/expected/got."""
    with pytest.raises(error) as caught:
        decode_image(build(face), limits, field="probe")
    assert_input_error(caught.value, error, "probe", hint)


def test_unsupported_message_lists_what_is_expected() -> None:
    """The UnsupportedImage message names the accepted formats, for the person uploading."""
    with pytest.raises(UnsupportedImage) as caught:
        decode_image(b"%PDF-1.4\n", LIMITS)
    assert_input_error(caught.value, UnsupportedImage, "image", "JPEG", "HEIC", "PGM", "a PDF")


def test_huge_header_is_refused_before_any_pixel_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pixel limit is checked from the header: the PNG decoder never runs."""

    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLarge):
        decode_image(one_bit_10000_square(Image.new("L", (1, 1))), LIMITS)


def test_pillow_global_bomb_limit_is_left_alone() -> None:
    """Decoding, even a refused 4-gigapixel header, does not touch Image.MAX_IMAGE_PIXELS."""
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLarge):
        decode_image(png_chunks(65535, 65535, 8, 0, zlib.compress(b"\0")), LIMITS)
    assert before == Image.MAX_IMAGE_PIXELS


def test_text_string_instead_of_bytes_is_an_invalid_argument() -> None:
    """Passing a str (a path or text) instead of bytes says to read in binary mode."""
    with pytest.raises(InvalidArgument) as caught:
        decode_image("photo.jpg", LIMITS)  # type: ignore[arg-type]
    assert_input_error(caught.value, InvalidArgument, "image", "binary")


# --- load_image_file -------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A path that does not exist raises InvalidArgument quoting the path."""
    missing = tmp_path / "nowhere" / "probe.jpg"
    with pytest.raises(InvalidArgument) as caught:
        load_image_file(missing, LIMITS, field="probe")
    assert_input_error(caught.value, InvalidArgument, "probe", str(missing))


def test_directory_is_not_an_image_file(tmp_path: Path) -> None:
    """A directory is refused as not a regular file, before any read."""
    with pytest.raises(InvalidArgument) as caught:
        load_image_file(tmp_path, LIMITS)
    assert_input_error(caught.value, InvalidArgument, "image", "expected a regular file")
    assert "(a folder)" in caught.value.message


def test_oversized_file_is_refused_from_its_size_alone(tmp_path: Path) -> None:
    """A sparse 64 GiB file is refused from stat in no time: it is never read."""
    path = tmp_path / "huge.jpg"
    with path.open("wb") as stream:
        stream.truncate(64 * 1024**3)
    with pytest.raises(ImageTooLarge) as caught:
        load_image_file(path, LIMITS)
    assert_input_error(caught.value, ImageTooLarge, "image", "31,457,280 bytes")
