"""``mobileid admin check-index`` compares every vector of a Milvus Lite index with SQL: one
garbled vector among 2,000 (which the first-use sample of 32 finds only when drawn) is named,
left with --report-only (exit 1), rebuilt otherwise (exit 0), and found agreeing after."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from mobileid.config import Settings
from mobileid.gallery.embedded import EmbeddedGallery
from mobileid.gallery.full_check import check_partition
from mobileid.gallery.vectors import Partition
from mobileid.service.context import open_context
from tests.conftest import cli_json
from tests.gallery.test_index_check import _flip_signs
from tests.gallery.test_sync import PID, batch, unit

N = 2_000
VECS = unit(np.random.default_rng(41), N)
GARBLED = 1_234  # one row, far from the newest 8 the sample always holds
PART = Partition("g1", PID)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose 2,000 faces are in SQLite and in a Milvus Lite folder, with the
    sign bits of one stored vector flipped in the Lite data file (count and files intact)."""
    first = tmp_path_factory.mktemp("full-check")
    ctx = open_context(_settings(first))
    try:
        ctx.gallery.enrol_many("g1", [batch(VECS)], PID)
        assert ctx.gallery.catch_up("g1", PID) == N
    finally:
        ctx.close()
    # A copy: Milvus Lite's server for the first path may still hold the vectors in memory.
    root = first.parent / "copy"
    shutil.copytree(first, root)
    lite = root / "v.db" / "collections" / f"mobileid_{PART.key}" / "partitions"
    (data,) = sorted(lite.glob("*/data/*.parquet"))
    assert _flip_signs(data, VECS[GARBLED : GARBLED + 1]) == 64
    return root


@pytest.fixture
def data_dir(pristine: Path, tmp_path: Path) -> Path:
    """A copy of ``pristine`` of this test's own (what one test rebuilds, another sees not)."""
    shutil.copytree(pristine, tmp_path / "d")
    return tmp_path / "d"


def _settings(root: Path) -> Settings:
    return replace(Settings(), data_dir=root, vector_uri=str(root / "v.db"))


def _garbled_id(g: EmbeddedGallery) -> int:
    with g.engine.connect() as conn:
        sha = f"r-sha{GARBLED}"
        return int(
            conn.scalar(text("SELECT id FROM face_embeddings WHERE image_sha256 = :s"), {"s": sha})
        )


def test_a_full_check_names_the_one_garbled_vector_and_the_sample_size_does_not_matter(
    data_dir: Path,
) -> None:
    """Compared in batches of 300 with progress reported, every row is read once, the one
    garbled vector is named by id and nothing else differs; with rebuild off, the index is
    left as it was (a second check finds the same)."""
    ctx = open_context(_settings(data_dir))
    try:
        g = ctx.gallery
        assert isinstance(g, EmbeddedGallery)
        seen: list[tuple[int, int]] = []
        report = check_partition(
            g.sync, PART, batch=300, rebuild=False, progress=lambda d, t: seen.append((d, t))
        )
        assert (report.rows, report.held, report.by_vector) == (N, N, True)
        assert report.garbled == (_garbled_id(g),) and report.counts["garbled"] == 1
        assert report.counts["missing"] == 0 and report.extra == 0 and not report.rebuilt
        assert [d for d, _ in seen] == sorted({d for d, _ in seen}) and seen[-1] == (N, N)
        assert len(seen) == -(-N // 300)
        again = check_partition(g.sync, PART, batch=1000, rebuild=False)
        assert again.garbled == report.garbled
    finally:
        ctx.close()


def test_the_command_reports_with_report_only_then_rebuilds_and_agrees_after(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``admin check-index g1 --report-only`` exits 1 naming one garbled vector; without it,
    the index is rebuilt from SQL (exit 0); a third run, with --search, finds every vector
    by id and by search (exit 0, agrees). An unknown gallery is exit 5 naming the known."""
    env = {"MOBILEID_VECTOR_URI": str(data_dir / "v.db")}
    base = ["admin", "check-index", "--data-dir", str(data_dir)]
    code, out = cli_json(*base, "g1", "--report-only", "--batch", "500", env=env)
    (part,) = out["partitions"]
    assert code == 1 and part["counts"]["garbled"] == 1 and not part["rebuilt"]
    assert "1 vectors differing from SQL's" in part["differences"][0]
    assert "g1 (test-pipeline/1): 2000/2000" in capsys.readouterr().err  # progress
    code, out = cli_json(*base, "g1", env=env)
    assert code == 0 and out["partitions"][0]["rebuilt"]
    code, out = cli_json(*base, "--search", env=env)
    (part,) = out["partitions"]
    assert (
        code == 0
        and part["agrees"]
        and part["counts"]
        == {
            "missing": 0,
            "garbled": 0,
            "unfound": 0,
            "extra": 0,
        }
    )
    code, _ = cli_json(*base, "nope", env=env)
    assert code == 5
