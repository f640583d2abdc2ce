"""The simulated V4/IT population: Brain-Score layout, Poisson noise, category information, cache."""

import numpy as np
import pytest
from flowalign_neural import mnist_stimuli, simulate_population, split_half_reliability, to_representation
from flowalign_neural import simulated as simulated_module
from flowalign_neural.simulated import SimulatedIT, ln_poisson
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

import flowalign_nb as fa

OPTIONS = dict(n_images=120, n_it=24, n_v4=12, n_repetitions=6, image_size=64, progress=False)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("simulated-cache")


@pytest.fixture(scope="module")
def modality(cache_dir):
    return fa.make("modality", "simulated_it", cache_dir=cache_dir, **OPTIONS)


@pytest.fixture(scope="module")
def assembly(modality):
    return modality.assembly  # simulated once (EfficientNet-Lite2 runs here) and cached


def test_mnist_stimuli_table(modality):
    stimuli = modality.stimuli()
    assert len(stimuli) == 120 and np.bincount(stimuli["label"]).tolist() == [12] * 10
    assert stimuli["image"][0].shape == (28, 28) and stimuli["image"][0].max() == 255
    with pytest.raises(ValueError, match="n_images=3 is not allowed; use None or an integer in \\[10, 5000\\]"):
        mnist_stimuli(3)


def test_brainscore_layout_and_simulated_attrs(assembly):
    assert assembly.dims == ("presentation", "neuroid", "time_bin")
    assert assembly.shape == (120 * 6, 36, 1)
    assert (assembly["region"].values == "V4").sum() == 12 and (assembly["region"].values == "IT").sum() == 24
    assert set(assembly["animal"].values) == {"simulated"}
    assert assembly["time_bin_start"].values.tolist() == [70] and assembly["time_bin_end"].values.tolist() == [170]
    assert assembly.attrs["simulated"] == 1 and "SIMULATED" in assembly.attrs["note"]
    assert "efficientnet-lite2" in assembly.attrs["generator"]
    assert assembly["generator_block"].values[assembly["region"].values == "IT"][0] == 20


def test_responses_are_poisson_counts_with_category_signal(assembly):
    counts = assembly.values[:, :, 0] * 0.1  # rates (Hz) in a 100 ms window
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)
    reps = counts.reshape(6, 120, 36)
    fano = reps.var(0, ddof=1).sum() / reps.mean(0).sum()  # Poisson: variance = mean
    assert 0.85 < fano < 1.15
    it = to_representation(assembly, region="IT", label_coord="category_name")
    accuracy = cross_val_score(LogisticRegression(C=0.1, max_iter=3000), it.values, it["label"].values, cv=4).mean()
    assert accuracy > 0.4  # chance 0.1


def test_reliability_from_repetitions(modality):
    reliability = split_half_reliability(modality.repetitions())
    assert reliability.sizes["neuroid"] == 24 and float(reliability.median()) > 0.3


def test_seed_fixes_the_neurons_and_the_noise():
    features = np.random.default_rng(5).normal(size=(50, 16))
    same = [ln_poisson(features, 8, 3, np.random.default_rng(0)) for _ in range(2)]
    other = ln_poisson(features, 8, 3, np.random.default_rng(1))
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(same[0], other)


def test_cache_is_read_without_running_the_network(modality, assembly, cache_dir, monkeypatch):
    assert len(list(cache_dir.glob("simulated_it-*.nc"))) == 1

    def forbidden(*args, **kwargs):
        raise AssertionError("the network ran although the simulation was cached")

    monkeypatch.setattr(simulated_module, "block_features", forbidden)
    again = SimulatedIT(cache_dir=cache_dir, **OPTIONS)
    np.testing.assert_array_equal(again.assembly.values, assembly.values)
    rep = again.represent()
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (120, 24)
    np.testing.assert_array_equal(again.represent(modality.stimuli().iloc[:5][["stimulus_id"]]).values, rep.values[:5])
    with pytest.raises(AssertionError, match="the network ran"):  # other options are another simulation
        SimulatedIT(cache_dir=cache_dir, **{**OPTIONS, "seed": 1}).represent()


def test_bad_options_are_named(modality):
    stimuli = modality.stimuli()
    with pytest.raises(ValueError, match="it_block=30 is not allowed; use a block index in \\[0, 21\\)"):
        simulate_population(stimuli, it_block=30, progress=False)
    with pytest.raises(ValueError, match="n_repetitions=0 is not allowed"):
        simulate_population(stimuli, n_repetitions=0, progress=False)
    with pytest.raises(ValueError, match="'stimulus_id' and 'image' columns"):
        simulate_population(stimuli[["stimulus_id"]], progress=False)
