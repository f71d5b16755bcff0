"""Fingerprint fixtures: one LEADER model per run, each real print extracted once."""

from __future__ import annotations

import pytest

from tests.finger.bank import TemplateBank, template_bank


@pytest.fixture
def templates() -> TemplateBank:
    return template_bank()
