"""Fingerprint input errors, as subclasses of the one hierarchy in :mod:`mobileid.errors`.

::

    InputError
    ├── CorruptImage
    │   └── CorruptFingerprintImage   WSQ (or other) data that does not decode
    ├── ImageTooSmall
    │   └── FingerprintTooSmall       too few ridge pixels at 500 ppi to hold a usable print
    ├── LowQualityCapture
    │   ├── NotAFingerprint           decoded fine, but blank, saturated or without ridges
    │   └── LowQualityFingerprint     ridges, but too few reliable minutiae to match
    └── InvalidArgument
        ├── BadResolution             a ppi outside the range a fingerprint can have
        └── MalformedTemplateRecord   an ISO/IEC 19794-2 or ANSI 378 record we cannot read

They keep their parent's ``exit_code``; each has its own ``code``.
"""

from __future__ import annotations

from mobileid.errors import (
    CorruptImage,
    ImageTooSmall,
    InvalidArgument,
    LowQualityCapture,
)


class CorruptFingerprintImage(CorruptImage):
    code = "corrupt_fingerprint_image"


class FingerprintTooSmall(ImageTooSmall):
    code = "fingerprint_too_small"


class NotAFingerprint(LowQualityCapture):
    """Blank, saturated, or an image without a ridge pattern (a face, a wall)."""

    code = "not_a_fingerprint"


class LowQualityFingerprint(LowQualityCapture):
    code = "low_quality_fingerprint"


class BadResolution(InvalidArgument):
    code = "bad_resolution"


class MalformedTemplateRecord(InvalidArgument):
    code = "malformed_template_record"
