"""Tasks and sweeps: the evaluation protocol on the built-in synthetic task."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import flowalign_nb as fa
from flowalign_nb.cli import main
from flowalign_nb.tasks.sweep import summarise
from flowalign_nb.tasks.task import parse_method, run_cell
from flowalign_nb.safeio import SavedFileError
from flowalign_nb.tasks.synthetic import SyntheticTask

SMALL = dict(n_train=300, n_test=100)


def test_sweep_table_is_tidy_and_complete():
    table = fa.sweep(SyntheticTask(**SMALL), fractions=[0.05, 0.5], seeds=[0, 1],
                     methods=["exemplar", "ot+prototype", "ridge", "end_to_end", "ceiling"],
                     flow_options={"steps": 40}, progress=False)
    assert list(table.columns) == ["task", "method", "fraction", "seed", "metric", "value", "seconds", "error"]
    assert (table["error"] == "").all()
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


def test_sweep_on_a_two_worker_local_cluster_gives_the_same_table():
    from distributed import Client, LocalCluster

    options = dict(fractions=[0.05, 0.5], seeds=[0], methods=["exemplar", "ridge", "end_to_end"],
                   flow_options={"steps": 30}, progress=False)
    local = fa.sweep(SyntheticTask(**SMALL), **options)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        distributed = fa.sweep(SyntheticTask(**SMALL), client=client, **options)
    columns = ["task", "method", "fraction", "seed", "metric", "value", "error"]
    pd.testing.assert_frame_equal(local[columns], distributed[columns])


class FailingTask(SyntheticTask):
    def score(self, moved, data):
        if moved.attrs["aligner"] == "RidgeAligner":
            raise RuntimeError("frozen head exploded")
        return super().score(moved, data)


def test_a_failing_cell_is_recorded_and_the_others_finish():
    table = fa.sweep(FailingTask(**SMALL), fractions=[0.1], seeds=[0], methods=["ridge", "procrustes", "ceiling"], progress=False)
    assert list(table["method"]) == ["ridge", "procrustes", "ceiling"]
    failed = table.set_index("method").loc["ridge"]
    assert failed["error"] == "RuntimeError: frozen head exploded" and np.isnan(failed["value"])
    assert (table.set_index("method").loc[["procrustes", "ceiling"], "error"] == "").all()


def test_an_interrupted_sweep_resumes_with_only_the_missing_cells(tmp_path, monkeypatch):
    import flowalign_nb.tasks.sweep as experiments

    options = dict(fractions=[0.1, 0.5], seeds=[0, 1], methods=["ridge", "procrustes"], progress=False, run_dir=tmp_path)
    real, calls = experiments.run_cell, []

    def killed_after_three(*args, **kwargs):
        calls.append(args[2:5])
        if len(calls) == 4:
            raise KeyboardInterrupt  # the kernel's stop button, mid-sweep
        return real(*args, **kwargs)

    monkeypatch.setattr(experiments, "run_cell", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        fa.sweep(SyntheticTask(**SMALL), **options)
    assert len(list((tmp_path / "cells").glob("*.json"))) == 3
    calls.clear()
    monkeypatch.setattr(experiments, "run_cell", lambda *a, **k: (calls.append(a[2:5]), real(*a, **k))[1])
    resumed = fa.sweep(SyntheticTask(**SMALL), **options)
    assert len(calls) == 8 - 3
    fresh = fa.sweep(SyntheticTask(**SMALL), **{**options, "run_dir": None})
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"), fresh.drop(columns="seconds"))
    with pytest.raises(SavedFileError, match="holds another sweep"):
        fa.sweep(SyntheticTask(**SMALL), **{**options, "flow_options": {"steps": 5}})


class ImageTask(SyntheticTask):
    """The synthetic task with 2x2 "images": the first four features of each transported item."""

    def report_images(self, moved, data):
        return {"transported items": moved.values[:12, :4].reshape(12, 2, 2)}


def test_sweep_saves_the_images_of_each_transported_cell(tmp_path):
    from PIL import Image

    fa.sweep(ImageTask(**SMALL), fractions=[0.5], seeds=[0], methods=["exemplar", "ridge", "end_to_end", "ceiling"],
             flow_options={"steps": 5}, progress=False, run_dir=tmp_path)
    saved = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert saved == ["seed0_fraction0.5_exemplar.png", "seed0_fraction0.5_ridge.png"]  # nothing was transported for the others
    with Image.open(tmp_path / "images" / saved[0]) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1]  # 10 images per line, 2 lines
    fa.sweep(SyntheticTask(**SMALL), fractions=[0.5], seeds=[0], methods=["ridge"], progress=False, run_dir=tmp_path / "plain")
    assert not (tmp_path / "plain" / "images").exists()  # a task without images writes none
