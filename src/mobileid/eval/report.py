"""An evaluation report: PNG plots, ``metrics.json`` and a self-contained ``index.html``.

Plots are drawn on ``matplotlib.figure.Figure`` objects and saved with the Agg renderer, never
through ``pyplot``: nothing needs a display, and the process-wide backend and pyplot's figure
registry are left as the caller had them (importing this module does not import matplotlib).

- ``det.png``: DET curve on log-log axes, FMR vs FNMR (verification) or FPIR vs FNIR
  (identification). A rate of 0 cannot sit on a log axis; it is drawn at half the resolution of
  its axis, ``1/(2n)``, and the axis label says so.
- ``scores.png``: score densities, genuine vs impostor (or, for identification, the mate's
  rank-1 score vs the non-mated top score), with a vertical line per band threshold.
- ``cmc.png``: the CMC curve (identification only), whole ranks on its rank axis.

A band whose FMR the calibration cannot resolve (too few impostor comparisons) has no threshold
line; the page says so in one line instead of leaving it out silently (:func:`band_lines`).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mobileid import NOTICE
from mobileid.errors import InvalidArgument
from mobileid.eval.metrics import IdentificationMetrics, roc
from mobileid.eval.report_tables import (
    BY_SUBJECT,
    cell,
    flat_rows,
    templates_table,
    worst_subjects,
)
from mobileid.scoring import Calibration

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def band_lines(cal: Calibration, fmrs: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """({band: threshold} of the bands whose FMR ``cal`` resolves, {band: why not} of the
    others), for :func:`write_report`'s ``thresholds`` and ``unshown``."""
    shown, unshown = {}, {}
    for band, fmr in fmrs.items():
        if (t := cal.threshold_or(fmr, None)) is not None:
            shown[band] = t
        else:
            unshown[band] = (
                f"{cal.impostor_count:,} impostor comparisons resolve FMR down to "
                f"{cal.resolution:.1e} only, not the {band} band's {fmr:g}"
            )
    return shown, unshown


def write_report(
    outdir: Path,
    title: str,
    metrics: dict[str, Any],
    *,
    genuine: npt.ArrayLike | None = None,
    impostor: npt.ArrayLike | None = None,
    ident: IdentificationMetrics | None = None,
    thresholds: dict[str, float] | None = None,
    unshown: dict[str, str] | None = None,
) -> Path:
    """Write the plots the inputs allow, ``metrics.json`` and ``index.html`` into ``outdir``.

    ``genuine`` and ``impostor`` come together or not at all. ``thresholds`` maps a band name to
    its score threshold; ``unshown`` maps a band without one to why (:func:`band_lines`), said
    in one line on the page. Non-finite numbers in ``metrics`` are written to JSON as ``null``.
    Returns the path of ``index.html``.
    """
    if (genuine is None) != (impostor is None):
        raise InvalidArgument(
            "genuine, impostor: expected both score arrays or neither, got only one",
            field="genuine" if genuine is None else "impostor",
        )
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lines = thresholds or {}
    images: list[tuple[str, str]] = []
    if genuine is not None and impostor is not None:
        gen = np.asarray(genuine, dtype=np.float64).ravel()
        imp = np.asarray(impostor, dtype=np.float64).ravel()
        _, far, frr = roc(gen, imp)
        images.append(_save(_det(far, frr, imp.size, gen.size, "FMR", "FNMR"), outdir, "det"))
        images.append(_save(_hist(gen, imp, ("genuine", "impostor"), lines), outdir, "scores"))
    if ident is not None:
        _, fpir, fnir = ident.det_curve()
        n_nm, n_m = ident.nonmated_probes, ident.mated_probes
        name = "det" if genuine is None else "det_ident"
        images.append(_save(_det(fpir, fnir, n_nm, n_m, "FPIR", "FNIR (rank 1)"), outdir, name))
        if genuine is None:
            pair = ("mate at rank 1", "non-mated top")
            fig = _hist(ident.mated_top, ident.nonmated_top, pair, lines)
            images.append(_save(fig, outdir, "scores"))
        images.append(_save(_cmc(ident.cmc), outdir, "cmc"))
    clean = _jsonable(metrics)
    (outdir / "metrics.json").write_text(
        json.dumps(clean, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    index = outdir / "index.html"
    index.write_text(_html(title, clean, lines, unshown or {}, images), encoding="utf-8")
    return index


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.8), dpi=100, layout="constrained")


def _save(fig: Figure, outdir: Path, name: str) -> tuple[str, str]:
    """Save as ``name.png`` (Agg, chosen from the extension); return (file name, caption)."""
    fig.savefig(outdir / f"{name}.png", format="png")
    return f"{name}.png", str(fig.axes[0].get_title())


def _det(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], nx: int, ny: int, xl: str, yl: str
) -> Figure:
    """A DET curve; zeros are drawn at ``1/(2n)`` and runs of near-equal points thinned."""
    fx, fy = 0.5 / nx, 0.5 / ny
    lx, ly = np.log10(np.maximum(x, fx)), np.log10(np.maximum(y, fy))
    # Keep one point per 1/200 decade cell: 1e6 impostors make ~1e6 points, a plot needs ~1e3.
    cells = np.stack([np.round(lx * 200), np.round(ly * 200)], axis=1)
    _, keep = np.unique(cells, axis=0, return_index=True)
    keep.sort()
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(10.0 ** lx[keep], 10.0 ** ly[keep], drawstyle="steps-post", color="C0")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{xl} (0 drawn at 1/(2n) = {fx:.2g})")
    ax.set_ylabel(f"{yl} (0 drawn at 1/(2n) = {fy:.2g})")
    ax.set_title(f"DET curve: {xl} vs {yl} (lower left is better)")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def _hist(
    a: npt.ArrayLike, b: npt.ArrayLike, labels: tuple[str, str], lines: dict[str, float]
) -> Figure:
    """Densities of two score sets (finite scores only) and a line per threshold."""
    sets = [np.asarray(v, dtype=np.float64) for v in (a, b)]
    sets = [v[np.isfinite(v)] for v in sets]
    finite = np.concatenate(sets)
    fig = _figure()
    ax = fig.add_subplot()
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 61).tolist()
        for values, label, color in zip(sets, labels, ("C2", "C3"), strict=True):
            if values.size:
                ax.hist(values, bins=bins, density=True, alpha=0.5, color=color, label=label)
    for i, (band, t) in enumerate(sorted(lines.items(), key=lambda kv: kv[1])):
        if math.isfinite(t):
            ax.axvline(t, color=f"C{4 + i}", linestyle="--", label=f"{band} >= {t:.4g}")
    ax.set_xlabel("score (similarity: higher is more alike)")
    ax.set_ylabel("density")
    ax.set_title(f"Score distributions: {labels[0]} vs {labels[1]}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize="small")  # "best" is slow on big histograms
    return fig


def _cmc(cmc: npt.NDArray[np.float64]) -> Figure:
    from matplotlib.ticker import MaxNLocator

    fig = _figure()
    ax = fig.add_subplot()
    ranks = np.arange(1, cmc.size + 1)
    ax.plot(ranks, cmc, marker="o", color="C1")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no rank 2.5 on a short curve
    ax.set_xlabel("rank")
    ax.set_ylabel("fraction of mated searches with the mate within rank")
    ax.set_ylim(0.0, 1.02)
    ax.set_title("CMC curve")
    ax.grid(True, alpha=0.3)
    return fig


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy values unwrapped, arrays as lists, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _html(
    title: str,
    metrics: dict[str, Any],
    lines: dict[str, float],
    unshown: dict[str, str],
    images: list[tuple[str, str]],
) -> str:
    esc = html.escape
    shown = {k: v for k, v in metrics.items() if k not in BY_SUBJECT}
    rows = "\n".join(f"<tr><th>{esc(k)}</th><td>{cell(v)}</td></tr>" for k, v in flat_rows(shown))
    band_rows = "\n".join(
        f"<tr><th>{esc(k)}</th><td>{cell(v)}</td></tr>" for k, v in sorted(lines.items())
    )
    figures = "\n".join(
        f'<figure><img src="{esc(src)}" alt="{esc(cap)}"><figcaption>{esc(cap)}</figcaption>'
        "</figure>"
        for src, cap in images
    )
    pipeline = esc(str(metrics.get("pipeline_id") or "not given"))
    missing = "".join(
        f"<p>No {esc(b)}-band line: {esc(w)}.</p>\n" for b, w in sorted(unshown.items())
    )
    table = f"<table>{band_rows}</table>\n" if lines else ""
    heading = "<h2>Band thresholds (score)</h2>\n" if lines or unshown else ""
    thresholds = heading + table + missing
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}
img{{max-width:100%}}</style></head>
<body>
<h1>{esc(title)}</h1>
<p>Pipeline: <code>{pipeline}</code></p>
<p><strong>{esc(NOTICE)}</strong></p>
{templates_table(metrics)}
<h2>Metrics</h2>
<p>Rates are fractions (0.9938, not 99.38%). Scores are similarities: higher is more alike.</p>
<table>
{rows}
</table>
{thresholds}
{worst_subjects(metrics)}
{figures}
</body></html>
"""
