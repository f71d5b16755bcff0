"""The demo's data sources: environment, shared folder, or a checksum-verified download."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from mobileid.cli.demo import demo_root, download_lfw, pick_demo
from mobileid.errors import MobileIdError


def _archive(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "lfw-deepfunneled" / "Some_One"
    src.mkdir(parents=True)
    (src / "Some_One_0001.jpg").write_bytes(b"jpeg bytes")
    archive = tmp_path / "lfw.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "lfw-deepfunneled", arcname="lfw-deepfunneled")
    return archive


def test_download_is_verified_and_unpacked(tmp_path):
    """An archive with the expected MD5 is unpacked into the cache, once."""
    archive = _archive(tmp_path)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    root = download_lfw(tmp_path / "cache", url=archive.as_uri(), md5=md5)
    assert (root / "Some_One" / "Some_One_0001.jpg").read_bytes() == b"jpeg bytes"
    assert download_lfw(tmp_path / "cache", url="file:///nonexistent", md5=md5) == root


def test_download_with_wrong_checksum_is_refused_and_deleted(tmp_path):
    """A corrupted or substituted archive is refused and not kept."""
    archive = _archive(tmp_path)
    with pytest.raises(MobileIdError, match="expected MD5"):
        download_lfw(tmp_path / "cache", url=archive.as_uri(), md5="0" * 32)
    assert not (tmp_path / "cache" / "lfw-deepfunneled.tgz").exists()
    assert not (tmp_path / "cache" / "lfw-deepfunneled").exists()


def test_demo_root_prefers_the_environment(tmp_path, lfw_dev):
    """MOBILEID_DEMO_DATA wins; otherwise the shared lfw-dev folder is used."""
    assert demo_root({"MOBILEID_DEMO_DATA": str(tmp_path)}) == tmp_path
    assert demo_root({}).resolve() == lfw_dev.resolve()


def test_pick_demo_builds_a_gallery_and_probes_outside_it(tmp_path, lfw_dev):
    """The demo gallery links real images; probes are unseen photos and one non-enrolled person."""
    gallery, probes = pick_demo(lfw_dev, 5, tmp_path)
    enrolled = sorted(p.name for p in gallery.iterdir())
    assert len(enrolled) == 5
    assert all(len(list((gallery / n).iterdir())) == 1 for n in enrolled)
    linked = {next((gallery / n).iterdir()).resolve() for n in enrolled}
    assert not linked & {p.resolve() for p in probes}
    assert probes[-1].parent.name not in enrolled
