"""Layer scans: every layer of a model scored against one reference (a brain representation or RDMs).

All layers come from one forward pass (:func:`flowalign_nb.data.represent` with ``layer=[...]``), each is
scored by a registered analysis (``rsa`` by default) against the reference, and the rows form one tidy
table, drawn as score against layer depth with the analysis' confidence interval and, where the
reference has several RDMs (subjects), its noise-ceiling band.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..plugins import make
from ..data.represent import represent
from .plots import _figure_and_axes


class LayerScan(NamedTuple):
    """What :func:`layer_scan` returns; unpacks as ``table, figure``.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer and metric: ``layer``, ``depth`` (0 for the first layer scanned), ``n_features``
        and the analysis' columns (``metric``, ``value``, and for RSA ``ci_low``, ``ci_high``,
        ``noise_ceiling_lower``, ``noise_ceiling_upper``, ...).
    figure : matplotlib.figure.Figure
        :func:`plot_layer_scan` of the table.
    """

    table: pd.DataFrame
    figure: Figure


def layer_scan(modality: str, stimuli: pd.DataFrame, reference, layers=None, analysis: str = "rsa",
               analysis_options: dict | None = None, **options) -> LayerScan:
    """Score every layer of a model against a reference, from one forward pass.

    Parameters
    ----------
    modality : str
        A registered modality with a ``layer`` option (e.g. ``"efficientnet_lite"``).
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
        What the model sees; matched to the reference by ``stimulus_id``.
    reference
        The ``b`` of the analysis: a representation (DataArray (n_stimuli, n_neuroids)), an RDM, or a
        list of them (for RSA, several subjects' RDMs, which give a noise ceiling).
    layers : list of str, optional
        Layers in depth order; default: every layer of the modality (its ``layers`` attribute).
    analysis : str
        A registered analysis (``fa.list_plugins()``, kind ``analysis``), called as ``analysis(layer_rep, reference)``.
    analysis_options : dict, optional
        Options of the analysis' factory (``{"bootstrap": 1000, "method": "spearman"}`` for RSA).
    **options
        The modality's options other than ``layer`` (``variant``, ``image_size``, ...).

    Returns
    -------
    LayerScan
        ``(table, figure)``.

    Raises
    ------
    ValueError
        If ``layers`` is not given and the modality does not list its layers, or for ``layer`` in ``options``.
    """
    if "layer" in options:
        raise ValueError("layer_scan takes the layers as layers=[...], not layer=")
    scorer = make("analysis", analysis, **(analysis_options or {}))
    if layers is None:
        layers = getattr(make("modality", modality, **options), "layers", None)
        if layers is None:
            raise ValueError(f"modality {modality!r} does not list its layers (no 'layers' attribute); pass layers=[...]")
    reps = represent(modality, stimuli, layer=list(layers), **options)
    parts = []
    for depth, (layer, rep) in enumerate(reps.items()):
        part = scorer(rep, reference)
        parts.append(part.assign(layer=layer, depth=depth, n_features=rep.sizes["neuroid"]))
    table = pd.concat(parts, ignore_index=True)
    front = ["layer", "depth", "n_features", "metric", "value"]
    table = table[front + [c for c in table.columns if c not in front]]
    return LayerScan(table, plot_layer_scan(table, title=f"{modality}: {analysis} by layer"))


def plot_layer_scan(table: pd.DataFrame, metric: str | None = None, label: str | None = None,
                    title: str | None = None, ax=None) -> Figure:
    """Score against layer depth, with confidence intervals and the reference's noise-ceiling band.

    Parameters
    ----------
    table : pandas.DataFrame
        A :class:`LayerScan` table.
    metric : str, optional
        The metric to draw; default the first in the table.
    label : str, optional
        Legend entry for this line (for several scans drawn into one ``ax``).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    metric = table["metric"].iloc[0] if metric is None else metric
    rows = table[table["metric"] == metric].sort_values("depth")
    fig, ax = _figure_and_axes(ax, (8, 4))
    x = rows["depth"].to_numpy()
    line = ax.plot(x, rows["value"], marker="o", label=label or metric)[0]
    if {"ci_low", "ci_high"} <= set(rows.columns) and np.isfinite(rows["ci_low"]).any():
        ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.2, lw=0)
    if {"noise_ceiling_lower", "noise_ceiling_upper"} <= set(rows.columns) and np.isfinite(rows["noise_ceiling_lower"]).any():
        lower, upper = rows["noise_ceiling_lower"].iloc[0], rows["noise_ceiling_upper"].iloc[0]
        ax.axhspan(lower, upper, color=line.get_color(), alpha=0.1, hatch="//", lw=0,
                   label=f"noise ceiling{f' ({label})' if label else ''}")
    ax.set_xticks(x, rows["layer"], rotation=90)
    ax.set_xlabel("layer")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} by layer")
    ax.legend(loc="best", fontsize="small")
    return fig
