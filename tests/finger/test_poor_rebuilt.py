"""Poor prints read rebuilt: a print of low quality is read once more rebuilt along its
ridges, and that reading is kept only within a density of minutiae that good prints keep,
over the print's area counted net of the sensor's noise."""

from __future__ import annotations

from dataclasses import replace

from mobileid.finger.contextual import contextual_print
from mobileid.finger.extract import find_minutiae, print_area_mm2
from mobileid.finger.pipeline import FingerPipeline
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation


def _cut(pipe: FingerPipeline, below: int) -> FingerPipeline:
    params = replace(pipe.extractor.params, context_quality_below=below)
    return replace(pipe, extractor=replace(pipe.extractor, params=params))


def _off(pipe: FingerPipeline) -> FingerPipeline:
    return _cut(pipe, 0)


def _on(pipe: FingerPipeline) -> FingerPipeline:
    return _cut(pipe, 35)


def _rebuilt_count(pipe: FingerPipeline, data: bytes) -> tuple[int, float]:
    """Minutiae LEADER finds on the rebuilt print, and the bound's count for its area."""
    image = pipe.load_image(data)
    rebuilt = find_minutiae(
        contextual_print(image.pixels, pipe.context, pipe.enhance, pipe.ridges), pipe.extractor
    )
    bound = pipe.extractor.params.context_density * print_area_mm2(image, pipe.extractor.params)
    return rebuilt.shape[0], bound


def test_the_pipeline_id_names_the_option_only_when_it_is_on(templates: TemplateBank) -> None:
    """On, the id names the cut, the bound and the area net of noise; off, it is the id of
    the tables built without the option."""
    on = _on(templates.pipeline).pipeline_id
    off = _off(templates.pipeline).pipeline_id
    assert "-ctxq" not in off
    assert on.replace("-ctxq35d0.32n", "") == off and on != off


def test_a_poor_wet_print_is_read_rebuilt(templates: TemplateBank) -> None:
    """DB4_B 106_2 wet (quality under 35, a few minutiae as captured) keeps its rebuilt
    reading, which has more minutiae and stays within the density bound."""
    data = db4_imitation("106_2.tif", "wet")
    pipe = _on(templates.pipeline)
    off = _off(pipe).enrol_bytes(data)
    on = pipe.enrol_bytes(data)
    area = print_area_mm2(pipe.load_image(data), pipe.extractor.params)
    assert off.quality < 35 and on.count > off.count
    assert on.count <= pipe.extractor.params.context_density * area


def test_a_rebuilt_reading_denser_than_good_prints_is_not_kept(templates: TemplateBank) -> None:
    """DB4_B 108_5 dry: rebuilt, LEADER finds more minutiae per mm² than any good print
    holds (the filter's pattern on broken ridges), so the captured reading is kept."""
    data = db4_imitation("108_5.tif", "dry")
    pipe = _on(templates.pipeline)
    rebuilt, bound = _rebuilt_count(pipe, data)
    off = _off(pipe).enrol_bytes(data)
    assert off.quality < 35 and rebuilt > bound
    assert pipe.enrol_bytes(data).count == off.count


def test_noise_does_not_widen_the_print_the_bound_counts_on(templates: TemplateBank) -> None:
    """DB4_B 103_6 noisy: rebuilt, LEADER finds 4 times the captured reading's minutiae in the
    filter's pattern on the noise. Its area counted net of the noise is the print's (about
    165 mm², not the frame's 285), so the bound holds and the captured reading is kept."""
    data = db4_imitation("103_6.tif", "noisy")
    pipe = _on(templates.pipeline)
    rebuilt, bound = _rebuilt_count(pipe, data)
    off = _off(pipe).enrol_bytes(data)
    assert off.quality < 35 and rebuilt > bound
    assert print_area_mm2(pipe.load_image(data), pipe.extractor.params) < 200
    assert pipe.enrol_bytes(data).count == off.count
