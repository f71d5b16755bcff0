"""Poor prints read rebuilt (off in the shipped pipeline): a print of low quality is read once
more rebuilt along its ridges, and that reading is kept only within a density of minutiae
that good prints keep."""

from __future__ import annotations

from dataclasses import replace

from mobileid.finger.contextual import contextual_print
from mobileid.finger.extract import find_minutiae, print_area_mm2
from mobileid.finger.pipeline import FingerPipeline
from tests.finger.bank import TemplateBank
from tests.finger.prints import db4_imitation


def _reading_poor_prints(pipe: FingerPipeline) -> FingerPipeline:
    params = replace(pipe.extractor.params, context_quality_below=35)
    return replace(pipe, extractor=replace(pipe.extractor, params=params))


def test_the_pipeline_id_names_the_option_only_when_it_is_on(templates: TemplateBank) -> None:
    """Off, the id is the one the tables were built for; on, it names the cut and the bound."""
    off = templates.pipeline.pipeline_id
    on = _reading_poor_prints(templates.pipeline).pipeline_id
    assert "-ctxq" not in off
    assert on.replace("-ctxq35d0.32", "") == off and on != off


def test_a_poor_wet_print_is_read_rebuilt(templates: TemplateBank) -> None:
    """DB4_B 106_2 wet (quality under 35, a few minutiae as captured) keeps its rebuilt
    reading, which has more minutiae and stays within the density bound."""
    data = db4_imitation("106_2.tif", "wet")
    off = templates.pipeline.enrol_bytes(data)
    pipe = _reading_poor_prints(templates.pipeline)
    on = pipe.enrol_bytes(data)
    area = print_area_mm2(pipe.load_image(data), pipe.extractor.params)
    assert off.quality < 35 and on.count > off.count
    assert on.count <= pipe.extractor.params.context_density * area


def test_a_rebuilt_reading_denser_than_good_prints_is_not_kept(templates: TemplateBank) -> None:
    """DB4_B 108_5 dry: rebuilt, LEADER finds more minutiae per mm² than any good print
    holds (the filter's pattern on broken ridges), so the captured reading is kept."""
    data = db4_imitation("108_5.tif", "dry")
    pipe = _reading_poor_prints(templates.pipeline)
    image = pipe.load_image(data)
    rebuilt = find_minutiae(
        contextual_print(image.pixels, pipe.context, pipe.enhance, pipe.ridges), pipe.extractor
    )
    area = print_area_mm2(image, pipe.extractor.params)
    off = templates.pipeline.enrol_bytes(data)
    assert off.quality < 35 and rebuilt.shape[0] > pipe.extractor.params.context_density * area
    assert pipe.enrol_bytes(data).count == off.count
