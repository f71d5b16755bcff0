"""A corpus of hostile and unusable files, generated from one real face photo and one real
fingerprint, each with the error the face and the finger path must answer with.

Every file is built here, in memory, in well under a second in all: truncated and corrupted
JPEG/PNG/WebP/TIFF/WSQ/HEIC, decompression bombs, huge dimensions, polyglots, files that are not
images at all, malformed EXIF, malformed ISO/ANSI minutiae records, a 1-pixel and a 100 MP image
and animations. The command-line and HTTP tests send each through the real front ends.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image

from mobileid.finger.records import to_ansi378, to_iso19794
from mobileid.finger.types import FingerTemplate
from tests.conftest import shared_path


@dataclass(frozen=True)
class Hostile:
    """One hostile file and the error code each modality must refuse it with."""

    name: str
    data: bytes
    face: str  # the stable error code of the face path
    finger: str  # the stable error code of the contact-print path


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc


def png(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    """A PNG built by hand, so its header can claim any size at almost no cost."""
    head = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", head) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _flip(data: bytes, at: int, length: int, seed: int = 13) -> bytes:
    """``data`` with ``length`` bytes from offset ``at`` made random (the same each run)."""
    noise = np.random.default_rng(seed).bytes(length)
    return data[:at] + noise + data[at + length :]


def _jpeg_with_exif(jpeg: bytes, exif: bytes) -> bytes:
    """``jpeg`` with an APP1 Exif segment holding ``exif`` right after its start marker."""
    body = b"Exif\x00\x00" + exif
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def _tiff_ifd(entries: list[tuple[int, int, int, int]], offset: int = 8) -> bytes:
    """A little-endian TIFF header and one IFD at ``offset``: (tag, type, count, value)."""
    out = b"II*\x00" + struct.pack("<I", offset) + b"\x00" * (offset - 8)
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHII", tag, kind, count, value)
    return out + struct.pack("<I", 0)


def _exif_bad_orientation() -> bytes:
    """Orientation 9 as a LONG: outside 1..8 and of the wrong type."""
    return _tiff_ifd([(0x0112, 4, 1, 9)])


def _exif_offset_outside() -> bytes:
    """An IFD whose one entry points 4 GB past the end of the segment."""
    return _tiff_ifd([(0x8769, 4, 1, 0xFFFFFFF0), (0x010F, 2, 4000, 0x7FFFFFFF)])


def _exif_loop() -> bytes:
    """An IFD whose next-IFD pointer is itself (an endless chain)."""
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0) + struct.pack("<I", 8)


def _tiff_strip_outside(face: Image.Image) -> bytes:
    """A valid TIFF whose strip offset points past the end of the file."""
    data = bytearray(encode(face, "TIFF"))
    img = Image.open(io.BytesIO(bytes(data)))
    offsets = img.tag_v2[273]  # StripOffsets
    first = offsets[0] if isinstance(offsets, tuple) else offsets
    at = bytes(data).index(struct.pack("<I", first), 8)
    data[at : at + 4] = struct.pack("<I", 0x7FFF0000)
    return bytes(data)


def _tiff_bomb() -> bytes:
    """A deflate-compressed 9000×9000 grey TIFF of zeros: 81 MP behind ~350 kB."""
    rows = zlib.compress(b"\x00" * 9000 * 9000, 1)
    entries = [
        (256, 4, 1, 9000), (257, 4, 1, 9000), (258, 3, 1, 8), (259, 3, 1, 8),
        (262, 3, 1, 1), (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, 9000),
        (279, 4, 1, len(rows)),
    ]  # fmt: skip
    head = _tiff_ifd(entries)
    return head + b"\x00" * (200 - len(head)) + rows


def _hundred_megapixels() -> bytes:
    """A valid, complete 10000×10000 1-bit PNG of ~12 kB."""
    return png(10000, 10000, 1, 0, zlib.compress(b"\x00" * (1251 * 10000), 9))


def _jpeg_claims(width: int, height: int, jpeg: bytes) -> bytes:
    """``jpeg`` whose frame header claims ``width``×``height``."""
    out = bytearray(jpeg)
    sof = out.index(b"\xff\xc0")
    out[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def _wsq_claims(width: int, height: int, wsq: bytes) -> bytes:
    out = bytearray(wsq)
    sof = out.index(b"\xff\xa2")  # WSQ start of frame: length, black, white, height, width
    out[sof + 6 : sof + 10] = struct.pack(">HH", height, width)
    return bytes(out)


def wsq_decoder_crash(wsq: bytes) -> bytes:
    """WSQ whose Huffman table segment gains one byte (0xFD) after its length: NBIS's C
    decoder then reads past its tables and segfaults (in 3 of 4 runs; found by the property
    tests in tests/finger/test_properties.py)."""
    at = wsq.index(b"\xff\xa6") + 4
    return wsq[:at] + b"\xfd" + wsq[at:]


def _template() -> FingerTemplate:
    """A template of 30 made-up minutiae: the records built from it are broken on purpose."""
    rng = np.random.default_rng(3)
    minutiae = np.column_stack(
        [rng.uniform(0, 300, 30), rng.uniform(0, 300, 30), rng.uniform(0, 6.28, 30),
         rng.integers(1, 3, 30), rng.uniform(0.3, 1, 30)]
    ).astype(np.float32)  # fmt: skip
    return FingerTemplate(minutiae, 388, 374, 500.0, 60.0, "test-pipeline")


def _gifar(gif: bytes) -> bytes:
    """A GIF with a ZIP archive (a Java jar) appended: a classic polyglot."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Main-Class: Evil\n")
    return gif + archive.getvalue()


def build_corpus(face_jpeg: bytes, print_tif: bytes) -> list[Hostile]:
    """The corpus, from a real face JPEG and a real contact print (any format Pillow reads)."""
    pillow_heif.register_heif_opener()
    import wsq  # type: ignore[import-untyped]  # noqa: F401  (registers the WSQ plugin)

    face = Image.open(io.BytesIO(face_jpeg)).convert("RGB")
    finger = Image.open(io.BytesIO(print_tif)).convert("L")
    png_face, webp, heic = encode(face, "PNG"), encode(face, "WEBP"), encode(face, "HEIF")
    tif, wsq_print = encode(face, "TIFF"), encode(finger, "WSQ")
    template = _template()
    iso, ansi = to_iso19794(template), to_ansi378(template)
    half = lambda b: b[: len(b) // 2]  # noqa: E731
    unsupported, corrupt = "unsupported_image", "corrupt_image"
    too_large, too_small, animated = "image_too_large", "image_too_small", "animated_image"
    nf = "not_a_fingerprint"  # a face photo given as a print
    items = [
        ("jpeg truncated", half(face_jpeg), corrupt, corrupt),
        ("jpeg header only", face_jpeg[:600], corrupt, corrupt),
        ("jpeg claims 65500x65500", _jpeg_claims(65500, 65500, face_jpeg), too_large, too_large),
        ("png truncated", half(png_face), corrupt, corrupt),
        ("png corrupted", _flip(png_face, len(png_face) // 2, 64), corrupt, corrupt),
        ("png bomb 60000x60000", png(60000, 60000, 8, 2, zlib.compress(b"\0" * 4096)),
         too_large, too_large),
        ("png 20000x40", png(20000, 40, 8, 0, zlib.compress(b"\0" * 20001 * 40)),
         too_large, too_large),
        ("png 100 megapixels", _hundred_megapixels(), too_large, too_large),
        ("png 1 pixel", encode(face.resize((1, 1)), "PNG"), too_small, too_small),
        ("webp truncated", half(webp), corrupt, corrupt),
        ("webp header corrupted", _flip(webp, 16, 32), corrupt, corrupt),
        ("tiff truncated", half(tif), corrupt, corrupt),
        ("tiff strip outside the file", _tiff_strip_outside(face), corrupt, corrupt),
        ("tiff bomb 9000x9000", _tiff_bomb(), too_large, too_large),
        ("heic truncated", half(heic), corrupt, corrupt),
        ("heic header corrupted", _flip(heic, 16, 32), corrupt, corrupt),
        ("wsq truncated", half(wsq_print), unsupported, "corrupt_fingerprint_image"),
        ("wsq corrupted", _flip(wsq_print, len(wsq_print) // 2, 300), unsupported,
         "corrupt_fingerprint_image"),
        ("wsq that crashes the decoder", wsq_decoder_crash(wsq_print), unsupported,
         "corrupt_fingerprint_image"),
        ("wsq claims 60000x60000", _wsq_claims(60000, 60000, wsq_print), unsupported, too_large),
        ("iso 19794-2 record cut short", iso[:40], unsupported, unsupported),
        ("ansi 378 record with a bad length", ansi[:8] + b"\xff\xff" + ansi[10:],
         unsupported, unsupported),
        ("pdf with a jpeg inside", b"%PDF-1.4\n1 0 obj\n<<>>\nstream\n" + face_jpeg, unsupported,
         unsupported),
        ("gif with a jar appended", _gifar(encode(Image.new("P", (8, 8)), "GIF")), too_small,
         too_small),
        ("html page", b"<!DOCTYPE html><html><script>alert(1)</script></html>", unsupported,
         unsupported),
        ("svg drawing", b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="9"/></svg>',
         unsupported, unsupported),
        ("shell script", b"#!/bin/sh\nrm -rf /\n" * 10, unsupported, unsupported),
        ("elf executable", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, unsupported, unsupported),
        ("empty file", b"", unsupported, unsupported),
        ("exif orientation 9", _jpeg_with_exif(face_jpeg, _exif_bad_orientation()), "", nf),
        ("exif offsets outside", _jpeg_with_exif(face_jpeg, _exif_offset_outside()), "", nf),
        ("exif loop", _jpeg_with_exif(face_jpeg, _exif_loop()), "", nf),
        ("exif garbage", _jpeg_with_exif(face_jpeg, b"\xde\xad" * 50), "", nf),
        ("animated gif", encode(face, "GIF", save_all=True, append_images=[face.rotate(90)]),
         animated, animated),
        ("animated png", encode(face, "PNG", save_all=True, append_images=[face.rotate(90)]),
         animated, animated),
        ("animated webp", encode(face, "WEBP", save_all=True, append_images=[face.rotate(90)]),
         animated, animated),
        ("multi-page tiff", encode(face, "TIFF", save_all=True, append_images=[face.rotate(90)]),
         animated, animated),
    ]  # fmt: skip
    return [Hostile(*item) for item in items]


FACE_SEED = ("faces", "lfw-dev", "Bill_Clinton", "Bill_Clinton_0010.jpg")
PRINT_SEED = ("fingerprints", "FVC2002", "DB1_B", "101_1.tif")


@functools.cache
def hostile_corpus() -> tuple[Hostile, ...]:
    """The corpus built from the shared data's seed photo and print, once per test session."""
    face, finger = shared_path(*FACE_SEED), shared_path(*PRINT_SEED)
    return tuple(build_corpus(face.read_bytes(), finger.read_bytes()))


def one_of_each() -> tuple[Hostile, ...]:
    """The first file of each distinct pair of answers (face, finger): for the slower paths."""
    seen: dict[tuple[str, str], Hostile] = {}
    for item in hostile_corpus():
        seen.setdefault((item.face, item.finger), item)
    return tuple(seen.values())
