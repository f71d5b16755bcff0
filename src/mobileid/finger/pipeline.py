"""The contact-print pipeline, stage by stage, and its ``pipeline_id``.

1. :func:`~mobileid.finger.load.load_fingerprint`: decode (WSQ too), resolution, 500 ppi
2. :func:`~mobileid.finger.face_guard.refuse_face_pixels`,
   :func:`~mobileid.finger.enhance.check_print`: refuse faces, blank, saturated,
   ridge-less (judged again once normalised: faint and merged ridges are ridges);
   :func:`~mobileid.finger.quality.dark_ridges`: ridges dark, as LEADER expects
3. :func:`~mobileid.finger.extract.extract_minutiae`: LEADER minutiae → ``FingerTemplate``,
   read again on the normalised print (:func:`~mobileid.finger.enhance.enhance_print`)
   when the capture gives few, and on the print rebuilt along its ridges
   (:func:`~mobileid.finger.contextual.contextual_print`) when both give too few to enrol;
   a print of unclear orientation (its certainty net of the sensor's noise) read first with
   its thin valleys deepened (:func:`~mobileid.finger.enhance.sharpen_valleys`)
4. :func:`~mobileid.finger.match.compare`: cylinders + rigid alignment → similarity

Phone photos and segmented greyscale fingertips replace stages 1-2 with
:func:`~mobileid.finger.contactless.fingertip_prints` (find up to four fingertips, unroll the
finger's curvature, rescale by ridge period, normalise, band-pass, set polarity and
handedness) and get their own pipeline id. A photo template is compared with contact
templates only mirrored and at several scales, keeping the best score
(:meth:`FingerPipeline.photo_views`, :mod:`mobileid.finger.views`), and only under a
calibration measured that way for that pair of pipelines, named by :func:`calibration_matcher`.

Templates are compared only within one ``pipeline_id``: it names every stage that changes
minutiae or scores, with the model's hash and the constants that matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mobileid.capture.decode import decode_image
from mobileid.config import CaptureLimits
from mobileid.errors import InputError, InvalidArgument
from mobileid.finger.contactless import check_period, fingertip_prints
from mobileid.finger.contextual import contextual_print
from mobileid.finger.enhance import check_print, enhance_print, sharpen_valleys
from mobileid.finger.extract import MinutiaeExtractor, extract_minutiae, load_extractor
from mobileid.finger.face_guard import refuse_face_pixels, refuse_faces
from mobileid.finger.fingertips import Fingertip
from mobileid.finger.load import load_fingerprint
from mobileid.finger.match import MatchFeatures, match_features, prepare
from mobileid.finger.params import (
    ContactlessParams,
    ContextParams,
    EnhanceParams,
    ExtractParams,
    LoadParams,
    MatchParams,
    RidgeParams,
    contactless_floors,
)
from mobileid.finger.quality import check_fingerprint, dark_ridges
from mobileid.finger.types import FingerImage, FingerTemplate, GreyArray, MatchResult
from mobileid.finger.views import contact_views

__all__ = [
    "FingerPipeline",
    "PhotoTemplates",
    "PhotoTip",
    "calibration_matcher",
    "load_finger_pipeline",
]

# /2: tighter pairing tolerances (params.MatchParams), the overlap reach kept at 42 px.
# /3: pairs counted by how closely they pair (match._closeness), not one each.
MATCHER_VERSION = "mcc8x6-rigid-tight-close/3"
# Gates and polarity: relative contrast, face guard, ridge floors on the print (and on its
# normalised copy), dark ridges.
GATE_VERSION = "gate-relative-polarity-renorm/3"
# The readings a print goes through before it is refused for too few minutiae (capture,
# normalised, rebuilt along its ridges). Not part of the pipeline id: a reading added for
# prints that were refused leaves every template as it was; but a refusal stored under an
# older version (the evaluation's cache) must be tried again.
READINGS_VERSION = "capture-renorm-context/1"
CONTACTLESS_VERSION = "contactless-tips-grey-orient-unroll-period8.2-dog-scales5/5"


def calibration_matcher(probe_pipeline_id: str, gallery_pipeline_id: str) -> str:
    """The ``matcher`` of the calibration for probes of one pipeline against templates of
    another: the pipeline id itself when they are the same, else ``"PROBE -> GALLERY"``."""
    if probe_pipeline_id == gallery_pipeline_id:
        return probe_pipeline_id
    return f"{probe_pipeline_id} -> {gallery_pipeline_id}"


@dataclass(frozen=True, eq=False)
class PhotoTip:
    """One fingertip of a photo: its template, or why it gave none."""

    tip: Fingertip  # where it is, and its finger and hand where the photo tells them
    template: FingerTemplate | None
    error: InputError | None = None


@dataclass(frozen=True, eq=False)
class PhotoTemplates:
    """The fingertips of one phone photo, left to right once turned fingers-up."""

    tips: tuple[PhotoTip, ...]
    quarter_turns: int  # counter-clockwise quarter turns that made the fingers point up
    positions: str  # how the positions were told, or why not
    tilt: float = 0.0  # degrees counter-clockwise turned after the quarter turns (orient.py)

    @property
    def usable(self) -> tuple[PhotoTip, ...]:
        return tuple(t for t in self.tips if t.template is not None)


@dataclass(frozen=True, eq=False)
class FingerPipeline:
    """Everything needed to turn contact prints into templates and compare them."""

    extractor: MinutiaeExtractor
    limits: CaptureLimits = field(default_factory=CaptureLimits)
    load: LoadParams = field(default_factory=LoadParams)
    ridges: RidgeParams = field(default_factory=RidgeParams)
    enhance: EnhanceParams = field(default_factory=EnhanceParams)
    context: ContextParams = field(default_factory=ContextParams)
    match: MatchParams = field(default_factory=MatchParams)

    @property
    def pipeline_id(self) -> str:
        e = self.extractor.params
        return (
            f"finger/contact-{self.load.working_ppi:g}ppi+{GATE_VERSION}+{self.extractor.model_id}"
            f"-q{e.quality_threshold:g}-min{e.min_minutiae}-crop{e.crop_margin}s{e.crop_snap}"
            f"-renorm{e.enhance_below}{self._poor_rebuilt}{self._sharpened_part}"
            f"+{MATCHER_VERSION}"
        )

    @property
    def _poor_rebuilt(self) -> str:
        """Named only when poor prints are read rebuilt (the cut, the density bound, and ``n``:
        the print's area counted net of the sensor's noise); off, the id of the earlier tables."""
        e = self.extractor.params
        if e.context_quality_below <= 0:
            return ""
        return f"-ctxq{e.context_quality_below}d{e.context_density:g}n"

    @property
    def _sharpened_part(self) -> str:
        """Named only when prints of unclear orientation are read sharpened (the certainty
        cut, ``n``: counted net of the sensor's noise, and the top-hat's size); off, the id of
        the earlier tables."""
        e = self.extractor.params
        if e.tophat_certainty_below <= 0:
            return ""
        net = "n" if e.tophat_net_of_noise else ""
        return f"-thc{e.tophat_certainty_below:g}{net}s{e.tophat_size}"

    def load_image(
        self, data: bytes, *, ppi: float | None = None, field: str = "image"
    ) -> FingerImage:
        """Stages 1-2: decode to 500 ppi and check that it is a usable print."""
        image = load_fingerprint(data, ppi=ppi, limits=self.limits, params=self.load, field=field)
        refuse_face_pixels(image.pixels, field=field)
        check_print(image, self.ridges, self.load, self.enhance, field=field)
        return dark_ridges(image, self.ridges)

    def enrol_bytes(
        self, data: bytes, *, ppi: float | None = None, field: str = "image"
    ) -> FingerTemplate:
        """Stages 1-3: encoded print → template. Raises an ``InputError`` subclass when unusable."""
        image = self.load_image(data, ppi=ppi, field=field)
        return extract_minutiae(
            image,
            self.extractor,
            self.pipeline_id,
            field=field,
            enhanced=self._enhanced,
            rebuilt=self._rebuilt,
            sharpened=self._sharpened,
        )

    def _enhanced(self, pixels: GreyArray) -> GreyArray:
        return enhance_print(pixels, self.enhance, self.ridges)

    def _sharpened(self, pixels: GreyArray) -> GreyArray:
        return sharpen_valleys(pixels, self.extractor.params.tophat_size)

    def _rebuilt(self, pixels: GreyArray) -> GreyArray:
        return contextual_print(pixels, self.context, self.enhance, self.ridges)

    def enrol_file(self, path: Path, *, ppi: float | None = None) -> FingerTemplate:
        """:meth:`enrol_bytes` on a file's content."""
        return self.enrol_bytes(Path(path).read_bytes(), ppi=ppi, field=str(path))

    @property
    def contactless_pipeline_id(self) -> str:
        """Templates from phone photos: same extractor and matcher, different first stages."""
        return self.pipeline_id.replace("finger/contact-", f"finger/{CONTACTLESS_VERSION}+", 1)

    def enrol_photo_tips(
        self, data: bytes, *, params: ContactlessParams | None = None, field: str = "image"
    ) -> PhotoTemplates:
        """A phone photo of one to four fingertips → one template per usable fingertip.

        Raises the first fingertip's error when none is usable (``NotAFingerprint`` for a
        face, a wall or a blank image); otherwise failed fingertips carry their error. Errors
        name ``field``; a fingertip's place in the photo is its index in ``tips``.
        """
        p = params or ContactlessParams()
        decoded = decode_image(data, self.limits, field=field)
        refuse_faces(decoded, field=field)
        layout, prints = fingertip_prints(decoded, p)
        floors = contactless_floors(self.ridges, p)
        tips = []
        for tp in prints:
            try:
                check_period(tp, p, field=field)
                check_fingerprint(tp.plain, floors, self.load, field=field)
                template = extract_minutiae(
                    tp.image, self.extractor, self.contactless_pipeline_id, field=field
                )
                tips.append(PhotoTip(tp.tip, template))
            except InputError as exc:
                tips.append(PhotoTip(tp.tip, None, exc))
        result = PhotoTemplates(tuple(tips), layout.quarter_turns, layout.positions, layout.tilt)
        if not result.usable:
            assert tips[0].error is not None  # a layout has at least one fingertip
            raise tips[0].error
        return result

    def enrol_photo(
        self, data: bytes, *, params: ContactlessParams | None = None, field: str = "image"
    ) -> FingerTemplate:
        """A phone photo of one fingertip → template (``contactless_pipeline_id``)."""
        result = self.enrol_photo_tips(data, params=params, field=field)
        if len(result.tips) != 1:
            raise InvalidArgument(
                f"{field}: expected a photo of one fingertip, got {len(result.tips)} "
                "(enrol_photo_tips takes photos of several)",
                field=field,
            )
        template = result.tips[0].template
        assert template is not None  # enrol_photo_tips raised otherwise
        return template

    def photo_views(self, template: FingerTemplate) -> dict[str, tuple[FingerTemplate, ...]]:
        """A photo template as each pipeline it may be compared with sees it, by pipeline id:
        itself for photo templates; for contact prints, mirrored and once per scale hypothesis
        (:func:`~mobileid.finger.views.contact_views`, unscaled first), of which a comparison
        keeps the best score. Photo templates are in camera handedness
        (:meth:`enrol_photo_tips` flips contact-handed ones, see
        ``ContactlessParams.handedness``), as the calibrations were measured."""
        if template.pipeline_id != self.contactless_pipeline_id:
            raise InvalidArgument(
                f"template: expected pipeline {self.contactless_pipeline_id!r}, got "
                f"{template.pipeline_id!r}",
                field="pipeline_id",
            )
        return {
            self.contactless_pipeline_id: (template,),
            self.pipeline_id: contact_views(template, self.pipeline_id),
        }

    def compare_photo(self, photo: FingerTemplate, candidate: FingerTemplate) -> MatchResult:
        """A photo template against a template of either pipeline: the best score over its
        views for the candidate's pipeline (see :meth:`photo_views`)."""
        views = self.photo_views(photo).get(candidate.pipeline_id)
        if views is None:
            raise InvalidArgument(
                f"candidate: expected pipeline {self.pipeline_id!r} or "
                f"{self.contactless_pipeline_id!r}, got {candidate.pipeline_id!r}",
                field="pipeline_id",
            )
        other = self.features(candidate)
        results = [match_features(self.features(v), other, self.match) for v in views]
        return max(results, key=lambda r: r.score)

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
