"""The demo's data sources: the environment or the shared folder, never a download."""

from __future__ import annotations

from mobileid.cli.demo import demo_root, pick_demo


def test_no_demo_data_means_no_download(tmp_path):
    """Without MOBILEID_DEMO_DATA or the shared folder there is no demo root, and no fetch."""
    assert demo_root({}, shared=tmp_path / "absent") is None
    assert not any(tmp_path.iterdir())


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
