"""Several EfficientNet-Lite0 layers from one forward pass: equal to the network's own forward, layer by
layer, to single-layer extraction, and cached per layer."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import flowalign_nb as fa
from flowalign_vision import EfficientNetLite

LAYERS = ["stem", *(f"block{i}" for i in range(16)), "head", "logits"]
OPTIONS = dict(image_size=96, batch_size=16, progress=False)


@pytest.fixture(scope="module")
def stimuli():
    """8 of foolbox's ImageNet sample photos (located, never imported)."""
    from PIL import Image

    spec = importlib.util.find_spec("foolbox")
    files = sorted(Path(next(iter(spec.submodule_search_locations)), "data").glob("imagenet_*.jpg"))[:8]
    return pd.DataFrame({"stimulus_id": [f.stem for f in files], "image": [np.asarray(Image.open(f).convert("RGB")) for f in files]})


class StemCounter:
    """Counts forward calls of the stem convolution of every EfficientNet in the process (one per batch pass)."""

    def __enter__(self):
        self.calls = 0
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)
        return self

    def _hook(self, module, args, output):
        if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3:
            self.calls += 1

    def __exit__(self, *exc):
        self.handle.remove()


def library_layers(stimuli) -> dict:
    """Every layer's pooled output from efficientnet_lite_pytorch's own ``forward``, read by hooks."""
    model = EfficientNetLite(**OPTIONS)
    net, seen = model.net, {}
    hooks = [net._blocks[0].register_forward_pre_hook(lambda m, args: seen.__setitem__("stem", args[0]))]
    for i, block in enumerate(net._blocks):
        hooks.append(block.register_forward_hook(lambda m, args, out, i=i: seen.__setitem__(f"block{i}", out)))
    x = torch.stack([model.prepare(im) for im in stimuli["image"]])
    with torch.inference_mode():
        logits = net(x)
        head = net.extract_features(x)
    for h in hooks:
        h.remove()
    out = {name: t.mean((2, 3)).numpy() for name, t in seen.items()}
    return {**out, "head": head.mean((2, 3)).numpy(), "logits": logits.numpy()}


def test_all_layers_come_from_one_pass_and_equal_the_network_forward_and_single_layer_calls(stimuli):
    with StemCounter() as multi_pass:
        reps = fa.represent("efficientnet_lite", stimuli, layer=LAYERS, **OPTIONS)
    assert multi_pass.calls == 1  # 8 images in one batch: the model ran once for all 19 layers
    assert list(reps) == LAYERS
    reference = library_layers(stimuli)
    for layer in LAYERS:
        np.testing.assert_allclose(reps[layer].values, reference[layer], rtol=1e-5, atol=1e-5, err_msg=layer)
        single = fa.represent("efficientnet_lite", stimuli, layer=layer, cache=False, **OPTIONS)
        np.testing.assert_array_equal(reps[layer].values, single.values, err_msg=layer)
        assert reps[layer].attrs == single.attrs and (reps[layer]["neuroid_id"].values == single["neuroid_id"].values).all()
    with StemCounter() as cached:  # cached per layer: single-layer calls and a repeated scan run nothing
        fa.represent("efficientnet_lite", stimuli, layer="block7", **OPTIONS)
        again = fa.represent("efficientnet_lite", stimuli, layer=["logits", "stem"], **OPTIONS)
    assert cached.calls == 0 and list(again) == ["logits", "stem"]
    np.testing.assert_array_equal(again["stem"].values, reps["stem"].values)


def test_bad_layer_lists_are_refused(stimuli):
    with pytest.raises(ValueError, match=r"layer='block99' is not a layer of modality 'efficientnet_lite'; its layers: \['stem'"):
        fa.represent("efficientnet_lite", stimuli, layer=["stem", "block99"], **OPTIONS)
    with pytest.raises(ValueError, match=r"layer 'stem' is asked for more than once"):
        fa.represent("efficientnet_lite", stimuli, layer=["stem", "head", "stem"], **OPTIONS)
    with pytest.raises(ValueError, match=r"non-empty list"):
        fa.represent("efficientnet_lite", stimuli, layer=[], **OPTIONS)
