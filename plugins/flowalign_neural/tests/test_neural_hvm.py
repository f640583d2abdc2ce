"""The real HvM IT subset: where it is looked for, what is loaded (checked against the file's documented
decoding figure), and the across-sites task's disjoint split."""

import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

import flowalign_nb as fa
from flowalign_neural import hvm
from flowalign_neural.hvm import HvMSubsetError, hvm_it_folder, load_hvm_it


@pytest.fixture(scope="module")
def hvm_folder():
    try:
        return hvm_it_folder()
    except HvMSubsetError as exc:
        pytest.skip(f"the HvM IT subset is absent (it stays out of the repository): {exc}")


def test_path_order_folder_then_env_var_and_nothing_else(hvm_folder, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FLOWALIGN_HVM_IT", str(empty))
    assert hvm_it_folder(hvm_folder) == hvm_folder  # folder= wins over the env var
    with pytest.raises(HvMSubsetError, match=r"looked in .*empty \(\$FLOWALIGN_HVM_IT\)"):
        hvm_it_folder()
    monkeypatch.delenv("FLOWALIGN_HVM_IT")  # the library has no default folder: the data never ships
    with pytest.raises(HvMSubsetError, match=r"looked in nowhere \(no folder= and no \$FLOWALIGN_HVM_IT\).*set FLOWALIGN_HVM_IT"):
        hvm_it_folder()
    monkeypatch.setenv("FLOWALIGN_HVM_IT", str(hvm_folder))
    assert hvm_it_folder() == hvm_folder


def test_a_different_file_is_refused(hvm_folder, tmp_path):
    values = np.load(hvm_folder / hvm.FILE)
    values[0, 0] += 1
    np.save(tmp_path / hvm.FILE, values)
    with pytest.raises(HvMSubsetError, match="has SHA-256 .* not the HvM subset's ae08ace1"):
        load_hvm_it(tmp_path)
    shutil.copy(hvm_folder / hvm.FILE, tmp_path / hvm.FILE)
    assert load_hvm_it(tmp_path).shape == (640, 168)


def test_assembly_layout_and_the_documented_16_way_decoding(hvm_folder):
    rep = load_hvm_it(hvm_folder)
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (640, 168)
    assert (rep["object_name"].values == np.repeat([f"object{k:02d}" for k in range(16)], 40)).all()
    assert (rep["region"].values == "IT").all() and rep.attrs["sha256"] == hvm.SHA256
    assert fa.make("modality", "hvm_it", folder=str(hvm_folder)).represent().equals(rep)
    # the data README's check: logistic regression (C 0.1), stratified 5-fold, 0.41 (chance 0.0625); a
    # label misaligned with the rows would decode at chance
    scores = cross_val_score(LogisticRegression(C=0.1, max_iter=2000), rep.values, rep["label"].values,
                             cv=StratifiedKFold(5, shuffle=True, random_state=0))
    assert scores.mean() == pytest.approx(0.41, abs=0.03)


def test_across_sites_task_has_disjoint_sites_and_images(hvm_folder):
    task = fa.make("task", "hvm_it_across_sites", folder=str(hvm_folder))
    data = task.load(0)
    ids = lambda r: set(r["stimulus_id"].values.tolist())
    sites = lambda r: set(r["neuroid_id"].values.tolist())
    assert sites(data.source) == sites(data.source_test) and sites(data.target) == sites(data.extra["target_test"])
    assert not sites(data.source) & sites(data.target) and len(sites(data.source)) == len(sites(data.target)) == 84
    halves = [ids(data.source) | ids(data.source_test), ids(data.target) | ids(data.extra["target_test"])]
    assert not halves[0] & halves[1] and len(halves[0]) == len(halves[1]) == 320
    assert not ids(data.source) & ids(data.source_test) and len(data.source_test) == 80 and len(data.source) == 240
    assert task.ceiling(data)["accuracy"] > 3 / 16  # B's decoder reads B's held-out images well above chance
    assert sites(task.load(1).source) != sites(data.source)
    with pytest.raises(fa.plugins.PluginError, match=r"n_train=20 is not allowed; use an integer in \[2, 19\]"):
        fa.make("task", "hvm_it_across_sites", n_train=20)
