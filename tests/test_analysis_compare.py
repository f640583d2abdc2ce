"""Transfer decoding after a real alignment, the before/after comparison, and analyses as plugins."""

import sys
import textwrap
import warnings
from importlib.metadata import EntryPoint

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import flowalign_nb as fa
import flowalign_nb.plugins
from flowalign_nb.analysis.compare import AnalysisSkippedWarning
from flowalign_nb.analysis.inputs import NotApplicableError
from flowalign_nb.plugins import ENTRY_POINT_GROUP, Plugins

BUILTIN_ANALYSES = {"rsa", "decoding", "transfer_decoding", "predictivity", "cka", "shape_metric", "mutual_knn"}
PAIRED_ONLY = {"rsa", "predictivity", "cka", "shape_metric", "mutual_knn"}  # need stimuli shown to both spaces


@pytest.fixture(scope="module")
def aligned():
    """The synthetic task (16-d source, 24-d target, 5 classes, 5 % labelled) aligned by an exemplar flow.

    Fit with one torch thread: for this small MLP, intra-op threads cost more than they save, and on
    a busy 2-core machine two threads made the fit ten times slower (same result).
    """
    pair = fa.make_synthetic_pair(seed=0)
    src, tgt = fa.mask_labels(pair.source, 0.05, seed=0), fa.mask_labels(pair.target, 0.05, seed=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        aligner = fa.FlowAligner(coupling="exemplar", steps=800, progress=False).fit(src, tgt)
        return pair, aligner.transform(pair.source_test)
    finally:
        torch.set_num_threads(threads)


def test_transfer_decoding_is_at_least_90_percent_after_alignment_and_near_chance_before(aligned):
    pair, moved = aligned
    after = fa.transfer_decode(moved, pair.target).table.iloc[0]
    before = fa.transfer_decode(pair.source_test, pair.target, pad=True).table.iloc[0]
    assert after["value"] >= 0.9
    assert abs(before["value"] - before["chance"]) < 0.1 and before["chance"] == 0.2
    assert after["ci_low"] > before["ci_high"]


def test_compare_runs_the_registered_analyses_before_and_after(aligned):
    """The synthetic spaces are unpaired (no shared stimuli), so RSA and predictivity are noted and
    left out; the decoding rows equal the functions called directly."""
    pair, moved = aligned
    with pytest.warns(AnalysisSkippedWarning) as caught:
        table, figure = fa.compare(pair.source_test, moved, pair.target)
    assert {str(w.message).split("'")[1] for w in caught} == PAIRED_ONLY
    assert set(table["analysis"]) == BUILTIN_ANALYSES and set(table["condition"]) == {"before", "after"}
    rows = table.set_index(["analysis", "condition"])
    assert rows.loc[("transfer_decoding", "after"), "value"] == fa.transfer_decode(moved, pair.target).table.loc[0, "value"]
    assert rows.loc[("transfer_decoding", "before"), "value"] == fa.transfer_decode(pair.source_test, pair.target, pad=True).table.loc[0, "value"]
    assert rows.loc[("decoding", "before"), "value"] == fa.decode(pair.source_test).table.loc[0, "value"]
    assert np.isnan(rows.loc[("rsa", "after"), "value"]) and "share 0 of 500" in rows.loc[("rsa", "after"), "note"]
    assert isinstance(figure, Figure)
    titles = sorted(ax.get_title() for ax in figure.axes if ax.get_visible() and ax.axison)
    assert titles == ["decoding: accuracy", "transfer_decoding: accuracy"]
    with pytest.raises(NotApplicableError, match="RSA needs at least 3 stimuli"):
        fa.compare(pair.source_test, moved, pair.target, analyses=["rsa"])


def test_compare_on_paired_stimuli_with_an_oracle_alignment():
    """Known answers: when ``moved`` is the target itself (a perfect aligner), RSA after is 1 and every
    before row equals the analysis called directly on (source, target)."""
    rng = np.random.default_rng(0)
    ids, labels = [f"im{i}" for i in range(60)], np.repeat(list("abc"), 20)
    x = rng.normal(size=(60, 6)) + 2 * np.repeat(rng.normal(size=(3, 6)), 20, axis=0)
    source = fa.make_representation(x, ids, labels)
    target = fa.make_representation(np.tanh(x @ rng.normal(size=(6, 9))), ids, labels)
    moved = target.isel(presentation=rng.permutation(60))
    options = {"rsa": {"bootstrap": 100}, "predictivity": {"cv": 5}, "transfer_decoding": {}}
    table, _ = fa.compare(source, moved, target, analyses=options)
    rows = table.set_index(["analysis", "condition", "metric"])["value"]
    assert rows[("rsa", "after", "spearman")] == pytest.approx(1.0, abs=1e-10)
    assert rows[("rsa", "before", "spearman")] == pytest.approx(fa.rsa(source, target, bootstrap=0).table.loc[0, "value"], abs=1e-12)
    assert rows[("predictivity", "before", "r")] == pytest.approx(fa.predictivity(source, target, cv=5).table.loc[0, "value"], abs=1e-12)
    assert rows[("predictivity", "after", "r")] > 0.99 > rows[("predictivity", "before", "r")]
    assert rows[("transfer_decoding", "after", "accuracy")] == 1.0
    assert list(table.columns[:4]) == ["analysis", "condition", "metric", "value"] and (table["note"] == "").all()


def test_compare_refuses_a_moved_that_is_not_the_source(aligned):
    pair, moved = aligned
    with pytest.raises(fa.RepresentationError, match="moved must hold the same stimuli as source"):
        fa.compare(pair.source_test, pair.target_test, pair.target)
    with pytest.raises(TypeError, match="analyses must be None, a list of analysis names or a dict"):
        fa.compare(pair.source_test, moved, pair.target, analyses="rsa")
    with pytest.raises(KeyError, match="unknown analysis 'rsq'; known analysiss: .*rsa"):
        fa.compare(pair.source_test, moved, pair.target, analyses=["rsq"])


def test_builtin_analyses_register_through_the_hook_and_check_their_options():
    table = fa.list_plugins()
    analyses = table[table["kind"] == "analysis"]
    assert set(analyses["name"]) >= BUILTIN_ANALYSES
    assert set(analyses[analyses["name"].isin(BUILTIN_ANALYSES)]["plugin"]) == {"flowalign_nb.analysis.hooks"}
    with pytest.raises(ValueError, match=r"method='kendall' is not allowed"):
        fa.make("analysis", "rsa", method="kendall")
    with pytest.raises(ValueError, match=r"got unknown option\(s\) folds; accepted: cv, label, seed"):
        fa.make("analysis", "decoding", folds=3)


PLUGIN = '''
import pandas as pd
from flowalign_nb import hookimpl

def mean_gap(scale: float = 1.0):
    """Distance between the grand means of a and b (in b's neuroids; a is zero-padded)."""
    def analysis(a, b):
        m_a, m_b = a.values.mean(0), b.values.mean(0)
        m_a = list(m_a) + [0.0] * (len(m_b) - len(m_a))
        return pd.DataFrame([{"metric": "gap", "value": scale * float(sum((p - q) ** 2 for p, q in zip(m_a, m_b)) ** 0.5)}])
    return analysis

def broken():
    return lambda a, b: [1, 2, 3]

@hookimpl
def flowalign_register_analyses(registry):
    registry.add("mean_gap", mean_gap, description="distance between grand means")
    registry.add("broken", broken, description="returns a list")
'''


@pytest.fixture
def analysis_plugin(tmp_path, monkeypatch):
    (tmp_path / "fa_test_analysis_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins = Plugins(entry_points=[EntryPoint("gap", "fa_test_analysis_plugin", group=ENTRY_POINT_GROUP)])
    monkeypatch.setattr(flowalign_nb.plugins, "_plugins", plugins)
    yield
    sys.modules.pop("fa_test_analysis_plugin", None)


def test_a_plugin_analysis_shows_in_compare(aligned, analysis_plugin):
    pair, moved = aligned
    table, figure = fa.compare(pair.source_test, moved, pair.target, analyses={"mean_gap": {"scale": 2.0}, "decoding": {}})
    gap = table[table["analysis"] == "mean_gap"].set_index("condition")["value"]
    expected = 2.0 * np.linalg.norm(moved.values.mean(0) - pair.target.values.mean(0))
    assert gap["after"] == pytest.approx(expected, rel=1e-6)
    assert gap["before"] > gap["after"]
    assert "mean_gap: gap" in [ax.get_title() for ax in figure.axes]
    assert "mean_gap" in fa.list_plugins().query("kind == 'analysis'")["name"].tolist()
    with pytest.raises(TypeError, match="analysis 'broken' returned list; an analysis returns a pandas.DataFrame"):
        fa.compare(pair.source_test, moved, pair.target, analyses=["broken"])


def test_compare_notes_name_the_source_before_alignment():
    """A source wider than the target: the skipped before-alignment transfer decoding names the source, not 'moved'."""
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    centres = rng.normal(0, 3, (3, 32))
    target = fa.make_representation(centres[labels] + rng.normal(size=(60, 32)), [f"t{i}" for i in range(60)], labels)
    moved_values = centres[labels] + rng.normal(size=(60, 32))
    ids = [f"s{i}" for i in range(60)]
    source = fa.make_representation(np.concatenate([moved_values, rng.normal(size=(60, 32))], axis=1), ids, labels)
    moved = fa.make_representation(moved_values, ids, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalysisSkippedWarning)
        table = fa.compare(source, moved, target).table
    rows = table[table["analysis"] == "transfer_decoding"].set_index("condition")
    assert rows.loc["before", "note"] == "source has 64 neuroids but target has 32; a decoder of the target cannot read it"
    assert rows.loc["after", "value"] == 1.0 and rows.loc["after", "note"] == ""
