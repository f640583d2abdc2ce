"""Run folders behind reports: a fit's contents, its provenance, and clear errors for old or changed folders."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import flowalign_nb as fa
from flowalign_nb.tasks.cellstore import CellStore
from flowalign_nb.cli import main
from flowalign_nb.tasks.task import masked_pair, run_cell
from flowalign_nb.runs.fit import fit_run
from flowalign_nb.runs.provenance import recording_inputs, representation_digest, sha256_file
from flowalign_nb.runs.results import save_sweep
from flowalign_nb.runs.folder import RunFolderError, load_run
from flowalign_nb.tasks.synthetic import SyntheticTask

SMALL = {"n_train": 300, "n_test": 100}


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    return fit_run("synthetic", "exemplar", 0.2, 1, tmp_path_factory.mktemp("runs") / "fit", task_options=SMALL,
                   flow_options={"steps": 20})


@pytest.fixture
def copy(fit_dir, tmp_path):
    """A copy of the fit folder to damage."""
    return shutil.copytree(fit_dir, tmp_path / "fit")


def test_a_fit_folder_holds_config_results_weights_figures_and_provenance(fit_dir):
    run = load_run(fit_dir)
    names = {p.relative_to(fit_dir).as_posix() for p in fit_dir.rglob("*") if p.is_file()}
    assert names == {"run.json", "scores.csv", "results.nc", "analyses.csv", "aligner/aligner.json",
                     "aligner/weights.safetensors", "figures/training.png", "figures/plan.png",
                     "figures/comparison.png", "provenance.json"}
    assert run.config["command"] == ["flowalign", "fit", "synthetic", "--method", "exemplar", "--fraction", "0.2", "--seed", "1",
                                     "--task-options", '{"n_test": 100, "n_train": 300}', "--flow-options", '{"steps": 20}']
    assert run.config["n_labelled"] == {"source": 60, "target": 60}
    assert run.results["loss"].shape == (20,)
    assert fa.FlowAligner.load(fit_dir / "aligner").history_.tolist() == run.results["loss"].values.tolist()
    plan = run.results["plan"]
    assert plan.values.sum() == pytest.approx(1.0)
    labels = plan["source_label"].values
    assert (labels[:-1] <= labels[1:]).all()  # ordered by class
    assert plan.attrs["same_class_share"] == pytest.approx(1.0)  # exemplar pairs only same-class labelled items
    assert 0.15 < plan.attrs["chance_share"] < 0.25  # 5 balanced classes
    assert plan.attrs["plan_kind"] == "full plan" and "random items" in plan.attrs["plan_source"]
    p = run.provenance
    assert set(p["files"]) == set(names) - {"provenance.json"}
    assert p["files"]["scores.csv"] == sha256_file(fit_dir / "scores.csv")
    data = SyntheticTask(**SMALL).load(1)
    assert p["representations"]["source"]["sha256"] == representation_digest(data.source)
    assert p["seeds"] == {"split": 1, "source_labels": 1, "target_labels": 1001, "flow": 1}
    assert p["device"]["type"] == "cpu" and p["packages"]["torch"].startswith("2.13.0")
    assert p["started"] <= p["ended"]


@pytest.mark.parametrize("flow_options, kind", [({}, "full plan"),
                                                 ({"coupling_options": {"full_plan_max": 100, "batch_size": 64}}, "training minibatch")])
def test_a_fit_stores_the_plan_its_training_sampled_from(tmp_path, flow_options, kind):
    """An ``ot`` fit: results.nc holds the full plan's restriction or the last minibatch's plan, and says which."""
    folder = fit_run("synthetic", "ot+prototype", 0.2, 1, tmp_path / "fit", task_options=SMALL, flow_options={"steps": 5, **flow_options})
    plan = load_run(folder).results["plan"]
    assert plan.attrs["plan_kind"] == kind
    aligner_options = {"steps": 5, "progress": False, **flow_options}
    data = SyntheticTask(**SMALL).load(1)
    src, tgt = masked_pair(data, 0.2, 1)
    coupling = fa.FlowAligner("ot", "prototype", seed=1, **aligner_options).fit(src, tgt).coupling_
    position_src = {s: i for i, s in enumerate(data.source["stimulus_id"].values)}
    position_tgt = {s: i for i, s in enumerate(data.target["stimulus_id"].values)}
    rows, cols = [position_src[s] for s in plan["source_id"].values], [position_tgt[s] for s in plan["target_id"].values]
    if kind == "full plan":
        expected = coupling.full_plan_.numpy()[np.ix_(rows, cols)]
        np.testing.assert_allclose(plan.values, expected / expected.sum(), atol=1e-12)
    else:  # the same seed trains the same way: the last minibatch is the one the fit run showed
        batch_src, batch_tgt, batch_plan = coupling.last_minibatch_
        assert plan.shape == (64, 64) and sorted(rows) == sorted(batch_src.tolist()) and sorted(cols) == sorted(batch_tgt.tolist())
        assert plan.values.sum() == pytest.approx(1.0) and (plan.values > 0).sum() == 64  # a permutation plan
    same = plan["source_label"].values[:, None] == plan["target_label"].values[None, :]
    assert plan.attrs["same_class_share"] == pytest.approx(plan.values[same].sum() / plan.values.sum())


def test_a_fit_scores_what_the_sweep_cell_scores(fit_dir):
    task = SyntheticTask(**SMALL)
    cell = run_cell(task, task.load(1), "exemplar", 0.2, 1, {"steps": 20, "progress": False})
    scores = load_run(fit_dir).scores.set_index("method")["value"]
    assert scores["exemplar"] == cell["accuracy"]
    assert set(scores.index) == {"exemplar", "end_to_end", "ceiling"}


def test_fit_refuses_a_baseline_a_bad_fraction_and_a_fixed_option(tmp_path):
    with pytest.raises(ValueError, match="method 'ridge' is a baseline"):
        fit_run("synthetic", "ridge", 0.1, 0, tmp_path / "x")
    with pytest.raises(ValueError, match=r"fraction=1.5 is not allowed"):
        fit_run("synthetic", "exemplar", 1.5, 0, tmp_path / "x")
    with pytest.raises(ValueError, match=r"flow_options may not set \['seed'\]"):
        fit_run("synthetic", "exemplar", 0.1, 0, tmp_path / "x", flow_options={"seed": 3})
    assert not (tmp_path / "x").exists()


def damage_scores(folder):
    table = pd.read_csv(folder / "scores.csv")
    table.loc[0, "value"] = 1.0
    table.to_csv(folder / "scores.csv", index=False)


def rewrite_config(**changes):
    def change(folder):
        config = json.loads((folder / "run.json").read_text())
        config.update(changes)
        (folder / "run.json").write_text(json.dumps(config))
    return change


DAMAGE = {
    "changed scores": (damage_scores, r"scores.csv: SHA-256 .* does not match the provenance record"),
    "removed figure": (lambda f: (f / "figures" / "plan.png").unlink(), r"plan.png: recorded in provenance.json but missing"),
    "removed weights and record": (
        lambda f: ((f / "aligner" / "weights.safetensors").unlink(), _drop_record(f, "aligner/weights.safetensors")),
        r"provenance.json: does not record 'aligner/weights.safetensors'"),
    "no config": (lambda f: (f / "run.json").unlink(), r"fit: no run.json; not a flowalign_nb run folder"),
    "corrupt config": (lambda f: (f / "run.json").write_text('{"format": "flowalign_nb.run", "vers'), r"run.json: not valid JSON"),
    "older config": (rewrite_config(version=0), r"run.json: flowalign_nb.run format version 0 is not supported"),
    "bad config value": (rewrite_config(fraction="ten"), r"run.json: 'fraction' is 'ten'; a fit run needs a float"),
    "no provenance": (lambda f: (f / "provenance.json").unlink(), r"provenance.json: file not found"),
}


def _drop_record(folder, name):
    record = json.loads((folder / "provenance.json").read_text())
    del record["files"][name]
    (folder / "provenance.json").write_text(json.dumps(record))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_changed_or_incomplete_folder_is_refused_naming_the_file(copy, damage, capsys):
    change, message = DAMAGE[damage]
    change(copy)
    with pytest.raises(RunFolderError, match=message):
        load_run(copy)
    with pytest.raises(RunFolderError, match=message):  # before any notebook runs
        fa.report(copy, copy.parent / "report.html")
    assert main(["report", str(copy)]) == 2
    assert "flowalign report: " in capsys.readouterr().err
    assert not list(copy.parent.glob("*.html"))


def test_a_folder_of_an_older_version_is_named_as_such(tmp_path):
    sweep = tmp_path / "old-sweep"
    CellStore(sweep, {"task": "synthetic", "flow_options": {}})
    save_sweep(pd.DataFrame([dict(task="synthetic", method="ceiling", fraction=0.1, seed=0, metric="accuracy",
                                  value=1.0, seconds=0.0, error="")]), sweep)
    with pytest.raises(RunFolderError, match="a sweep folder from before run records"):
        load_run(sweep)
    aligner = tmp_path / "aligner"
    aligner.mkdir()
    (aligner / "aligner.json").write_text("{}")
    with pytest.raises(RunFolderError, match="a saved FlowAligner"):
        load_run(aligner)
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_run(tmp_path / "nowhere")


def test_inputs_are_the_files_read_while_recording(tmp_path):
    data, code, written = tmp_path / "weights.bin", tmp_path / "module.py", tmp_path / "out.bin"
    data.write_bytes(b"\x00\x01" * 100)
    code.write_text("x = 1\n")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    with recording_inputs() as inputs:
        data.read_bytes()
        code.read_text()
        written.write_bytes(b"y")
    outside.read_bytes()
    assert inputs == [{"path": str(data.resolve()), "sha256": sha256_file(data), "bytes": 200}]


def test_representation_digest_follows_content():
    data = SyntheticTask(**SMALL).load(0)
    copy = data.source.copy(deep=True)
    assert representation_digest(copy) == representation_digest(data.source)
    copy.values[0, 0] += 1e-6
    assert representation_digest(copy) != representation_digest(data.source)
    relabelled = data.source.assign_coords(label=("presentation", np.roll(data.source["label"].values, 1)))
    assert representation_digest(relabelled) != representation_digest(data.source)


def test_paired_rsa_of_a_fit_uses_a_class_stratified_subset_of_many_stimuli():
    """RSA's bootstrap costs O(n^2) per sample: a fit's paired-items level keeps PAIRED_RSA_STIMULI stimuli, 20 per class here."""
    from flowalign_nb.tasks.task import TaskData
    from flowalign_nb.runs.fit import PAIRED_RSA_STIMULI, analyse

    rng = np.random.default_rng(0)
    n, labels = 500, np.arange(500) % 10
    ids = [f"img{i}" for i in range(n)]
    source_test = fa.make_representation(rng.normal(size=(n, 6)) + labels[:, None], ids, labels)
    target_test = fa.make_representation(rng.normal(size=(n, 8)) + labels[:, None], ids, labels)
    target = fa.make_representation(rng.normal(size=(200, 8)), [f"t{i}" for i in range(200)], np.arange(200) % 10)
    moved = target_test.copy(data=target_test.values + 0.1 * rng.normal(size=target_test.shape))
    table = analyse(TaskData(target, target, source_test, extra={"target_test": target_test}), moved)
    paired = table[table["level"] == "paired items"]
    assert PAIRED_RSA_STIMULI == 200 and list(paired["condition"]) == ["before", "after"]
    assert (paired["n_stimuli"] == 200).all()
    assert paired["note"].str.contains("200 of the 500 paired stimuli, 20 per class").all()
    # the value is fa.rsa's over that subset: 20 stimuli of each class, the same for before and after
    from flowalign_nb.runs.fit import paired_subset

    chosen = paired_subset(source_test, target_test)
    assert len(chosen) == 200 and np.bincount(labels[np.isin(ids, chosen)]).tolist() == [20] * 10
    pick = [np.flatnonzero(np.isin(rep["stimulus_id"].values, chosen)) for rep in (source_test, moved, target_test)]
    expected = fa.rsa(moved.isel(presentation=pick[1]), target_test.isel(presentation=pick[2])).table["value"].iloc[0]
    assert paired["value"].iloc[1] == pytest.approx(expected, abs=1e-12)
