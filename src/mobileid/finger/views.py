"""How a photo template meets a contact print: mirrored, and at several scales.

Handedness. A photo sees the pad from the front; a contact print (ink, or a live scan that
follows the ink convention) is its mirror image (:func:`mirror_template`).

Scale. A photo has no resolution of its own: :mod:`mobileid.finger.contactless` scales it so
that its ridge period becomes the median of contact prints (``target_period``). Two things make
that scale uncertain, and neither can be settled from the photo alone:

- people's ridge periods differ: on FVC2002 DB1_B the quartiles are 7.3-8.6 px at 500 ppi
  around the median 8.2, and the rolled print of one IMPOSE finger measures 6.9;
- the period of a fingertip's spectrum is a broad peak: on the 9 renders of one finger, all
  seen by the same camera, the estimate ranges 6.6-9.3 px (and a windowed average over the
  whole fingertip, 7.4-9.5; the two rolled prints trade places between the estimators).

The matcher tolerates about ±7% of scale (two IMPOSE renders: the mate score loses under 5% at
6% from the best scale, a third to a half at 12-18%), so a photo template is compared with a
contact print at each of ``CONTACT_SCALES`` and the best-supported hypothesis (the highest
score) is kept. The photo → contact calibration is measured with the same maximum, so the
extra chance an impostor gets from several tries is in its table (its highest impostor went
from 0.397 at one scale to 0.535). Photo → photo comparisons stay at one scale: both sides were
brought to the same period by the same estimator (its spread between views of one finger
still costs them; not measured).
"""

from __future__ import annotations

import math

import numpy as np

from mobileid.errors import InvalidArgument
from mobileid.finger.types import FingerTemplate

__all__ = ["CONTACT_SCALES", "contact_views", "mirror_template", "scale_template"]

# Relative sizes of a photo template tried against contact prints (1.0 first): 0.8 to 1.25 in
# steps of 11-12.5%, so any scale from 0.76 to 1.31 is within 6% of one hypothesis. Measured
# on the 18 IMPOSE renders among the 162 prints of `make eval` (README): mate first for 15 of
# 18 with 1.0 alone, 18 of 18 with these five; 3 (0.87-1.15), 7 and 9 hypotheses also gave 18
# of 18: five cover the spread of periods for half the cost of nine.
CONTACT_SCALES = (1.0, 0.8, 0.9, 1.12, 1.25)


def mirror_template(template: FingerTemplate, pipeline_id: str) -> FingerTemplate:
    """``template`` flipped left-right, labelled ``pipeline_id``.

    ISO angles are counter-clockwise from ``x``: a flip about the vertical axis turns ``a``
    into ``π - a``.
    """
    m = np.array(template.minutiae, dtype=np.float32, copy=True)
    m[:, 0] = template.width - 1 - m[:, 0]
    m[:, 2] = (math.pi - m[:, 2] + math.pi) % (2 * math.pi) - math.pi
    return FingerTemplate(
        m, template.width, template.height, template.ppi, template.quality, pipeline_id
    )


def scale_template(template: FingerTemplate, scale: float) -> FingerTemplate:
    """``template`` as if its print had been ``scale`` times as large: minutiae positions and
    the image size scale, directions and quality do not."""
    if not (math.isfinite(scale) and scale > 0):
        raise InvalidArgument(
            f"scale: expected a positive finite number, got {scale!r}", field="scale"
        )
    m = np.array(template.minutiae, dtype=np.float32, copy=True)
    m[:, :2] *= scale
    return FingerTemplate(
        m,
        max(1, round(template.width * scale)),
        max(1, round(template.height * scale)),
        template.ppi,
        template.quality,
        template.pipeline_id,
    )


def contact_views(
    template: FingerTemplate, pipeline_id: str, scales: tuple[float, ...] = CONTACT_SCALES
) -> tuple[FingerTemplate, ...]:
    """A photo template as contact prints see it: mirrored, labelled ``pipeline_id``, once per
    scale hypothesis (in the order of ``scales``)."""
    mirrored = mirror_template(template, pipeline_id)
    return tuple(mirrored if s == 1.0 else scale_template(mirrored, s) for s in scales)
