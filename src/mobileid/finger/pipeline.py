"""The contact-print pipeline, stage by stage, and its ``pipeline_id``.

1. :func:`~mobileid.finger.load.load_fingerprint`: decode (WSQ too), resolution, 500 ppi
2. :func:`~mobileid.finger.quality.check_fingerprint`: refuse blank, saturated, ridge-less
3. :func:`~mobileid.finger.extract.extract_minutiae`: LEADER minutiae → ``FingerTemplate``
4. :func:`~mobileid.finger.match.compare`: cylinders + rigid alignment → similarity

Phone photos replace stages 1-2 with :func:`~mobileid.finger.contactless.fingertip_print`
(segment, rescale by ridge period, normalise, invert) and get their own pipeline id: whether
contactless templates may be compared with contact ones is a calibration question still open.

Templates are compared only within one ``pipeline_id``: it names every stage that changes
minutiae or scores, with the model's hash and the constants that matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.finger.contactless import fingertip_print
from mobileid.finger.extract import MinutiaeExtractor, extract_minutiae, load_extractor
from mobileid.finger.load import load_fingerprint
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.params import (
    ContactlessParams,
    ExtractParams,
    LoadParams,
    MatchParams,
    RidgeParams,
)
from mobileid.finger.quality import check_fingerprint
from mobileid.finger.types import FingerImage, FingerTemplate, MatchResult

__all__ = ["FingerPipeline", "load_finger_pipeline"]

MATCHER_VERSION = "mcc8x6-rigid/1"
CONTACTLESS_VERSION = "contactless-skin-otsu-period/1"


@dataclass(frozen=True, eq=False)
class FingerPipeline:
    """Everything needed to turn contact prints into templates and compare them."""

    extractor: MinutiaeExtractor
    limits: CaptureLimits = field(default_factory=CaptureLimits)
    load: LoadParams = field(default_factory=LoadParams)
    ridges: RidgeParams = field(default_factory=RidgeParams)
    match: MatchParams = field(default_factory=MatchParams)

    @property
    def pipeline_id(self) -> str:
        e = self.extractor.params
        return (
            f"finger/contact-{self.load.working_ppi:g}ppi+{self.extractor.model_id}"
            f"-q{e.quality_threshold:g}+{MATCHER_VERSION}"
        )

    def load_image(
        self, data: bytes, *, ppi: float | None = None, field: str = "image"
    ) -> FingerImage:
        """Stages 1-2: decode to 500 ppi and check that it is a usable print."""
        image = load_fingerprint(data, ppi=ppi, limits=self.limits, params=self.load, field=field)
        check_fingerprint(image, self.ridges, self.load, field=field)
        return image

    def enrol_bytes(
        self, data: bytes, *, ppi: float | None = None, field: str = "image"
    ) -> FingerTemplate:
        """Stages 1-3: encoded print → template. Raises an ``InputError`` subclass when unusable."""
        image = self.load_image(data, ppi=ppi, field=field)
        return extract_minutiae(image, self.extractor, self.pipeline_id, field=field)

    def enrol_file(self, path: Path, *, ppi: float | None = None) -> FingerTemplate:
        """:meth:`enrol_bytes` on a file's content."""
        return self.enrol_bytes(Path(path).read_bytes(), ppi=ppi, field=str(path))

    @property
    def contactless_pipeline_id(self) -> str:
        """Templates from phone photos: same extractor and matcher, different first stages."""
        return self.pipeline_id.replace("finger/contact-", f"finger/{CONTACTLESS_VERSION}+", 1)

    def enrol_photo(
        self, data: bytes, *, params: ContactlessParams | None = None, field: str = "image"
    ) -> FingerTemplate:
        """A phone photo of one fingertip → template (``contactless_pipeline_id``)."""
        p = params or ContactlessParams()
        decoded = decode_image(data, self.limits, field=field)
        image, _, _ = fingertip_print(decoded, p)
        # The normalised photo is checked as a print with the contactless floors: a face or a
        # defocused finger yields texture, not ridges (measured in contactless.py).
        floors = replace(
            self.ridges,
            min_ridge_fraction=p.min_ridge_fraction,
            min_foreground_fraction=p.min_foreground_fraction,
        )
        check_fingerprint(image, floors, self.load, field=field)
        return extract_minutiae(image, self.extractor, self.contactless_pipeline_id, field=field)

    def features(self, template: FingerTemplate) -> MatchFeatures:
        """The matcher's working form of ``template``; compute once per template."""
        return prepare(template, self.match)

    def compare(self, probe: FingerTemplate, candidate: FingerTemplate) -> MatchResult:
        """Stage 4: similarity, higher is more alike."""
        return match_features(self.features(probe), self.features(candidate), self.match)


def load_finger_pipeline(
    extract: ExtractParams | None = None, limits: CaptureLimits | None = None
) -> FingerPipeline:
    """Load the LEADER model once and return the pipeline around it."""
    return FingerPipeline(extractor=load_extractor(extract), limits=limits or CaptureLimits())
