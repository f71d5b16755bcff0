"""``write_html``: the report as ``index.html`` with PNG charts, and ``report.json`` holding
exactly the figures the page shows (both are written from one ``as_dict()``)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mobileid.oversight import charts
from mobileid.oversight.model import OversightReport

_SECTIONS = (
    ("events", "All audited events in the window"),
    ("searches", "Searches (identification)"),
    ("super_queries", "Super queries (record sources)"),
    ("legal_authorities", "Legal authorities cited"),
    ("reach", "Galleries and record sources reached"),
    ("bands", "Candidate bands"),
    ("dispositions", "Dispositions"),
    ("training_vs_live", "Training versus live"),
    ("access", "Access denials, lockouts and failed logons"),
    ("retention", "Retention actions (purges)"),
    ("accuracy", "Accuracy of the current pipelines (last eval runs)"),
    ("chain", "Audit-chain status"),
)


def write_html(report: OversightReport, outdir: Path) -> Path:
    """Write ``index.html``, ``report.json`` and the charts into ``outdir``; return the page."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    body = report.as_dict()
    (outdir / "report.json").write_text(
        json.dumps(body, indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    images = [
        (charts.save(charts.searches_per_day(body["searches"]["per_day"]), outdir, "searches"),
         "Searches per day (UTC), live and training"),
        (charts.save(charts.bands(body["bands"]), outdir, "bands"), "Candidate bands"),
        (charts.save(charts.dispositions(body["dispositions"]["by_best_band"]), outdir,
                     "dispositions"), "Dispositions of live searches by best band"),
    ]  # fmt: skip
    index = outdir / "index.html"
    index.write_text(_page(body, images), encoding="utf-8")
    return index


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape("n/a" if value is None else str(value))


def _render(value: Any) -> str:
    """Any JSON value as HTML: mappings of rows become tables with columns, others key/value."""
    if isinstance(value, Mapping | list) and not value:
        return "<em>none</em>"
    if isinstance(value, list):
        if all(isinstance(v, Mapping) for v in value):
            return _columns([(str(i + 1), v) for i, v in enumerate(value)], "#")
        return _cell(", ".join(str(v) for v in value))
    if isinstance(value, Mapping):
        if all(isinstance(v, Mapping) and v for v in value.values()):
            return _columns(list(value.items()), "")
        rows = "".join(
            f"<tr><th>{_cell(k)}</th><td>{_render(v)}</td></tr>" for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    return _cell(value)


def _columns(rows: list[tuple[str, Mapping[str, Any]]], corner: str) -> str:
    names: list[str] = []
    for _, row in rows:
        names += [k for k in row if k not in names]
    head = "".join(f"<th>{_cell(n)}</th>" for n in [corner, *names])
    body = "".join(
        f"<tr><th>{_cell(key)}</th>"
        + "".join(f"<td>{_render(row.get(n))}</td>" for n in names)
        + "</tr>"
        for key, row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _chain_line(chain: Mapping[str, Any]) -> str:
    if chain["ok"]:
        return (
            f'<p class="ok">Audit chain intact: {chain["entries"]} entries, '
            f"{chain['checkpoints']} signed checkpoints, signed through entry "
            f"{chain['trusted_through']}.</p>"
        )
    return (
        f'<p class="bad">Audit chain BROKEN at entry {chain["first_bad_sequence"]}: '
        f"{html.escape(str(chain['reason']))}. Figures from entry "
        f"{chain['first_bad_sequence']} on cannot be trusted "
        f"({chain['window_entries_from_break']} of this window's entries).</p>"
    )


def _page(body: Mapping[str, Any], images: list[tuple[str, str]]) -> str:
    esc = html.escape
    w = body["window"]
    title = f"Oversight report {w['from']} to {w['to']}"
    figures = "\n".join(
        f'<figure><img src="{esc(src)}" alt="{esc(cap)}"><figcaption>{esc(cap)}</figcaption>'
        "</figure>"
        for src, cap in images
    )
    sections = "\n".join(
        f'<h2 id="{key}">{esc(heading)}</h2>\n{_render(body[key])}' for key, heading in _SECTIONS
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:72em;margin:2em auto}}
table{{border-collapse:collapse;margin:.3em 0}}
th,td{{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}}
img{{max-width:100%}}.ok{{color:#064}}.bad{{color:#a00;font-weight:bold}}</style></head>
<body>
<h1>{esc(title)}</h1>
<p>{w["days"]} days, UTC, both ends included. Computed from the audit log alone, as of entry
{body["as_of_sequence"]}; generated {_cell(body["generated_at"])}. The same figures are in
<a href="report.json">report.json</a>.</p>
{_chain_line(body["chain"])}
<p><strong>{esc(body["notice"])}</strong></p>
{figures}
{sections}
</body></html>
"""


def html_page(report: OversightReport) -> str:
    """The report as one self-contained page without charts (served over HTTP, where the
    chart files of :func:`write_html` have no folder to live in)."""
    return _page(report.as_dict(), [])
