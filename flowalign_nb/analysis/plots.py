"""Figures of analysis results (matplotlib and seaborn), returned as :class:`matplotlib.figure.Figure`.

Figures are built with :class:`~matplotlib.figure.Figure` directly, not through ``pyplot``: nothing
is shown or kept in a global figure list, any backend works, and a notebook displays the returned
figure. Pass ``ax=`` to draw into an axes of your own figure instead.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure

from .rdms import RDM_DIMS


def plot_rdm(rdm: xr.DataArray, order_by: str | None = "label", title: str | None = None, ax=None) -> Figure:
    """Heatmap of an RDM with stimuli grouped by label.

    Parameters
    ----------
    rdm : DataArray, dims ("stimulus_a", "stimulus_b") or ("rdm", "stimulus_a", "stimulus_b")
        Several RDMs are averaged.
    order_by : str or None
        Stimuli are grouped by the coord ``f"{order_by}_a"`` when it exists, groups in order of first
        appearance, stimuli within a group in their given order (boundaries are drawn and named);
        None keeps the given order.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "rdm" in rdm.dims:
        rdm = rdm.mean("rdm", keep_attrs=True)
    if rdm.dims != RDM_DIMS:
        raise ValueError(f"plot_rdm needs an RDM with dims {RDM_DIMS} (optionally with 'rdm'); got {rdm.dims}")
    fig, ax = _figure_and_axes(ax, (5.5, 4.6))
    labels = None
    if order_by is not None and f"{order_by}_a" in rdm.coords:
        labels = rdm[f"{order_by}_a"].values
        order = np.argsort(pd.factorize(labels)[0], kind="stable")
        rdm, labels = rdm.isel(stimulus_a=order, stimulus_b=order), labels[order]
    sns.heatmap(rdm.values, ax=ax, square=True, cmap="viridis", xticklabels=False, yticklabels=False,
                cbar_kws={"label": f"dissimilarity ({rdm.attrs.get('method', 'unknown')})"})
    if labels is not None:
        starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        ends = np.r_[starts[1:], len(labels)]
        for boundary in starts[1:]:
            ax.axhline(boundary, color="white", lw=0.8)
            ax.axvline(boundary, color="white", lw=0.8)
        centres = (starts + ends) / 2
        names = [str(labels[s]) for s in starts]
        ax.set_xticks(centres, names, rotation=90)
        ax.set_yticks(centres, names, rotation=0)
    ax.set_title(title or "RDM")
    return fig


def plot_confusion(confusion: xr.DataArray, normalize: bool = True, title: str | None = None, ax=None) -> Figure:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted class).

    Parameters
    ----------
    confusion : DataArray, dims ("true", "predicted"), shape (C, C)
        Counts, as in :class:`flowalign_nb.analysis.decoding.DecodingResult`.
    normalize : bool
        Show each row as shares of its true class, :math:`M_{ij} / \\sum_k M_{ik}`.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if confusion.dims != ("true", "predicted"):
        raise ValueError(f"plot_confusion needs dims ('true', 'predicted'); got {confusion.dims}")
    values = confusion.values.astype(np.float64)
    if normalize:
        values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    fig, ax = _figure_and_axes(ax, (5, 4.2))
    sns.heatmap(values, ax=ax, annot=len(values) <= 12, fmt=".2f" if normalize else ".0f", cmap="Blues",
                vmin=0, vmax=1 if normalize else None, square=True,
                xticklabels=[str(c) for c in confusion["predicted"].values],
                yticklabels=[str(c) for c in confusion["true"].values])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("confusion (row shares)" if normalize else "confusion (counts)"))
    return fig


def plot_bars(table: pd.DataFrame, x: str = "metric", hue: str | None = None, title: str | None = None, ax=None) -> Figure:
    """Bars of ``value`` with their confidence intervals, noise ceilings and chance levels.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy analysis rows: ``value`` and the ``x`` (and ``hue``) column; optional ``ci_low`` /
        ``ci_high`` (error bars), ``noise_ceiling_lower`` / ``noise_ceiling_upper`` (grey band)
        and ``chance`` (dashed line). Rows with a NaN ``value`` are left out.
    x, hue : str
        Columns naming the bar groups and the bars within a group.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    for column in (x, hue, "value"):
        if column is not None and column not in table.columns:
            raise ValueError(f"plot_bars: table has no column {column!r}; columns are {list(table.columns)}")
    fig, ax = _figure_and_axes(ax, (1.2 + 1.1 * max(1, table[x].nunique()), 3.6))
    table = table[np.isfinite(table["value"].astype(float))]
    groups = list(pd.unique(table[x]))
    hues = list(pd.unique(table[hue])) if hue else [None]
    width = 0.8 / len(hues)
    colours = sns.color_palette(n_colors=len(hues))
    legend = set()

    def once(name):
        """``name`` the first time (one legend entry per kind), None after."""
        if name is None or name in legend:
            return None
        legend.add(name)
        return name

    for k, h in enumerate(hues):
        rows = table if h is None else table[table[hue] == h]
        for i, group in enumerate(groups):
            match = rows[rows[x] == group]
            if match.empty:
                continue
            row = match.iloc[0]
            centre = i - 0.4 + width * (k + 0.5)
            span = [centre - width / 2, centre + width / 2]
            ax.bar(centre, row["value"], width * 0.9, color=colours[k], yerr=_error(row), capsize=3,
                   label=once(None if h is None else str(h)))
            if np.isfinite(row.get("noise_ceiling_lower", np.nan)):
                ax.fill_between(span, row["noise_ceiling_lower"], row["noise_ceiling_upper"], color="0.75",
                                alpha=0.6, zorder=0, label=once("noise ceiling"))
            if np.isfinite(row.get("chance", np.nan)):
                ax.hlines(row["chance"], *span, colors="k", linestyles="--", lw=1, label=once("chance"))
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_ylabel("value")
    ax.axhline(0, color="k", lw=0.5)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def plot_comparison(table: pd.DataFrame) -> Figure:
    """The before/after-alignment figure: one panel per (analysis, metric), bars per condition.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`flowalign_nb.compare` builds it (columns ``analysis``, ``condition``, ``metric``,
        ``value`` and optional interval columns, see :func:`plot_bars`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = table[np.isfinite(table["value"].astype(float))]
    panels = list(shown.groupby(["analysis", "metric"], sort=False))
    columns = max(1, min(4, len(panels)))
    rows = max(1, -(-len(panels) // columns))
    fig = Figure(figsize=(3.2 * columns, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, ((analysis, metric), part) in zip(axes, panels):
        plot_bars(part, x="condition", title=f"{analysis}: {metric}", ax=ax)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if not panels:
        axes[0].text(0.5, 0.5, "no analysis applied to these inputs", ha="center", va="center")
    fig.suptitle("before vs after alignment")
    return fig


def _error(row: pd.Series):
    """Asymmetric error bar ``[[value - ci_low], [ci_high - value]]``, or None without a finite interval."""
    low, high = row.get("ci_low", np.nan), row.get("ci_high", np.nan)
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return [[max(row["value"] - low, 0.0)], [max(high - row["value"], 0.0)]]


def _figure_and_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def figure_png(fig, dpi: int = 110, tight: bool = False) -> bytes:
    """The figure as PNG bytes (``tight``: cropped to its drawn content, as the panels show figures)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


def plot_images(rows: list[tuple[str, np.ndarray]], max_columns: int = 10) -> Figure:
    """Titled blocks of images, one block per ``(title, images)`` pair, wrapped at ``max_columns``.

    A block of ``n`` images takes ``ceil(n / max_columns)`` lines, so images given in class order,
    ``max_columns`` per class, show one class per line.

    Parameters
    ----------
    rows : list of (str, numpy.ndarray of shape (n, h, w) or (n, h, w, 3))
        Grey values or RGB in [0, 1] (or any range: each block is scaled to its own min and max).
    max_columns : int
        Images per line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    columns = max(1, min(max_columns, max(len(images) for _, images in rows)))
    lines = [-(-len(images) // columns) for _, images in rows]
    fig = Figure(figsize=(0.9 * columns + 1.8, 0.9 * sum(lines) + 0.3), layout="constrained")
    axes = fig.subplots(sum(lines), columns, squeeze=False)
    first_line = np.cumsum([0, *lines[:-1]])
    for (title, images), start, count in zip(rows, first_line, lines):
        images = np.asarray(images, dtype=np.float64)
        low, high = np.nanmin(images), np.nanmax(images)
        scaled = (images - low) / (high - low) if high > low else np.zeros_like(images)
        for k, ax in enumerate(axes[start:start + count].ravel()):
            ax.set_axis_off()
            if k < len(scaled):
                ax.imshow(scaled[k], cmap="gray" if scaled.ndim == 3 else None, vmin=0, vmax=1)
        head = axes[start, 0]
        head.set_axis_on()
        head.set_xticks([])
        head.set_yticks([])
        head.set_ylabel(title, rotation=0, ha="right", va="center", fontsize="small", wrap=True)
    return fig
