"""Fingertip photos at any orientation, and several fingertips in one photo.

The development data holds no turned photo and no greyscale photo of several fingertips, so
both are made here, in memory, from real inputs: a render or an ISPFD photo turned with PIL
(renders on their black background, the canvas enlarged; a photo cropped to the rectangle
inside the turned frame, so the finger still leaves the picture at the frame's edge, as in a
real photo held at an angle), and four IMPOSE renders cut to their fingertip and pasted side by
side on black at hand-like heights. Nothing generated is written to the repository.
"""

from __future__ import annotations

import io
import math

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from mobileid.finger.fingertips import segment_fingertips
from mobileid.finger.orient import object_axis, to_quarter, upright_pixels
from mobileid.finger.types import FingerTemplate
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank
from tests.finger.prints import turned_photo

IMPOSE = ("contactless", "impose_samples")
# Two fingers' renders, rolled at most 25° (the target range), left to right in the hand.
HAND = ("sample1_0", "sample2_-13", "sample1_22", "sample2_14")
HAND_DROPS = (60, 0, 20, 90)  # px each fingertip sits below the highest


def _render(name: str) -> Image.Image:
    return Image.open(shared_path(*IMPOSE, "multi_pose_CL", f"{name}.png")).convert("L")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _turned_render(name: str, degrees: float) -> Image.Image:
    return _render(name).rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)


def _turned_photo(name: str, degrees: float) -> npt.NDArray[np.uint8]:
    return turned_photo(shared_path("contactless", "ISPFDv1_samples", name), degrees)


def _rolled(templates: TemplateBank, sample: str) -> FingerTemplate:
    path = shared_path(*IMPOSE, "source_rolled", f"{sample}.png")
    return templates.pipeline.enrol_bytes(path.read_bytes(), ppi=500.0, field=path.name)


def _mate_first(templates: TemplateBank, probe: FingerTemplate, sample: str) -> tuple[float, float]:
    """The probe's score against its rolled print, and its best against the other rolled print
    and the first two impressions of every DB1_B finger (as in test_renders)."""
    pipe = templates.pipeline
    other = "sample2" if sample == "sample1" else "sample1"
    distractors = [_rolled(templates, other)] + [
        templates.db1(f"{finger}_{k}.tif") for finger in range(101, 111) for k in (1, 2)
    ]
    mate = pipe.compare_photo(probe, _rolled(templates, sample)).score
    return mate, max(pipe.compare_photo(probe, t).score for t in distractors)


def test_a_turned_render_is_turned_back_to_one_orientation() -> None:
    """A render turned by quarter turns or any angle is brought back within a few degrees of
    one upright orientation: the turn applied plus the turn found is the same every time."""
    for name in ("sample1_0", "sample2_-18", "sample2_23", "sample1_-46"):
        totals = []
        for degrees in (0, 90, 180, 270, 37, 135, 200, 315):
            image = np.asarray(_turned_render(name, degrees).convert("RGB"))
            layout = segment_fingertips(image)
            assert len(layout.tips) == 1, (name, degrees)
            totals.append((degrees + 90 * layout.quarter_turns + layout.tilt) % 360)
        spread = [(t - totals[0] + 180) % 360 - 180 for t in totals]
        assert max(map(abs, spread)) < 15, (name, totals)


@pytest.mark.parametrize(
    "name", ["1_i_1_w_1.jpg", "1_i_2_w_1.jpg", "9_i_1_w_1.jpg", "9_o_1_n_1.jpg"]
)
def test_a_photo_held_at_an_angle_is_turned_upright(name: str) -> None:
    """A real finger photo turned by an angle between quarter turns, the four diagonals and 60°
    included (the finger leaving the picture at the frame's edge), gives one fingertip, turned
    back to within 15° of upright (bench/orientation_grid.py measures every 15°). At 30° the
    outdoor photo's skin-coloured background shows a narrow upright "finger" unturned: it is
    not kept, the finger found turned being twice as wide."""
    for degrees in (-25, 37, 200, 45, 135, 225, 315, 60, 30, 150):
        layout = segment_fingertips(_turned_photo(name, degrees))
        assert len(layout.tips) == 1, (name, degrees)
        total = (degrees + 90 * layout.quarter_turns + layout.tilt + 180) % 360 - 180
        assert abs(total) < 15, (name, degrees, layout.quarter_turns, layout.tilt)


def test_the_axis_of_a_long_object_is_found() -> None:
    """A bar drawn at 30° from the x axis has its axis at 30°; a disc has none."""
    yy, xx = np.mgrid[0:200, 0:200] - 100.0
    t = math.radians(30)
    along, across = xx * math.cos(t) - yy * math.sin(t), xx * math.sin(t) + yy * math.cos(t)
    bar = (np.abs(along) < 80) & (np.abs(across) < 15)
    axis = object_axis(bar)
    assert axis is not None and axis == pytest.approx(30, abs=1)
    assert to_quarter(axis) == pytest.approx(-30, abs=1)
    assert object_axis(np.hypot(xx, yy) < 60) is None


def test_upright_pixels_keeps_quarter_turns_exact() -> None:
    """Without a tilt the photo is only turned by quarters (no resampling); with one, the new
    corners take the border's colour, not black."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    assert np.array_equal(upright_pixels(pixels, 1, 0.0), np.rot90(pixels, 1))
    plain = np.full((40, 60, 3), 200, np.uint8)
    turned = upright_pixels(plain, 0, 30.0)
    assert turned.shape[0] > 40 and turned.shape[1] > 60
    assert np.abs(turned.astype(int) - 200).max() <= 1


@pytest.mark.parametrize(
    ("name", "degrees"),
    [("sample2_-18", 90), ("sample2_-18", 180), ("sample2_-18", 37), ("sample1_0", 37)],
)
def test_a_turned_render_still_ranks_its_rolled_print_first(
    templates: TemplateBank, name: str, degrees: int
) -> None:
    """A render turned a quarter, a half or an odd angle still finds the rolled print of its
    finger first among the other rolled print and 20 DB1_B prints."""
    photo = templates.pipeline.enrol_photo_tips(_png(_turned_render(name, degrees)), field=name)
    assert len(photo.tips) == 1 and photo.tips[0].template is not None
    mate, best_other = _mate_first(templates, photo.tips[0].template, name.split("_")[0])
    assert mate > best_other, (name, degrees, mate, best_other)


def _four_renders() -> Image.Image:
    """Four renders cut to their fingertip, side by side on black, tips at hand-like heights."""
    cuts = []
    for name in HAND:
        grey = np.asarray(_render(name))
        on = grey > 30
        rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
        cuts.append(grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    gap = 40
    height = max(c.shape[0] + d for c, d in zip(cuts, HAND_DROPS, strict=True)) + 2 * gap
    canvas = np.zeros((height, sum(c.shape[1] for c in cuts) + gap * 5), np.uint8)
    x = gap
    for cut, drop in zip(cuts, HAND_DROPS, strict=True):
        canvas[gap + drop : gap + drop + cut.shape[0], x : x + cut.shape[1]] = cut
        x += cut.shape[1] + gap
    return Image.fromarray(canvas)


@pytest.mark.parametrize("degrees", [0, 37])
def test_four_rendered_fingertips_each_find_their_rolled_print(
    templates: TemplateBank, degrees: int
) -> None:
    """A greyscale photo of four fingertips (upright, and turned 37°) gives four templates,
    left to right, and each finds its own finger's rolled print first."""
    hand = _four_renders().rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    photo = templates.pipeline.enrol_photo_tips(_png(hand), field="hand")
    assert len(photo.tips) == 4 and len(photo.usable) == 4
    for name, tip in zip(HAND, photo.tips, strict=True):
        assert tip.template is not None
        mate, best_other = _mate_first(templates, tip.template, name.split("_")[0])
        assert mate > best_other, (name, degrees, mate, best_other)
