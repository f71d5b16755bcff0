"""Property tests of the fingerprint inputs: contact prints (WSQ and others) damaged anywhere
load or raise an ``InputError``; ISO/IEC 19794-2 and ANSI 378 records round-trip any template
and, damaged anywhere, parse or raise ``MalformedTemplateRecord`` (bounded here, longer under
``make fuzz``)."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mobileid.errors import InputError
from mobileid.finger.errors import MalformedTemplateRecord
from mobileid.finger.load import load_fingerprint
from mobileid.finger.records import (
    RecordView,
    read_ansi378,
    read_iso19794,
    to_ansi378,
    to_iso19794,
)
from mobileid.finger.types import FingerTemplate
from tests.capture.corpus import PRINT_SEED
from tests.conftest import shared_path
from tests.damage import damaged

pytestmark = pytest.mark.property

PID = "test-pipeline"
Reader = Callable[..., tuple[RecordView, ...]]
FORMATS: dict[str, tuple[Callable[..., bytes], Reader, int]] = {
    "iso": (to_iso19794, read_iso19794, 256),
    "ansi": (to_ansi378, read_ansi378, 180),
}


@functools.cache
def prints() -> dict[str, bytes]:
    """A 160×160 crop of a real contact print as WSQ, PNG and TIFF."""
    import wsq  # type: ignore[import-untyped]  # noqa: F401  (registers the WSQ plugin)

    with Image.open(shared_path(*PRINT_SEED)) as img:
        crop = img.convert("L").crop((110, 100, 270, 260))
    out = {}
    for fmt in ("WSQ", "PNG", "TIFF"):
        buffer = io.BytesIO()
        crop.save(buffer, fmt)
        out[fmt] = buffer.getvalue()
    return out


@st.composite
def damaged_print(draw: st.DrawFn) -> bytes:
    return draw(damaged(prints()[draw(st.sampled_from(["WSQ", "WSQ", "PNG", "TIFF"]))], span=8))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(damaged_print())
def test_damaged_prints_load_or_raise_an_input_error(data: bytes) -> None:
    """A real print as WSQ, PNG or TIFF, damaged anywhere, loads as 8-bit grey at 500 ppi or
    raises an InputError naming the field."""
    try:
        image = load_fingerprint(data, field="print")
    except InputError as exc:
        assert exc.field in ("print", "ppi") and "expected" in str(exc)
        return
    assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 2 and image.ppi == 500.0


@st.composite
def templates(draw: st.DrawFn) -> FingerTemplate:
    """Any template a record can hold: up to 255 minutiae inside a 1..16383 px image."""
    width, height = draw(st.integers(1, 16383)), draw(st.integers(1, 16383))
    n = draw(st.integers(0, 255))
    coords = st.tuples(
        st.integers(0, width - 1), st.integers(0, height - 1),
        st.floats(0, 2 * math.pi, exclude_max=True), st.integers(0, 2), st.integers(0, 100),
    )  # fmt: skip
    rows = draw(st.lists(coords, min_size=n, max_size=n))
    minutiae = np.array(
        [(x, y, a, k, q / 100) for x, y, a, k, q in rows], dtype=np.float32
    ).reshape(n, 5)
    ppi = draw(st.sampled_from([254.0, 500.0, 1000.0]))
    return FingerTemplate(minutiae, width, height, ppi, float(draw(st.integers(0, 100))), PID)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(templates(), st.sampled_from(sorted(FORMATS)), st.integers(0, 10), st.integers(0, 15))
def test_records_round_trip_any_template(
    template: FingerTemplate, fmt: str, position: int, impression: int
) -> None:
    """Writing then reading gives the same view: positions exact, angles to the format's unit."""
    write, read, units = FORMATS[fmt]
    (view,) = read(
        write(template, finger_position=position, impression_type=impression), pipeline_id=PID
    )
    got = view.template
    assert (view.finger_position, view.impression_type) == (position, impression)
    assert (got.width, got.height, got.quality) == (template.width, template.height,
                                                     template.quality)  # fmt: skip
    assert np.array_equal(got.minutiae[:, [0, 1, 3]], template.minutiae[:, [0, 1, 3]])
    step = 2 * math.pi / units
    turn = np.abs(got.minutiae[:, 2] - template.minutiae[:, 2]) % (2 * math.pi)
    assert np.all(np.minimum(turn, 2 * math.pi - turn) <= step / 2 + 1e-4)
    assert np.allclose(got.minutiae[:, 4], np.round(template.minutiae[:, 4] * 100) / 100)


@functools.cache
def _records() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    minutiae = np.column_stack(
        [rng.integers(0, 300, 40), rng.integers(0, 300, 40), rng.uniform(0, 6.2, 40),
         rng.integers(0, 3, 40), rng.uniform(0, 1, 40)]
    ).astype(np.float32)  # fmt: skip
    t = FingerTemplate(minutiae, 300, 300, 500.0, 70.0, PID)
    return {name: write(t) for name, (write, _, _) in FORMATS.items()}


@st.composite
def damaged_record(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    return fmt, draw(st.one_of(damaged(_records()[fmt], span=8), st.binary(max_size=256)))


@given(damaged_record())
def test_damaged_records_parse_or_raise_malformed(item: tuple[str, bytes]) -> None:
    """A record damaged anywhere (or any bytes) parses to views whose minutiae lie inside the
    image, or raises MalformedTemplateRecord naming the format and the field."""
    fmt, data = item
    _, read, _ = FORMATS[fmt]
    try:
        views = read(data, pipeline_id=PID)
    except MalformedTemplateRecord as exc:
        assert str(exc).startswith(("ISO/IEC 19794-2", "ANSI INCITS 378")) and exc.field
        return
    for view in views:
        m, t = view.template.minutiae, view.template
        assert 0 <= view.finger_position <= 10 and t.width > 0 and t.height > 0
        assert np.all((m[:, 0] < t.width) & (m[:, 1] < t.height))
