"""Figures: what is drawn is the data (heatmap cells, bar heights, error bars), ordered as documented."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.figure import Figure

import flowalign_nb as fa
from flowalign_nb.analysis.plots import plot_bars, plot_comparison, plot_confusion, plot_rdm


def drawn_matrix(fig):
    mesh = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    values = np.asarray(mesh.get_array())
    n = int(np.sqrt(values.size))
    return values.reshape(n, n)


def test_rdm_heatmap_groups_stimuli_by_label_in_order_of_first_appearance():
    rng = np.random.default_rng(0)
    labels = np.array(["face", "body", "face", "object", "body", "face"])
    rep = fa.make_representation(rng.normal(size=(6, 4)), [f"s{i}" for i in range(6)], labels)
    rdm = fa.rdm(rep, "euclidean")
    fig = plot_rdm(rdm, title="test")
    assert isinstance(fig, Figure)
    order = [0, 2, 5, 1, 4, 3]  # face, face, face, body, body, object
    np.testing.assert_allclose(drawn_matrix(fig), rdm.values[np.ix_(order, order)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["face", "body", "object"]
    np.testing.assert_allclose(ax.get_xticks(), [1.5, 4.0, 5.5])
    np.testing.assert_allclose(drawn_matrix(plot_rdm(rdm, order_by=None)), rdm.values)
    several = xr.concat([rdm, 3 * rdm], dim="rdm")
    np.testing.assert_allclose(drawn_matrix(plot_rdm(several, order_by=None)), 2 * rdm.values)
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_confusion_heatmap_shows_row_shares():
    confusion = xr.DataArray([[8, 2], [1, 3]], dims=("true", "predicted"), coords={"true": ["a", "b"], "predicted": ["a", "b"]})
    np.testing.assert_allclose(drawn_matrix(plot_confusion(confusion)), [[0.8, 0.2], [0.25, 0.75]])
    np.testing.assert_allclose(drawn_matrix(plot_confusion(confusion, normalize=False)), [[8, 2], [1, 3]])
    with pytest.raises(ValueError, match=r"plot_confusion needs dims \('true', 'predicted'\)"):
        plot_confusion(confusion.rename(true="actual"))


def test_bars_draw_values_intervals_ceilings_and_chance():
    table = pd.DataFrame({"metric": ["spearman", "pearson", "skipped"], "value": [0.3, 0.5, np.nan],
                          "ci_low": [0.2, 0.45, np.nan], "ci_high": [0.35, 0.6, np.nan],
                          "noise_ceiling_lower": [0.6, np.nan, np.nan], "noise_ceiling_upper": [0.8, np.nan, np.nan],
                          "chance": [np.nan, 0.1, np.nan]})
    fig = plot_bars(table)
    ax = fig.axes[0]
    assert [round(p.get_height(), 12) for p in ax.patches] == [0.3, 0.5]
    caps = sorted(round(y, 12) for line in ax.lines for y in line.get_ydata() if line.get_marker() == "_")
    assert caps == [0.2, 0.35, 0.45, 0.6]
    band = next(c for c in ax.collections if isinstance(c, PolyCollection))
    assert band.get_paths()[0].vertices[:, 1].min() == pytest.approx(0.6)
    assert band.get_paths()[0].vertices[:, 1].max() == pytest.approx(0.8)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["spearman", "pearson"]
    assert sorted(ax.get_legend_handles_labels()[1]) == ["chance", "noise ceiling"]
    with pytest.raises(ValueError, match="plot_bars: table has no column 'condition'"):
        plot_bars(table, x="condition")


def test_comparison_figure_has_one_panel_per_analysis_and_metric():
    table = pd.DataFrame({"analysis": ["rsa", "rsa", "decoding", "decoding", "predictivity", "predictivity"],
                          "condition": ["before", "after"] * 3, "metric": ["spearman"] * 2 + ["accuracy"] * 2 + ["", ""],
                          "value": [0.2, 0.9, 0.5, 0.95, np.nan, np.nan]})
    fig = plot_comparison(table)
    shown = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in shown] == ["rsa: spearman", "decoding: accuracy"]
    assert [round(p.get_height(), 12) for p in shown[0].patches] == [0.2, 0.9]
    assert [t.get_text() for t in shown[1].get_xticklabels()] == ["before", "after"]
