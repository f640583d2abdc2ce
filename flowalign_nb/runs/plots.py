"""Figures of a fit run: training curve, coupling plan by class, image grids; and PNG bytes of a figure.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), as in
:mod:`flowalign_nb.analysis.plots`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def plot_training(history: np.ndarray, title: str = "flow matching loss") -> Figure:
    """Training loss per step and its running mean.

    Parameters
    ----------
    history : numpy.ndarray, shape (steps,)
        ``FlowAligner.history_``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    history = np.asarray(history, dtype=np.float64)
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.subplots()
    steps = np.arange(1, len(history) + 1)
    window = len(history) // 20
    ax.plot(steps, history, color="0.65" if window > 1 else "C0", lw=0.8, label="per step")
    if window > 1:
        smooth = np.convolve(history, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, color="C0", lw=1.8, label=f"running mean ({window} steps)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize="small", frameon=False)
    return fig


def plot_plan(plan: xr.DataArray, title: str = "coupling plan") -> Figure:
    """Heatmap of a transport plan with items ordered by class and class boundaries drawn.

    Parameters
    ----------
    plan : DataArray, dims ("source_item", "target_item")
        Items already ordered by class, with ``source_label`` / ``target_label`` coords and attrs
        ``same_class_share``, ``chance_share`` and ``plan_source`` (as
        :func:`flowalign_nb.analysis.coupling_plan.training_plan_view` writes; run folders written
        before ``plan_source`` was recorded show a fresh ``coupling.plan`` and are titled so).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(plan.values * plan.size, cmap="magma", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="mass x number of cells (1 = uniform)")
    for axis, name in ((ax.yaxis, "source_label"), (ax.xaxis, "target_label")):
        labels = plan[name].values
        starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        centres = (starts + np.r_[starts[1:], len(labels)]) / 2 - 0.5
        for boundary in starts[1:]:
            (ax.axhline if axis is ax.yaxis else ax.axvline)(boundary - 0.5, color="cyan", lw=0.6)
        axis.set_ticks(centres, [str(labels[s]) for s in starts])
    ax.set_ylabel("source items (by class)")
    ax.set_xlabel("target items (by class)")
    ax.set_title(f"{title}: {plan_source(plan)}\nsame-class mass {plan.attrs['same_class_share']:.1%} "
                 f"(independent pairing: {plan.attrs['chance_share']:.1%})", fontsize="medium", wrap=True)
    return fig


def plan_source(plan: xr.DataArray) -> str:
    """Which plan a stored coupling plan is, in words (its ``plan_source`` attr)."""
    return str(plan.attrs.get("plan_source", "coupling.plan among random items (recorded before plan sources were)"))


