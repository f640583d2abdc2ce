"""Both MNIST tasks end to end on small settings, through fa.sweep; the generation task's details."""

import numpy as np
import pytest
from PIL import Image

import flowalign_nb as fa
from flowalign_vision import MnistEffnetToCnn, MnistTextToImage, frechet_distance

SMALL = dict(n_source=30, n_target=30, n_test=20, progress=False)
COLUMNS = ["task", "method", "fraction", "seed", "metric", "value", "seconds", "error"]


@pytest.fixture(scope="module")
def recognition():
    task = MnistEffnetToCnn(**SMALL)
    return task, task.load(0)


@pytest.fixture(scope="module")
def generation():
    task = MnistTextToImage(**SMALL, latent_dim=16, ae_epochs=80, e2e_steps=60, e2e_pairs=300)
    return task, task.load(0)


def test_recognition_split_is_disjoint_and_unpaired(recognition):
    _, data = recognition
    ids = [set(data.source["stimulus_id"].values), set(data.target["stimulus_id"].values), set(data.source_test["stimulus_id"].values)]
    assert [len(s) for s in ids] == [300, 300, 200]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert data.source.shape == (300, 112) and data.target.shape == (300, 256)
    assert set(data.extra["target_test"]["stimulus_id"].values) == ids[2]


def test_recognition_sweep_table(recognition):
    task, _ = recognition
    table = fa.sweep(task, fractions=[0.1, 1.0], seeds=[0], methods=["exemplar", "independent", "end_to_end", "ceiling"],
                     flow_options={"steps": 150}, progress=False)
    assert list(table.columns) == COLUMNS and len(table) == 8 and (table["error"] == "").all()
    assert set(table["metric"]) == {"accuracy"} and table["value"].between(0, 1).all()
    score = table.set_index(["method", "fraction"])["value"]
    assert score[("ceiling", 1.0)] >= 0.97  # the CNN head on the held-out images' own features
    assert score[("end_to_end", 1.0)] >= 0.8
    assert score[("exemplar", 1.0)] > score[("independent", 1.0)] + 0.3  # class-matched pairs carry the digits over


def test_generation_split_and_spaces(generation):
    _, data = generation
    assert data.source.shape == (300, 384) and data.target.shape == (300, 16) and data.source_test.shape == (200, 384)
    assert all(s.startswith("caption:") for s in data.source["stimulus_id"].values)
    captioned = {s.removeprefix("caption:") for s in data.source["stimulus_id"].values}
    assert not captioned & set(data.target["stimulus_id"].values)  # captions stand for other images than the targets


def test_generation_sweep_table_has_both_metrics(generation):
    task, _ = generation
    table = fa.sweep(task, fractions=[0.2], seeds=[0], methods=["exemplar", "end_to_end", "ceiling"],
                     flow_options={"steps": 150}, progress=False)
    assert list(table.columns) == COLUMNS and (table["error"] == "").all()
    assert sorted(table["metric"].unique()) == ["accuracy", "frechet"] and len(table) == 6
    value = table.set_index(["method", "metric"])["value"]
    assert value[("ceiling", "accuracy")] >= 0.5  # reconstructions of a briefly trained autoencoder are legible
    assert (table.query("metric == 'frechet'")["value"] > 0).all()


def test_generation_end_to_end_sees_the_sweeps_labelled_target_items(generation):
    task, data = generation
    for fraction in (0.01, 0.1, 0.5, 1.0):
        src = fa.mask_labels(data.source, fraction, seed=0)
        tgt = fa.mask_labels(data.target, fraction, seed=1000)  # what run_cell gives the aligners
        np.testing.assert_array_equal(task.labelled_target(src, data), np.flatnonzero(tgt["is_labelled"].values))


def test_generation_end_to_end_uses_only_labelled_items(generation):
    task, data = generation
    masked = fa.mask_labels(data.source, 0.1, seed=0)
    labels = masked["label"].values.copy()
    unlabelled = np.flatnonzero(~masked["is_labelled"].values)
    labels[unlabelled] = np.random.default_rng(0).permutation(labels[unlabelled])
    shuffled = masked.assign_coords(label=("presentation", labels))
    assert task.end_to_end(masked, data) == task.end_to_end(shuffled, data)


def test_digit_grid_is_written(generation, tmp_path):
    task, data = generation
    moved = data.extra["target_test"]  # latents of real held-out digits
    path = task.save_grid(moved, data, tmp_path / "grid.png", per_class=5)
    with Image.open(path) as im:
        assert im.size == (5 * 30 * 2, 10 * 30 * 2)
        grid = np.asarray(im, dtype=np.float64)[::2, ::2] / 255  # scale 2, nearest: every other pixel
    # row r, column j: the j-th held-out digit of the r-th class, redrawn by the autoencoder from its latents
    labels = moved["label"].values
    shown = np.concatenate([np.flatnonzero(labels == c)[:5] for c in np.unique(labels)])
    cells = np.stack([grid[r * 30 + 1 : r * 30 + 29, j * 30 + 1 : j * 30 + 29] for r in range(10) for j in range(5)])
    real = data.extra["test_images"][shown]
    assert grid[0::30].max() == 0 and grid[:, 0::30].max() == 0  # 1-pixel black borders around every cell
    errors = ((cells[:, None] - real[None]) ** 2).mean((2, 3))  # (cell, real digit)
    assert np.diag(errors).mean() < 0.5 * np.mean((real - real.mean(0)) ** 2)  # each cell resembles its digit
    assert (errors.argmin(1) == np.arange(50)).mean() > 0.8  # ... more than any other digit in the grid


def test_report_images_show_drawn_and_real_digits_by_class(generation):
    task, data = generation
    images = task.report_images(data.extra["target_test"], data, per_class=3)
    drawn, real = images.values()
    assert drawn.shape == real.shape == (30, 28, 28)
    # the autoencoder redraws the real held-out digits it is given: its images resemble them
    assert np.mean((drawn - real) ** 2) < 0.5 * np.mean((real - real.mean(0)) ** 2)


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 3))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + [2.0, 0, 0]) == pytest.approx(4.0, rel=1e-3)
    assert frechet_distance(a, 2 * a) == pytest.approx(3.0, rel=0.05)  # trace term: 3 * (1 + 4 - 2*2)
    with pytest.raises(ValueError, match=r"shapes \(2000, 3\) and \(5, 2\)"):
        frechet_distance(a, a[:5, :2])


def test_registered_tasks_build_by_name():
    tasks = fa.list_plugins().query("kind == 'task'")["name"].tolist()
    assert {"mnist_effnet_to_cnn", "mnist_text_to_image", "synthetic"} <= set(tasks)
    with pytest.raises((ValueError, RuntimeError), match="n_test=0 is not allowed"):
        fa.make("task", "mnist_text_to_image", n_test=0)
