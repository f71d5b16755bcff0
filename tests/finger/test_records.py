"""ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 records: round trip and malformed input."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest

from mobileid.errors import InvalidArgument
from mobileid.finger.errors import MalformedTemplateRecord
from mobileid.finger.match import compare
from mobileid.finger.records import (
    RecordView,
    read_ansi378,
    read_iso19794,
    to_ansi378,
    to_iso19794,
)
from mobileid.finger.types import FingerTemplate
from tests.finger.bank import TemplateBank

PID = "finger/test"
Reader = Callable[..., tuple[RecordView, ...]]


def _template() -> FingerTemplate:
    rng = np.random.default_rng(7)
    n = 40
    m = np.stack(
        [
            rng.uniform(0, 387, n),
            rng.uniform(0, 373, n),
            rng.uniform(0, 2 * np.pi, n),
            rng.integers(1, 3, n),
            rng.uniform(0.3, 1.0, n),
        ],
        axis=1,
    )
    return FingerTemplate(m.astype(np.float32), 388, 374, 500.0, 62.0, PID)


FORMATS = [(to_iso19794, read_iso19794, 24, 256), (to_ansi378, read_ansi378, 26, 180)]


@pytest.mark.parametrize(("write", "read", "header", "units"), FORMATS)
def test_round_trip(write: Callable[..., bytes], read: Reader, header: int, units: int) -> None:
    """Writing then reading keeps every minutia within the format's quantisation."""
    t = _template()
    data = write(t, finger_position=2, impression_type=0)
    assert len(data) == header + 4 + 6 * t.count + 2
    (view,) = read(data, pipeline_id=PID)
    back = view.template
    assert (view.finger_position, back.width, back.height, back.ppi) == (2, 388, 374, 500.0)
    assert back.quality == 62.0 and back.count == t.count
    a, b = t.minutiae.astype(np.float64), back.minutiae.astype(np.float64)
    assert np.abs(a[:, :2] - b[:, :2]).max() <= 0.5
    turn = np.abs(np.angle(np.exp(1j * (a[:, 2] - b[:, 2]))))
    assert turn.max() <= np.pi / units + 1e-6
    assert np.array_equal(a[:, 3], b[:, 3])
    assert np.abs(a[:, 4] - b[:, 4]).max() <= 0.005 + 1e-6
    assert compare(t, back).score > 0.9
    assert write(back, finger_position=2) == data


def test_real_template_round_trips(templates: TemplateBank) -> None:
    """A LEADER template of a real print survives ISO export and import and still matches."""
    probe = templates.afis("probe.png")
    (view,) = read_iso19794(to_iso19794(probe), pipeline_id=probe.pipeline_id)
    assert compare(view.template, templates.afis("matching.png")).score > 0.55


def _iso() -> bytes:
    return to_iso19794(_template())


def _ansi() -> bytes:
    return to_ansi378(_template())


def _set(data: bytes, at: int, raw: bytes) -> bytes:
    return data[:at] + raw + data[at + len(raw) :]


MALFORMED = [
    ("iso", lambda d: b"", "header"),
    ("iso", lambda d: b"XMR\x00" + d[4:], "format identifier"),
    ("iso", lambda d: _set(d, 4, b" 30\x00"), "version"),
    ("iso", lambda d: d[:-1], "record length"),
    ("iso", lambda d: d + b"\x00", "record length"),
    ("iso", lambda d: _set(d, 22, b"\x00"), "number of finger views"),
    ("iso", lambda d: _set(d, 14, b"\x00\x00"), "image size"),
    ("iso", lambda d: _set(d, 24, b"\x0b"), "finger position"),
    ("iso", lambda d: _set(d, 26, b"\xc8"), "finger quality"),
    ("iso", lambda d: _set(d, 27, b"\xff"), "minutiae"),
    ("iso", lambda d: _set(d, 28, struct.pack(">H", 1 << 14 | 500)), "minutia x"),
    ("iso", lambda d: _set(d, 28, struct.pack(">H", 3 << 14 | 5)), "minutia type"),
    ("iso", lambda d: _set(d, 33, b"\xc8"), "minutia quality"),
    ("ansi", lambda d: _set(d, 34, b"\xb4"), "minutia angle"),
    ("ansi", lambda d: _set(d, 8, struct.pack(">H", 9)), "record length"),
    ("ansi", lambda d: _set(d, 20, b"\x00\x00"), "resolution"),
]


@pytest.mark.parametrize(("kind", "corrupt", "field"), MALFORMED)
def test_malformed_records_are_refused(
    kind: str, corrupt: Callable[[bytes], bytes], field: str
) -> None:
    """Each malformed record raises MalformedTemplateRecord naming the bad field."""
    data, read = (_iso(), read_iso19794) if kind == "iso" else (_ansi(), read_ansi378)
    with pytest.raises(MalformedTemplateRecord, match=field) as err:
        read(corrupt(data), pipeline_id=PID)
    assert isinstance(err.value, InvalidArgument)


def test_iso_record_is_not_read_as_ansi() -> None:
    """The two formats share a magic number; reading one as the other fails cleanly."""
    with pytest.raises(MalformedTemplateRecord):
        read_ansi378(_iso(), pipeline_id=PID)
    with pytest.raises(MalformedTemplateRecord):
        read_iso19794(_ansi(), pipeline_id=PID)
