"""Plots as SVG text, so report pages embed them and open without network or side files."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

Series = dict[str, Sequence[tuple[float, float]]]  # label -> (x, y) points


def line_plot(series: Series, title: str, xlabel: str, ylabel: str, logx: bool = False,
              logy: bool = False, markers: bool = True, hlines: dict[str, float] | None = None,
              spans: Sequence[tuple[float, float]] = ()) -> str:
    """One figure, one line per series; `hlines` draws labelled thresholds, `spans` shades x
    ranges (e.g. while reconstruct ran). Returns SVG markup."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        for label, points in series.items():
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o" if markers else None, markersize=4, label=label)
        for x0, x1 in spans:
            ax.axvspan(x0, x1, color="orange", alpha=0.2, linewidth=0)
        for label, y in (hlines or {}).items():
            ax.axhline(y, linestyle="--", linewidth=1, color="grey")
            ax.annotate(label, xy=(0, y), xycoords=("axes fraction", "data"), fontsize=8,
                        color="grey", va="bottom")
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.grid(True, which="both", linewidth=0.3)
        if any(series.values()):
            ax.legend(fontsize=8)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog so the markup can sit inside HTML
