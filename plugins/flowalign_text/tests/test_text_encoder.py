"""The text modality: real all-MiniLM-L6-v2 weights, offline, batching, input checks."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

import flowalign_nb as fa
from flowalign_text import TextEncoder, caption_stimuli


@pytest.fixture(scope="module")
def minilm():
    encoder = TextEncoder(batch_size=16, progress=False)
    encoder.encoder  # load once for the module
    return encoder


def test_weights_are_the_real_minilm_and_load_offline(minilm):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    a, b = minilm.encode(["A man is eating food.", "A man is eating a piece of bread."])
    assert a.shape == (384,)
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    # the value in the sentence-transformers documentation for this pair
    assert float(a @ b) == pytest.approx(0.755, abs=0.01)


def test_represent_batches_and_keeps_stimulus_order(minilm):
    stimuli = pd.DataFrame({"stimulus_id": [f"t{i}" for i in range(40)], "label": np.arange(40) % 4,
                            "text": [f"sentence number {i} about topic {i % 4}" for i in range(40)]})
    rep = minilm.represent(stimuli)
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (40, 384)
    assert rep["stimulus_id"].values.tolist() == stimuli["stimulus_id"].tolist()
    assert rep.attrs["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    one_batch = TextEncoder(batch_size=64, progress=False)
    one_batch.encoder = minilm.encoder  # same model, other batching
    np.testing.assert_allclose(one_batch.represent(stimuli).values, rep.values, atol=1e-5)


def test_captions_cluster_by_class_through_fa_represent(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWALIGN_CACHE_DIR", str(tmp_path))
    labels = pd.DataFrame({"stimulus_id": [f"img{i}" for i in range(200)], "label": np.arange(200) % 10})
    captions = caption_stimuli(labels, seed=0)
    rep = fa.represent("text", captions, model="minilm", progress=False)
    assert "torchvision" not in sys.modules
    y = rep["label"].values
    train, test = np.arange(200) < 100, np.arange(200) >= 100
    means = np.stack([rep.values[train & (y == c)].mean(0) for c in range(10)])
    predicted = (rep.values[test] @ means.T).argmax(1)
    assert np.mean(predicted == y[test]) >= 0.9


def test_bad_options_and_texts_are_named(minilm):
    with pytest.raises((ValueError, RuntimeError), match=r"model='clip' is not allowed; choose one of \['minilm'\]"):
        fa.make("modality", "text", model="clip")
    with pytest.raises(ValueError, match="batch_size=0 is not allowed"):
        TextEncoder(batch_size=0)
    with pytest.raises(ValueError, match=r"no 'text' column; columns present: \['stimulus_id'\]"):
        minilm.represent(pd.DataFrame({"stimulus_id": ["a"]}))
    with pytest.raises(ValueError, match="text in row 1 is 3; every text must be a non-empty str"):
        minilm.represent(pd.DataFrame({"stimulus_id": ["a", "b"], "text": ["fine", 3]}))
