"""The report's PNG charts, drawn on ``matplotlib.figure.Figure`` objects without ``pyplot``
(as in ``mobileid.eval.report``): no display needed, no process-wide state touched, and
matplotlib is imported only when a chart is drawn."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobileid.oversight.model import BANDS, DISPOSITIONS, PENDING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_TICKS = 12  # day labels beyond this overlap; every k-th day is labelled instead


def _figure(width: float = 7.2) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, 4.2), dpi=100, layout="constrained")


def _whole_numbers(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 searches


def _stacked(ax: Axes, labels: list[str], layers: Mapping[str, list[int]]) -> None:
    x = list(range(len(labels)))
    bottom = [0] * len(labels)
    for i, (name, heights) in enumerate(layers.items()):
        ax.bar(x, heights, bottom=bottom, label=name, color=f"C{i}")
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, -(-len(labels) // MAX_TICKS))
    ax.set_xticks(x[::step], labels[::step], rotation=30 if step > 1 or len(labels) > 6 else 0)
    _whole_numbers(ax)
    ax.legend(loc="upper left", fontsize="small")  # "best" can be slow: matplotlib warns


def searches_per_day(per_day: Mapping[str, Mapping[str, int]]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    days = list(per_day)
    _stacked(ax, days, {k: [per_day[d][k] for d in days] for k in ("live", "training")})
    ax.set_ylabel("searches")
    ax.set_title("Searches per day (UTC), live and training")
    return fig


def bands(figures: Mapping[str, Any]) -> Figure:
    fig = _figure()
    left, right = fig.subplots(1, 2)
    for ax, key, what in (
        (left, "searches_by_best_band", "live searches by best candidate's band"),
        (right, "candidates_by_band", "candidates by band (live searches)"),
    ):
        counts: Mapping[str, int] = figures[key]
        ax.bar(list(counts), list(counts.values()), color=[f"C{i}" for i in range(len(counts))])
        _whole_numbers(ax)
        ax.set_title(what, fontsize="medium")
    fig.suptitle("Candidate bands")
    return fig


def dispositions(by_band: Mapping[str, Mapping[str, int]]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    names = list(BANDS) + [b for b in by_band if b not in BANDS]
    kinds = list(DISPOSITIONS) + sorted(
        {k for row in by_band.values() for k in row} - {*DISPOSITIONS, PENDING}
    )
    layers = {k: [by_band.get(b, {}).get(k, 0) for b in names] for k in [*kinds, PENDING]}
    _stacked(ax, names, layers)
    ax.set_xlabel("band of the best candidate")
    ax.set_ylabel("live searches")
    ax.set_title("Dispositions of live searches, by best candidate's band")
    return fig


def save(fig: Figure, outdir: Path, name: str) -> str:
    fig.savefig(outdir / f"{name}.png", format="png")
    return f"{name}.png"
