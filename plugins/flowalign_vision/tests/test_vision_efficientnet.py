"""EfficientNet-Lite: real ImageNet weights through the imagefolder loader, layers, digit preprocessing."""

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import flowalign_nb as fa
from flowalign_vision import EfficientNetLite, load_imagefolder


@pytest.fixture(scope="module")
def imagenet_folder(tmp_path_factory):
    """The 20 labelled ImageNet samples of foolbox's data folder as root/<class index>/<file>."""
    spec = importlib.util.find_spec("foolbox")  # locate only; foolbox is never imported
    files = sorted(Path(next(iter(spec.submodule_search_locations)), "data").glob("imagenet_*.jpg"))
    assert len(files) == 20
    root = tmp_path_factory.mktemp("imagenet20")
    for f in files:
        label = re.fullmatch(r"imagenet_\d+_(\d+)\.jpg", f.name).group(1)
        (root / label).mkdir(exist_ok=True)
        shutil.copy(f, root / label / f.name)
    return root


@pytest.fixture(scope="module")
def lite0():
    return EfficientNetLite(progress=False)


def test_lite0_top1_on_imagenet_samples(imagenet_folder, lite0):
    stimuli = load_imagefolder(imagenet_folder)
    assert len(stimuli) == 20 and "foolbox" not in sys.modules
    rep = fa.represent("efficientnet_lite", stimuli, progress=False)
    assert rep.shape == (20, 1280) and rep.attrs["model"] == "efficientnet-lite0"
    predicted = lite0.head(rep).argmax(1)
    top1 = np.mean(predicted == stimuli["label"].astype(int).to_numpy())
    assert top1 >= 0.80, f"EfficientNet-Lite0 top-1 {top1:.2f} on the 20 foolbox ImageNet samples"


def test_logits_layer_equals_head_of_head_features(imagenet_folder, lite0):
    stimuli = load_imagefolder(imagenet_folder).iloc[:4]
    logits = EfficientNetLite(layer="logits", progress=False).represent(stimuli)
    np.testing.assert_allclose(lite0.head(lite0.represent(stimuli)), logits.values, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="the ImageNet head reads layer='head'"):
        EfficientNetLite(layer="block3").head(np.zeros((1, 40)))


def test_photo_and_digit_geometry(lite0):
    photo = np.zeros((300, 400, 3), np.uint8)
    assert tuple(lite0.prepare(photo).shape) == (3, 224, 224)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 13:15] = 255  # a vertical stroke, which a centre crop would keep but a shrink would not
    small = EfficientNetLite(image_size=64).prepare(digit)
    assert tuple(small.shape) == (3, 64, 64)
    assert small.min() == pytest.approx(-127 / 128) and small.max() == pytest.approx(128 / 128)
    # the whole digit is kept (no crop): the stroke reaches the top and bottom fifth of the image
    rows = np.flatnonzero(small[0].amax(1).numpy() > 0)
    assert rows.min() < 64 * 0.2 and rows.max() > 64 * 0.8
    forced = EfficientNetLite(image_size=64, preprocess="photo").prepare(digit)
    assert not np.allclose(forced.numpy(), small.numpy())


def test_block_features_on_digits(digits):
    rep = fa.represent("efficientnet_lite", digits.iloc[:50], layer="block10", image_size=64, progress=False)
    assert rep.shape == (50, 112) and set(rep["layer"].values) == {"block10"}
    assert np.isfinite(rep.values).all() and rep.values.std() > 0


def test_lite2_builds_its_own_layers():
    lite2 = EfficientNetLite(variant="lite2", layer="block20")
    assert lite2.image_size == 260 and lite2.layers[-3:] == ("block20", "head", "logits")


def test_bad_options_are_named():
    with pytest.raises((ValueError, RuntimeError), match=r"variant='b7' is not allowed; choose one of \['lite0', 'lite2'\]"):
        fa.make("modality", "efficientnet_lite", variant="b7")
    with pytest.raises(ValueError, match=r"layer='block16' is not allowed; choose one of \['stem', 'block0'"):
        EfficientNetLite(layer="block16")
    with pytest.raises(ValueError, match=r"preprocess='mnist' is not allowed; choose one of \['auto', 'photo', 'digit'\]"):
        EfficientNetLite(preprocess="mnist")
    with pytest.raises(ValueError, match=r"pooling='sum' is not allowed"):
        EfficientNetLite(pooling="sum")
    with pytest.raises(ValueError, match=r"got unknown option\(s\) colour"):
        fa.make("modality", "efficientnet_lite", colour=True)
