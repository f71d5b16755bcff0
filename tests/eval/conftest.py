"""A small sample of real lfw-dev faces, embedded once per test session for the face
accuracy modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobileid.config import Settings
from mobileid.eval.faces import EmbeddedSet, embed_root
from tests.conftest import link_subjects

MANY = 12  # identities with 3 images each
SINGLES = 16


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory, lfw_dev: Path) -> EmbeddedSet:
    root = tmp_path_factory.mktemp("faces") / "people"
    folders = sorted(p for p in lfw_dev.iterdir() if p.is_dir())
    many = [p.name for p in folders if len(list(p.iterdir())) >= 3][:MANY]
    singles = [p.name for p in folders if len(list(p.iterdir())) == 1][:SINGLES]
    link_subjects(lfw_dev, root, many, per_subject=3)
    link_subjects(lfw_dev, root, singles, per_subject=1)
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), workers=1)
    return embed_root(root, settings)
