"""Real-print templates shared by every test module in one run (LEADER takes ~1.5 s a print).

A plain module, not a conftest: tests under ``tests/eval`` and ``tests/cli`` use it too, and a
conftest cannot be imported as a plugin from another folder.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline
from mobileid.finger.types import FingerTemplate
from tests.conftest import shared_path


class TemplateBank:
    """Templates of real prints, extracted on first request and kept for the run."""

    def __init__(self, pipeline: FingerPipeline) -> None:
        self.pipeline = pipeline
        self.templates: dict[Path, FingerTemplate] = {}

    def __call__(self, *parts: str) -> FingerTemplate:
        path = shared_path(*parts)
        if path not in self.templates:
            self.templates[path] = self.pipeline.enrol_file(path)
        return self.templates[path]

    def afis(self, name: str) -> FingerTemplate:
        return self("fingerprints", "sourceafis_test_images", name)

    def db1(self, name: str) -> FingerTemplate:
        return self("fingerprints", "FVC2002", "DB1_B", name)


@functools.cache
def template_bank() -> TemplateBank:
    """The run's one bank, around the run's one loaded pipeline."""
    return TemplateBank(load_finger_pipeline())
