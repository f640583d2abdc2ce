"""Sweep results on disk and as a figure: tidy CSV, netCDF cube, score-vs-label-fraction plot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from ..safeio import _atomic_target, _replace


def sweep_to_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The tidy sweep table as a cube: ``value`` and ``seconds`` over (metric, method, fraction, seed)."""
    indexed = table.set_index(["metric", "method", "fraction", "seed"])[["value", "seconds"]]
    dataset = xr.Dataset.from_dataframe(indexed)
    dataset.attrs["task"] = ",".join(sorted(table["task"].unique()))
    return dataset


def plot_sweep(table: pd.DataFrame, metric: str | None = None):
    """Score against label fraction, one line per method, band = std over seeds (seaborn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    metric = metric or table["metric"].iloc[0]
    subset = table[table["metric"] == metric]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sns.lineplot(data=subset, x="fraction", y="value", hue="method", errorbar="sd", marker="o", ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("label fraction")
    ax.set_ylabel(metric)
    ax.set_title(f"{', '.join(sorted(subset['task'].unique()))}: {metric} vs label fraction\n(mean ± std over seeds)",
                 fontsize="medium")
    ax.legend(fontsize=8, frameon=False, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def save_sweep(table: pd.DataFrame, folder) -> dict:
    """Write ``sweep.csv``, ``sweep.nc`` and ``sweep.png`` (one figure per metric) to ``folder``, atomically.

    Returns
    -------
    dict
        ``{"csv": path, "netcdf": path, "figures": [paths]}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "sweep.csv", "netcdf": folder / "sweep.nc", "figures": []}
    tmp = _atomic_target(paths["csv"])
    table.to_csv(tmp, index=False)
    _replace(tmp, paths["csv"])
    tmp = _atomic_target(paths["netcdf"])
    sweep_to_dataset(table).to_netcdf(tmp)
    _replace(tmp, paths["netcdf"])
    import matplotlib.pyplot as plt

    for i, metric in enumerate(table["metric"].unique()):
        path = folder / ("sweep.png" if i == 0 else f"sweep_{metric}.png")
        fig = plot_sweep(table, metric)
        tmp = _atomic_target(path)
        fig.savefig(tmp, dpi=120, format="png")
        plt.close(fig)
        _replace(tmp, path)
        paths["figures"].append(path)
    return paths
