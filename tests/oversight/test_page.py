"""The HTML report: real PNG charts, the figures on the page, report.json equal to as_dict."""

from __future__ import annotations

import json
from pathlib import Path

from mobileid import NOTICE
from mobileid.audit import VerifyReport
from mobileid.oversight import OversightReport, build_report, write_html
from tests.oversight.conftest import Built
from tests.oversight.scenario import FROM, TO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = ("searches.png", "bands.png", "dispositions.png")


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert len(data) > 5000, f"{path.name} is suspiciously small ({len(data)} bytes)"


def test_html_and_json_hold_the_figures(report: OversightReport, tmp_path: Path) -> None:
    """index.html links three PNG charts and shows the figures; report.json is as_dict()."""
    index = write_html(report, tmp_path / "out")
    assert index == tmp_path / "out" / "index.html"
    for name in CHARTS:
        _assert_png(index.parent / name)
    saved = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    assert saved == report.as_dict()
    page = index.read_text(encoding="utf-8")
    for text in (
        *(f'src="{name}"' for name in CHARTS),
        "Oversight report 2026-03-02 to 2026-03-04",
        "Audit chain intact: 31 entries",
        "<th>missing person</th>",  # per purpose
        "<th>Act B</th><td>5</td><td>1</td>",  # authority: searches, super queries
        "MOU-2025-07",  # dmv's registry entry
        "<th>not_entitled:interpol</th><td>1</td>",  # denial reason
        "probe-24h",
        "0.3333",  # strong then not a match
        NOTICE,
    ):
        assert text in page, text


def test_broken_chain_is_the_first_thing_on_the_page(built: Built, tmp_path: Path) -> None:
    """A broken chain is stated at the top, with the first bad entry and its reason."""
    broken = VerifyReport(False, 5, 1, first_bad_sequence=6, reason="entry 6 was changed")
    r = build_report(built.entries, date_from=FROM, date_to=TO, chain=broken)
    page = write_html(r, tmp_path / "out").read_text(encoding="utf-8")
    assert "Audit chain BROKEN at entry 6: entry 6 was changed" in page
    assert page.index("BROKEN") < page.index('src="searches.png"')


def test_long_window_still_draws(built: Built, tmp_path: Path) -> None:
    """Four months of days draw as one readable chart (thinned day labels), still a valid PNG."""
    from datetime import date

    r = build_report(
        built.entries, date_from=date(2026, 1, 1), date_to=date(2026, 4, 30), chain=built.chain
    )
    index = write_html(r, tmp_path / "year")
    _assert_png(index.parent / "searches.png")
    assert len(r.searches["per_day"]) == 120
