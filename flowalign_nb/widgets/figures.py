"""Matplotlib figures rendered to PNG bytes for ``ipywidgets.Image`` (safe from a training thread)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..analysis.plots import figure_png


def png(fig: Figure) -> bytes:
    """``fig`` as the PNG bytes a panel shows (80 dpi, cropped: :func:`~flowalign_nb.analysis.plots.figure_png`)."""
    return figure_png(fig, dpi=80, tight=True)


def before_after_figure(scores) -> Figure:
    """Bars of each metric before and after alignment, from a score table (method, metric, value)."""
    table = scores[scores["method"].isin(["before alignment", "flow (aligned)"])]
    metrics = list(dict.fromkeys(table["metric"]))
    fig = Figure(figsize=(4, 2.6))
    ax = fig.add_subplot()
    width = 0.38
    for k, (method, name) in enumerate((("before alignment", "before"), ("flow (aligned)", "after"))):
        rows = table[table["method"] == method].set_index("metric")["value"]
        values = [rows.get(m, np.nan) for m in metrics]
        ax.bar(np.arange(len(metrics)) + (k - 0.5) * width, values, width, label=name)
    ax.set_xticks(np.arange(len(metrics)), metrics)
    ax.axhline(0, color="black", lw=0.6)
    ax.set(ylabel="score on held-out items", title="before vs after alignment")
    ax.legend(frameon=False, fontsize="small")
    return fig
