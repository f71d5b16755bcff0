"""One hypothesis strategy for damaged inputs, shared by the property tests of images, prints
and template records."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def damaged(draw: st.DrawFn, original: bytes, *, span: int = 16) -> bytes:
    """``original`` with up to three edits: cut it, overwrite up to ``span`` bytes, insert up
    to ``4 * span`` bytes, or duplicate up to ``16 * span`` bytes of it."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        edit = draw(st.sampled_from(["cut", "overwrite", "insert", "duplicate"]))
        if edit == "cut":
            data = data[:at]
        elif edit == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=span))
            data[at : at + len(patch)] = patch
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4 * span))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 16 * span))]
    return bytes(data)
