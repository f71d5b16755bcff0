"""Minutiae records: ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 (finger minutiae format).

Both are big-endian: a record header, then per finger view a 4-byte view header, 6 bytes per
minutia (2-bit type + 14-bit x; 2 reserved bits + 14-bit y; angle byte; quality byte) and an
extended-data length (extended data is skipped on reading and never written).

=========================  ===========================  ===================================
                           ISO/IEC 19794-2:2005         ANSI INCITS 378-2004
=========================  ===========================  ===================================
record length              4 bytes                      2 bytes (or 0 + 4 bytes if > 65535)
CBEFF product id           absent                       4 bytes
header size                24 bytes                     26 bytes (30 with the long length)
angle unit                 360/256 degrees (0..255)     2 degrees (0..179)
=========================  ===========================  ===================================

Angles run counter-clockwise from the x axis, the convention of :mod:`mobileid.finger.types`;
coordinates are pixels from the top left; resolution is in pixels per centimetre. The minutia
types are 1 (ridge ending), 2 (bifurcation), 0 (other). Writing quantises the angle to the
unit above and positions to whole pixels; reading rebuilds a ``FingerTemplate`` with the
``pipeline_id`` the caller vouches for (a record does not say how its minutiae were found).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from mobileid.finger.errors import MalformedTemplateRecord
from mobileid.finger.types import FingerTemplate

__all__ = ["RecordView", "read_ansi378", "read_iso19794", "to_ansi378", "to_iso19794"]

_MAGIC = b"FMR\x00"
_VERSION = b" 20\x00"
_PPCM_PER_PPI = 1.0 / 2.54


@dataclass(frozen=True)
class RecordView:
    """One finger view of a record: where the finger sits on the hand and its template."""

    finger_position: int  # 0 unknown, 1 right thumb ... 10 left little (ISO/ANSI table)
    view_number: int
    impression_type: int  # 0 live-scan plain, 1 live-scan rolled, 2/3 non-live, 8 swipe
    template: FingerTemplate


@dataclass(frozen=True)
class _Format:
    name: str
    angle_units: int  # angle codes per full turn
    max_angle_code: int


_ISO = _Format("ISO/IEC 19794-2:2005", 256, 255)
_ANSI = _Format("ANSI INCITS 378-2004", 180, 179)


def to_iso19794(
    template: FingerTemplate, *, finger_position: int = 0, impression_type: int = 0
) -> bytes:
    """An ISO/IEC 19794-2:2005 record with one finger view holding ``template``."""
    view = _view_bytes(template, finger_position, impression_type, _ISO)
    header_size = 24
    head = _MAGIC + _VERSION + struct.pack(">I", header_size + len(view))
    return head + _image_header(template) + view


def to_ansi378(
    template: FingerTemplate,
    *,
    finger_position: int = 0,
    impression_type: int = 0,
    product_id: int = 0,
) -> bytes:
    """An ANSI INCITS 378-2004 record with one finger view; ``product_id`` is CBEFF's."""
    view = _view_bytes(template, finger_position, impression_type, _ANSI)
    total = 26 + len(view)
    length = struct.pack(">H", total) if total <= 0xFFFF else struct.pack(">HI", 0, total + 4)
    body = struct.pack(">I", product_id & 0xFFFFFFFF) + _image_header(template) + view
    return _MAGIC + _VERSION + length + body


def read_iso19794(data: bytes, *, pipeline_id: str) -> tuple[RecordView, ...]:
    """Parse an ISO/IEC 19794-2:2005 record; ``MalformedTemplateRecord`` when it is not one."""
    _check_start(data, _ISO)
    declared = struct.unpack(">I", data[8:12])[0]
    return _read_views(data, 12, declared, pipeline_id, _ISO)


def read_ansi378(data: bytes, *, pipeline_id: str) -> tuple[RecordView, ...]:
    """Parse an ANSI INCITS 378-2004 record; ``MalformedTemplateRecord`` when it is not one."""
    _check_start(data, _ANSI)
    declared, at = struct.unpack(">H", data[8:10])[0], 10
    if declared == 0:
        _need(data, 14, "record length", _ANSI)
        declared, at = struct.unpack(">I", data[10:14])[0], 14
    return _read_views(data, at + 4, declared, pipeline_id, _ANSI)  # skip the CBEFF product id


def _bad(fmt: _Format, field: str, expected: str, got: object) -> MalformedTemplateRecord:
    return MalformedTemplateRecord(
        f"{fmt.name} record, {field}: expected {expected}, got {got}", field=field
    )


def _need(data: bytes, size: int, field: str, fmt: _Format) -> None:
    if len(data) < size:
        raise _bad(fmt, field, f"at least {size} bytes of record", f"{len(data)} bytes")


def _check_start(data: bytes, fmt: _Format) -> None:
    if not isinstance(data, bytes | bytearray):
        raise _bad(fmt, "record", "bytes", type(data).__name__)
    _need(data, 24, "header", fmt)
    if data[:4] != _MAGIC:
        raise _bad(fmt, "format identifier", repr(_MAGIC), repr(bytes(data[:4])))
    if data[4:8] != _VERSION:
        raise _bad(fmt, "version", repr(_VERSION), repr(bytes(data[4:8])))


def _image_header(t: FingerTemplate) -> bytes:
    ppcm = round(t.ppi * _PPCM_PER_PPI)
    return struct.pack(">HHHHHBB", 0, t.width, t.height, ppcm, ppcm, 1, 0)


def _view_bytes(t: FingerTemplate, position: int, impression: int, fmt: _Format) -> bytes:
    if not 0 <= position <= 10:
        raise _bad(fmt, "finger_position", "0..10", position)
    if not 0 <= impression <= 15:
        raise _bad(fmt, "impression_type", "0..15", impression)
    m = t.minutiae[:255]  # the count is one byte
    if max(t.width, t.height) > 0x3FFF:
        raise _bad(fmt, "image size", "at most 16383 px per side", f"{t.width}x{t.height}")
    out = bytearray(struct.pack(">BBBB", position, impression & 0x0F, _byte(t.quality), m.shape[0]))
    for x, y, angle, kind, quality in m.tolist():
        code = round((angle % (2 * math.pi)) / (2 * math.pi) * fmt.angle_units) % fmt.angle_units
        xi = min(max(round(x), 0), 0x3FFF)
        yi = min(max(round(y), 0), 0x3FFF)
        out += struct.pack(">HHBB", (int(kind) & 3) << 14 | xi, yi, code, _byte(100.0 * quality))
    out += struct.pack(">H", 0)  # no extended data
    return bytes(out)


def _byte(value: float) -> int:
    return int(min(max(round(value), 0), 100))


def _read_views(
    data: bytes, at: int, declared: int, pipeline_id: str, fmt: _Format
) -> tuple[RecordView, ...]:
    if declared != len(data):
        raise _bad(fmt, "record length", f"the {len(data)} bytes given", declared)
    _need(data, at + 14, "image header", fmt)
    _, width, height, xres, yres, views, _ = struct.unpack(">HHHHHBB", data[at : at + 12])
    if width == 0 or height == 0:
        raise _bad(fmt, "image size", "a positive width and height", f"{width}x{height}")
    if xres == 0 or yres == 0:
        raise _bad(fmt, "resolution", "positive pixels per cm", f"{xres}x{yres}")
    if views == 0:
        raise _bad(fmt, "number of finger views", "at least 1", 0)
    pos, out = at + 12, []
    for v in range(views):
        view, pos = _read_view(
            data, pos, (width, height, float(round(xres * 2.54))), pipeline_id, fmt, v
        )
        out.append(view)
    if pos != len(data):
        raise _bad(fmt, "record length", f"{pos} bytes for {views} views", f"{len(data)} bytes")
    return tuple(out)


def _read_view(
    data: bytes, pos: int, image: tuple[int, int, float], pipeline_id: str, fmt: _Format, v: int
) -> tuple[RecordView, int]:
    width, height, ppi = image
    _need(data, pos + 4, f"view {v} header", fmt)
    position, view_imp, quality, count = struct.unpack(">BBBB", data[pos : pos + 4])
    if position > 10:
        raise _bad(fmt, f"view {v} finger position", "0..10", position)
    if quality > 100:
        raise _bad(fmt, f"view {v} finger quality", "0..100", quality)
    pos += 4
    _need(data, pos + 6 * count + 2, f"view {v} minutiae ({count} declared)", fmt)
    raw = np.frombuffer(data, dtype=">u2", count=3 * count, offset=pos).reshape(count, 3)
    kinds, xs, ys = raw[:, 0] >> 14, raw[:, 0] & 0x3FFF, raw[:, 1] & 0x3FFF
    angles, qualities = raw[:, 2] >> 8, raw[:, 2] & 0xFF
    checks = (
        ("minutia x", xs >= width, f"< image width {width}"),
        ("minutia y", ys >= height, f"< image height {height}"),
        ("minutia type", kinds == 3, "0, 1 or 2"),
        ("minutia angle", angles > fmt.max_angle_code, f"0..{fmt.max_angle_code}"),
        ("minutia quality", qualities > 100, "0..100"),
    )
    for name, bad, expected in checks:
        if bad.any():
            i = int(np.argmax(bad))
            got = {
                "minutia x": xs,
                "minutia y": ys,
                "minutia type": kinds,
                "minutia angle": angles,
                "minutia quality": qualities,
            }[name][i]
            raise _bad(fmt, f"view {v} {name} (minutia {i})", expected, int(got))
    pos += 6 * count
    extended = struct.unpack(">H", data[pos : pos + 2])[0]
    _need(data, pos + 2 + extended, f"view {v} extended data ({extended} bytes declared)", fmt)
    pos += 2 + extended
    minutiae = np.stack(
        [xs, ys, angles * (2 * math.pi / fmt.angle_units), kinds, qualities / 100.0], axis=1
    )
    template = FingerTemplate(
        minutiae=minutiae.astype(np.float32),
        width=width,
        height=height,
        ppi=float(ppi),
        quality=float(quality),
        pipeline_id=pipeline_id,
    )
    return RecordView(position, view_imp >> 4, view_imp & 0x0F, template), pos
