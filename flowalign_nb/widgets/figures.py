"""Matplotlib figures rendered to PNG bytes for ``ipywidgets.Image`` (safe from a training thread)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def loss_figure(losses: np.ndarray) -> Figure:
    """Training loss per step."""
    fig = Figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=1)
    ax.set(xlabel="step", ylabel="CFM loss", title="training loss")
    return fig


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
