"""Fingertip photos held at any angle: how many come back upright (the README's figures).

Each of the 8 ISPFD phone photos (a quarter of their size) is turned by every 15° from 0 to
345 (a grid fixed before looking) and cropped to the largest rectangle of its shape inside
the turned frame, so the finger still leaves the picture at the frame's edge, as
``tests/finger/test_orientation`` does. ``segment_fingertips`` then says how far to turn it
back. Two errors per photo and angle: against the photo's frame (the angle applied plus the
turn found), and against the finger's own axis (less the lean its midline shows in the
unturned photo: ISPFD fingers lean up to 8.5° as photographed, and a finger left under
``orient.TILT_MIN`` of its own upright is not turned further). A cell counts when one
fingertip comes back within 15°. Prints a table: per angle, the count within 15° on each
measure and the photos outside the frame measure with their error.

``python bench/orientation_grid.py`` (about 2 minutes on one core).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mobileid.finger.errors import NotAFingerprint
from mobileid.finger.finger_region import finger_mask
from mobileid.finger.fingertips import MIN_FINGER_LENGTH, _find, _leans, segment_fingertips
from mobileid.finger.params import ContactlessParams

PHOTOS = ("1_i_1_w_1", "1_i_2_w_1", "1_o_1_n_1", "1_o_2_n_1")
PHOTOS += ("9_i_1_w_1", "9_i_2_w_1", "9_o_1_n_1", "9_o_2_n_1")
ANGLES = tuple(range(0, 360, 15))
WITHIN = 15.0
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' turned photo

from tests.finger.prints import turned_photo as turned_photo_at  # noqa: E402

DATA = Path(
    os.environ.get("MOBILEID_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def turned_photo(name: str, degrees: float) -> npt.NDArray[np.uint8]:
    """The photo turned and cropped inside the turned frame, as the tests turn it."""
    return turned_photo_at(DATA / "contactless" / "ISPFDv1_samples" / f"{name}.jpg", degrees)


def own_lean(name: str) -> float:
    """Degrees the unturned photo's finger leans by its midline (0 when none is found)."""
    skin, _, grey = finger_mask(turned_photo(name, 0), ContactlessParams())
    _, turns, tips = _find(skin, np.ones_like(skin), MIN_FINGER_LENGTH, grey, (0,))
    leans = [a for a in _leans(np.rot90(skin, turns), tips) if a is not None]
    return float(np.median(leans)) if leans else 0.0


def frame_error(name: str, degrees: int) -> float | None:
    """Degrees from upright (the photo's frame) once turned back; None unless one tip."""
    try:
        layout = segment_fingertips(turned_photo(name, degrees))
    except NotAFingerprint:
        return None
    if len(layout.tips) != 1:
        return None
    return (degrees + 90 * layout.quarter_turns + layout.tilt + 180) % 360 - 180


def main() -> None:
    leans = {name: own_lean(name) for name in PHOTOS}
    print("own lean: " + ", ".join(f"{n} {a:+.1f}" for n, a in leans.items()))
    print("angle  frame  finger  outside 15° of the frame")
    totals = [0, 0]
    for degrees in ANGLES:
        errors = {name: frame_error(name, degrees) for name in PHOTOS}
        frame = [n for n, e in errors.items() if e is not None and abs(e) < WITHIN]
        finger = [
            n
            for n, e in errors.items()
            if e is not None and abs((e - leans[n] + 180) % 360 - 180) < WITHIN
        ]
        totals[0] += len(frame)
        totals[1] += len(finger)
        off = " ".join(f"{n}:{errors[n]}" for n in PHOTOS if n not in frame)
        print(f"{degrees:5d}  {len(frame)}/8    {len(finger)}/8     {off}", flush=True)
    cells = len(ANGLES) * len(PHOTOS)
    print(f"total  {totals[0]}/{cells}  {totals[1]}/{cells}")


if __name__ == "__main__":
    main()
