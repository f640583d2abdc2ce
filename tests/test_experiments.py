"""Tasks and sweeps: the evaluation protocol on the built-in synthetic task."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import flowalign_nb as fa
from flowalign_nb.cli import main
from flowalign_nb.experiments import parse_method, run_cell, summarise
from flowalign_nb.synthetic import SyntheticTask

SMALL = dict(n_train=300, n_test=100)


def test_sweep_table_is_tidy_and_complete():
    table = fa.sweep(SyntheticTask(**SMALL), fractions=[0.05, 0.5], seeds=[0, 1],
                     methods=["exemplar", "ot+prototype", "ridge", "end_to_end", "ceiling"],
                     flow_options={"steps": 40}, progress=False)
    assert list(table.columns) == ["task", "method", "fraction", "seed", "metric", "value", "seconds"]
    assert len(table) == 2 * 2 * 5
    assert set(table["metric"]) == {"accuracy"}
    assert table["value"].between(0, 1).all()
    # the ceiling does not depend on the label fraction
    ceiling = table[table["method"] == "ceiling"].groupby("seed")["value"].nunique()
    assert (ceiling == 1).all()
    summary = summarise(table)
    assert summary.loc["ridge", ("mean", 0.5)] == pytest.approx(table.query("method == 'ridge' and fraction == 0.5")["value"].mean())


def test_registered_task_runs_by_name():
    assert "synthetic" in fa.list_plugins().query("kind == 'task'")["name"].tolist()
    table = fa.sweep("synthetic", fractions=[0.1], seeds=[0], methods=["ceiling"], progress=False)
    assert table.loc[0, "task"] == "synthetic" and table.loc[0, "value"] > 0.95


def test_end_to_end_uses_only_labelled_items():
    task = SyntheticTask(**SMALL)
    data = task.load(0)
    labels = data.source["label"].values.copy()
    masked = fa.mask_labels(data.source, 0.1, seed=0)
    unlabelled = np.flatnonzero(~masked["is_labelled"].values)
    labels[unlabelled] = np.random.default_rng(0).permutation(labels[unlabelled])
    shuffled = masked.assign_coords(label=("presentation", labels))
    assert task.end_to_end(masked, data) == task.end_to_end(shuffled, data)


def test_methods_are_parsed_and_bad_ones_named():
    assert parse_method("ot+prototype") == {"coupling": "ot", "bridge": "prototype"}
    assert parse_method("exemplar") == {"coupling": "exemplar", "bridge": None}
    assert parse_method("ridge") == {"baseline": "ridge"}
    with pytest.raises(ValueError, match=r"unknown method 'ot\+cosine'.*prototype.*end_to_end"):
        parse_method("ot+cosine")
    with pytest.raises(ValueError, match=r"fractions \[0, 1.5\] are not allowed"):
        fa.sweep(SyntheticTask(**SMALL), fractions=[0, 0.1, 1.5], seeds=[0], methods=["ridge"], progress=False)


def test_flow_cell_beats_independent_cell():
    task = SyntheticTask(**SMALL)
    data = task.load(0)
    aligned = run_cell(task, data, "ot+prototype", 0.2, 0, {"steps": 300, "progress": False})
    independent = run_cell(task, data, "independent", 0.2, 0, {"steps": 300, "progress": False})
    assert aligned["accuracy"] > independent["accuracy"] + 0.3


def test_sweep_command_writes_the_table(tmp_path, capsys):
    assert main(["sweep", "synthetic", "--fractions", "0.1", "--seeds", "0", "--methods", "ridge", "ceiling",
                 "--quiet", "--output", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert set(table["method"]) == {"ridge", "ceiling"}
    cube = xr.open_dataset(tmp_path / "sweep.nc")
    assert cube["value"].sel({"metric": "accuracy", "method": "ridge", "fraction": 0.1, "seed": 0}) == pytest.approx(
        table.query("method == 'ridge'")["value"].item())
    cube.close()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "written" in capsys.readouterr().out
