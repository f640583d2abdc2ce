"""fa.represent with the feature cache: a second call on the same input runs no forward pass."""

import numpy as np
import pytest
import torch

import flowalign_nb as fa
from flowalign_nb.data import cache


class ForwardCounter:
    """Counts every torch module forward call in the process."""

    def __enter__(self):
        self.calls = 0
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)
        return self

    def _hook(self, module, args, output):
        self.calls += 1

    def __exit__(self, *exc):
        self.handle.remove()


def test_second_call_reads_the_cache_without_a_forward_pass(digits):
    stimuli = digits.iloc[:64]
    with ForwardCounter() as first:
        a = fa.represent("mnist_cnn", stimuli, progress=False)
    with ForwardCounter() as second:
        b = fa.represent("mnist_cnn", stimuli, progress=False)
    assert first.calls > 0 and second.calls == 0
    np.testing.assert_array_equal(a.values, b.values)
    assert (a["stimulus_id"].values == b["stimulus_id"].values).all() and (a["label"].values == b["label"].values).all()
    assert b["label"].dtype == a["label"].dtype and b.attrs == a.attrs
    assert list(cache.cache_dir().joinpath("features").rglob("*.safetensors"))


def test_changed_content_or_options_run_the_model_again(digits):
    stimuli = digits.iloc[:16]
    fa.represent("mnist_cnn", stimuli, progress=False)
    edited = stimuli.copy()
    image = edited["image"].iloc[0].copy()
    image[0, 0] = 255 - image[0, 0]
    edited["image"] = [image, *edited["image"].iloc[1:]]
    for other, options in ((edited, {}), (stimuli, {"layer": "logits"}), (stimuli, {"invert": True})):
        with ForwardCounter() as counter:
            fa.represent("mnist_cnn", other, progress=False, **options)
        assert counter.calls > 0, options
    with ForwardCounter() as counter:  # default options spelled out: same key
        fa.represent("mnist_cnn", stimuli, progress=False, layer="penultimate")
    assert counter.calls == 0


def test_cache_can_be_bypassed(digits):
    stimuli = digits.iloc[:8]
    fa.represent("mnist_cnn", stimuli, progress=False)
    with ForwardCounter() as counter:
        fa.represent("mnist_cnn", stimuli, cache=False, progress=False)
    assert counter.calls > 0


def test_long_extraction_shows_progress(digits, capsys):
    fa.represent("mnist_cnn", digits.iloc[:40], batch_size=8, cache=False)
    assert "mnist_cnn penultimate" in capsys.readouterr().err


def test_unknown_modality_lists_the_known_ones(digits):
    with pytest.raises(KeyError, match=r"unknown modality 'resnet'.*efficientnet_lite.*mnist_cnn"):
        fa.represent("resnet", digits.iloc[:2])
