"""The report's tables for people to read (beside the flat metrics table of ``report.py``):
the readings an option compares on the same searches, side by side, and the gallery subjects
that attract the most false candidates."""

from __future__ import annotations

import html
import json
from typing import Any

# `eval faces identify --splits K --templates N`: the same searches read four ways
# (mobileid.eval.templates.READINGS), each a row
READINGS = {
    "single_image": "first image",
    "best_image": "best image (what the gallery does)",
    "template": "averaged template, single-image table",
    "template_own_table": "averaged template, its own table",
}


def flat_rows(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures as rows named by their path (``identity_disjoint.rank1``), as the page
    and the command line's text show them."""
    rows: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        if isinstance(value, dict) and not value:
            rows.append((f"{prefix}{key}", "none"))  # an empty map (no failures) still shows
        elif isinstance(value, dict):
            rows.extend(flat_rows(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def text(value: Any, digits: str = ".6g") -> str:
    """One value as plain text: a long list cut to its first 8 values (and how many there
    are), a mapping inside a list as JSON, not Python's repr."""
    if isinstance(value, float):
        return format(value, digits)
    if isinstance(value, list):
        shown = ", ".join(text(v, digits) for v in value[:8]) if value else "none"
        return shown + (f", … ({len(value)} values)" if len(value) > 8 else "")
    if isinstance(value, dict):
        rounded = {
            k: float(format(v, digits)) if isinstance(v, float) else v for k, v in value.items()
        }
        return json.dumps(rounded, ensure_ascii=False)
    return "n/a" if value is None else str(value)


def cell(value: Any) -> str:
    """One value as the page shows it (escaped once, here)."""
    return html.escape(text(value))


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def templates_table(metrics: dict[str, Any]) -> str:
    """The ``--templates`` readings as one table (nothing when the run had none)."""
    got = (metrics.get("identity_disjoint") or {}).get("templates")
    if not got:
        return ""
    rows = []
    for key, name in READINGS.items():
        r = got.get(key) or {}
        fpir, ub, pred = (
            r.get(k) or {} for k in ("band_fpir", "band_fpir_upper95", "band_fpir_predicted")
        )
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_pct(r.get('rank1'))}</td>"
            f"<td>{_pct(r.get('fnir_at_fpir_0.01'))} / {_pct(r.get('fnir_at_fpir_0.001'))}</td>"
            + "".join(
                f"<td>{_pct(fpir.get(b))} ({_pct(ub.get(b))}) / {_pct(pred.get(b))}</td>"
                for b in ("strong", "possible")
            )
            + "</tr>"
        )
    return (
        f"<h2>Multi-image templates: up to {cell(got.get('per_subject'))} images per subject, "
        f"{cell(got.get('splits'))} identity-disjoint splits, seed {cell(got.get('seed'))}</h2>\n"
        f"<p>The same searches ({cell(got.get('mated_probes'))} mated, "
        f"{cell(got.get('nonmated_probes'))} non-mated) read four ways, scoring "
        f"{cell(got.get('scoring'))}, tail {cell(got.get('tail') or 'none')}. A band's FPIR is "
        "observed (95% upper bound) / predicted.</p>\n<table><tr><th>reading</th><th>rank-1</th>"
        "<th>FNIR at FPIR 0.01 / 0.001</th><th>strong FPIR</th><th>possible FPIR</th></tr>"
        + "".join(rows)
        + "</table>"
    )


BY_SUBJECT = {
    "false_candidates_by_subject": "all searches",
    "false_candidates_nonmated": "searches for people who are not enrolled",
}


def worst_subjects(metrics: dict[str, Any]) -> str:
    """One table per threshold of the gallery subjects that drew the most false candidates,
    over all searches and over the searches for people who are not enrolled."""
    return "".join(_worst_of(metrics.get(k) or {}, w) for k, w in BY_SUBJECT.items())


def _worst_of(counts: dict[str, Any], searches: str) -> str:
    esc = html.escape
    parts = []
    for label, got in counts.items():
        rows = "".join(
            f"<tr><td>{esc(str(w['subject']))}</td><td>{w['false_candidates']}</td>"
            f"<td>{cell(w['rate'])}</td></tr>"
            for w in got.get("worst", [])
        )
        parts.append(
            f"<h3>At {esc(label)} (score &ge; {cell(got.get('threshold'))}): "
            f"{got.get('false_candidates')} false candidates on {got.get('subjects_hit')} "
            f"subjects; mean rate per subject {cell(got.get('mean_rate'))}, worst "
            f"{cell(got.get('max_rate'))}</h3>\n<table><tr><th>gallery subject</th>"
            f"<th>false candidates</th><th>rate per search</th></tr>{rows}</table>"
        )
    if not parts:
        return ""
    return (
        f"<h2>Gallery subjects that attract false candidates: {esc(searches)}</h2>\n<p>A "
        "false candidate is a search for someone else that scores at or above the threshold "
        "against the subject, at any rank.</p>\n" + "\n".join(parts)
    )
