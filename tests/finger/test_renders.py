"""Greyscale, already segmented fingertips (IMPOSE renders) are accepted, brought to contact
geometry and matched to the rolled print of the same finger."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from mobileid.capture.decode import load_image_file
from mobileid.config import CaptureLimits
from mobileid.finger.contactless import ridge_period, unroll
from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.fingertips import segment_fingertips
from mobileid.finger.match import match_features
from mobileid.finger.types import FingerTemplate
from mobileid.finger.views import CONTACT_SCALES
from tests.conftest import shared_path
from tests.finger.bank import TemplateBank

IMPOSE = ("contactless", "impose_samples")


def _render(name: str) -> bytes:
    return shared_path(*IMPOSE, "multi_pose_CL", f"{name}.png").read_bytes()


def _rolled(templates: TemplateBank, sample: str) -> FingerTemplate:
    path = shared_path(*IMPOSE, "source_rolled", f"{sample}.png")
    return templates.pipeline.enrol_bytes(path.read_bytes(), ppi=500.0, field=path.name)


def test_a_segmented_greyscale_fingertip_is_found() -> None:
    """A render (grey fingertip on black, its end broad and flat) gives one upright fingertip."""
    for name in ("sample1_0", "sample2_0", "sample2_23"):
        path = shared_path(*IMPOSE, "multi_pose_CL", f"{name}.png")
        layout = segment_fingertips(load_image_file(path, CaptureLimits()).pixels)
        assert layout.greyscale and layout.quarter_turns == 0 and len(layout.tips) == 1, name
        left, top, right, bottom = layout.tips[0].box
        assert 100 < left < right < 700 and 100 < top < 200 < bottom, (name, layout.tips[0].box)


def test_a_grey_wall_is_still_no_finger(templates: TemplateBank) -> None:
    """Without colour a finger must stand out from the frame: grey noise does not."""
    rng = np.random.default_rng(5)
    wall = np.clip(140 + rng.normal(0, 10, (600, 800)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(wall).save(out, format="PNG")
    with pytest.raises(NotAFingerprint) as err:
        templates.pipeline.enrol_photo_tips(out.getvalue())
    assert err.value.reasons == ("no_finger",)


def test_unroll_evens_out_the_ridges_of_a_cylinder() -> None:
    """Stripes evenly spaced on a cylinder crowd towards its edges in a side view; unrolled,
    their period is the same at the centre and near the edges."""
    radius, period = 150.0, 9.0
    x = np.arange(-160, 161, dtype=np.float64)
    arc = radius * np.arcsin(np.clip(x / radius, -1, 1))  # skin arc length under each column
    row = 128 + 100 * np.cos(2 * math.pi * arc / period)
    grey = np.tile(row, (64, 1)).astype(np.float32)
    mask = np.tile(np.abs(x) < radius, (64, 1))
    flat, flat_mask = unroll(grey, mask, 1.2)

    def period_at(image: np.ndarray, column: int) -> float:
        found, ok = ridge_period(image[:, column - 32 : column + 32], 4.0, 14.0)
        assert ok
        return found

    side_view = grey.shape[1] // 2
    assert period_at(grey, side_view + 96) < 0.85 * period_at(grey, side_view)  # crowded
    centre = flat.shape[1] // 2
    assert period_at(flat, centre + 120) == pytest.approx(period_at(flat, centre), rel=0.03)
    assert flat_mask[:, centre].all() and not flat_mask[:, 0].any()


# sample2_-18 and sample2_14 ranked 3rd and 4th before photos were tried at several scales:
# their finger's ridges are finer than the median the photo is scaled to.
@pytest.mark.parametrize(
    "name", ["sample1_0", "sample1_22", "sample2_-18", "sample2_-13", "sample2_14", "sample2_23"]
)
def test_render_is_accepted_and_its_rolled_print_ranks_first(
    templates: TemplateBank, name: str
) -> None:
    """A render with |roll| <= 25° finds the rolled print of its finger first among the other
    rolled print and the first two impressions of every DB1_B finger."""
    pipe = templates.pipeline
    sample = name.split("_")[0]
    photo = pipe.enrol_photo_tips(_render(name), field=name)
    assert len(photo.tips) == 1 and photo.tips[0].template is not None
    probe = photo.tips[0].template
    mate = pipe.compare_photo(probe, _rolled(templates, sample)).score
    other = "sample2" if sample == "sample1" else "sample1"
    distractors = [_rolled(templates, other)] + [
        templates.db1(f"{finger}_{k}.tif") for finger in range(101, 111) for k in (1, 2)
    ]
    best_other = max(pipe.compare_photo(probe, t).score for t in distractors)
    assert mate > best_other, (name, mate, best_other)


def test_a_finger_with_fine_ridges_is_matched_at_a_smaller_scale(templates: TemplateBank) -> None:
    """The rolled print of a finger with fine ridges (6.9 px at 500 ppi against the 8.2 a photo
    is scaled to) meets its render best with the photo template shrunk, and far better than
    at the unscaled view alone."""
    pipe = templates.pipeline
    photo = pipe.enrol_photo_tips(_render("sample2_0"), field="sample2_0").usable[0].template
    assert photo is not None
    rolled = pipe.features(_rolled(templates, "sample2"))
    views = pipe.photo_views(photo)[pipe.pipeline_id]
    scores = [match_features(pipe.features(v), rolled).score for v in views]
    best = int(np.argmax(scores))
    assert CONTACT_SCALES[best] < 1.0, (CONTACT_SCALES, scores)
    assert scores[best] > scores[0] + 0.2, scores  # views[0] is the unscaled one
    assert pipe.compare_photo(photo, _rolled(templates, "sample2")).score == max(scores)
