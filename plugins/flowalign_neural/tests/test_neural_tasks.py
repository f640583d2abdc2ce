"""The neural tasks end to end on small settings: it_to_cnn (simulated IT) and kriegeskorte92_it_to_effnet (real IT)."""

import numpy as np
import pytest
import rsatoolbox
from flowalign_neural.it_to_cnn import ITToCNNTask, split_per_class
from flowalign_neural.kriegeskorte_task import Kriegeskorte92ITToEffNetTask
from scipy.io import loadmat
from scipy.spatial.distance import squareform

import flowalign_nb as fa

FLOW = {"steps": 100, "batch_size": 64}


def test_split_per_class_is_disjoint_and_balanced():
    labels = np.repeat(np.arange(3), 10)
    parts = split_per_class(labels, {"source": 4, "target": 3, "test": 2}, seed=0)
    assert [len(parts[p]) for p in ("source", "target", "test")] == [12, 9, 6]
    assert not set(parts["source"]) & set(parts["target"]) and not set(parts["test"]) & set(parts["source"])
    assert np.bincount(labels[parts["test"]]).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="class 0 has 10 items; the split asks for 11"):
        split_per_class(labels, {"source": 6, "target": 3, "test": 2}, seed=0)


def test_it_to_cnn_sweep(tmp_path):
    task = ITToCNNTask(n_source=8, n_target=8, n_test=4, n_images=200, image_size=64, n_repetitions=4, cache_dir=tmp_path)
    data = task.load(0)
    assert data.source.shape == (80, 168) and data.target.shape == (80, 256) and data.source_test.shape == (40, 168)
    assert not set(data.source["stimulus_id"].values) & set(data.target["stimulus_id"].values)
    assert data.source.attrs["modality"] == "simulated_it" and set(data.source["region"].values) == {"IT"}
    table = fa.sweep(task, fractions=[1.0], seeds=[0], methods=["exemplar", "independent", "end_to_end", "ceiling"], flow_options=FLOW,
                     progress=False)
    assert (table["error"] == "").all(), table["error"].tolist()
    score = table.set_index("method")["value"]
    assert score["ceiling"] > 0.9  # the trained CNN on its own features of held-out digits
    # 40 held-out items, chance 0.1: more than 17 right has binomial p = 1.3e-8. Measured (seeds 0, 1, 2): exemplar 0.600, 0.575,
    # 0.625; independent pairs 0.175, 0.050, 0.100; end_to_end 0.675, 0.675, 0.725
    assert score["end_to_end"] > 0.45 and score["exemplar"] > 0.45
    assert score["exemplar"] > score["independent"] + 0.25  # the class-matched pairs, not the flow alone, carry the class


def test_kriegeskorte92_task_folds_rsa_and_sweep(kriegeskorte_folder):
    task = Kriegeskorte92ITToEffNetTask(folder=kriegeskorte_folder, n_folds=4)
    tested = np.concatenate([task.split(s)[1] for s in range(4)])
    assert sorted(tested) == list(range(92))  # seeds 0-3 hold every image out once
    data = task.load(0)
    assert data.source_test["stimulus_id"].values.tolist() == [f"k92_{i:02d}" for i in task.split(0)[1]]
    assert data.target.sizes["neuroid"] == 192 and data.source.sizes["neuroid"] == 10
    table = fa.sweep(task, fractions=[1.0], seeds=[0], methods=["exemplar", "gw", "end_to_end", "ceiling"], flow_options=FLOW, progress=False)
    assert (table["error"] == "").all(), table["error"].tolist()
    assert set(table["metric"]) == {"accuracy", "rsa_before", "rsa_after"}
    # before alignment: the real monkey IT RDM of the held-out images against the block's RDM, computed here
    # from the published file and by rsatoolbox (correlation-distance RDM, Spearman comparison)
    index = [int(s[4:]) for s in data.source_test["stimulus_id"].values]
    published = loadmat(kriegeskorte_folder / "Kriegeskorte_Neuron2008_supplementalData.mat", squeeze_me=True, struct_as_record=False)
    monkey = np.asarray(published["RDMs_mIT_hIT_fig1"][0].RDM, np.float64)
    monkey = (squareform(monkey) if monkey.ndim == 1 else monkey)[np.ix_(index, index)]
    block = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(data.extra["target_test"].values), method="correlation")
    expected = float(rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(monkey[None]), block, method="spearman")[0, 0])
    assert table[table["metric"] == "rsa_before"]["value"].to_numpy() == pytest.approx([expected] * 2, abs=1e-9)
    accuracy = table[table["metric"] == "accuracy"].set_index("method")["value"]
    assert accuracy["ceiling"] > 0.5  # 6 categories; the largest holds 25 % of the images
    assert accuracy["end_to_end"] > 0.3
    with pytest.raises(ValueError, match="n_folds=1 is not allowed"):
        Kriegeskorte92ITToEffNetTask(folder=kriegeskorte_folder, n_folds=1)
