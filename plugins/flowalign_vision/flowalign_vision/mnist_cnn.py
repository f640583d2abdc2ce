"""The trained MNIST CNN of ``digit-recognizer-py`` as a modality, with its frozen classification head.

The package's ``digit_recognizer/models/handwriting_model.pth`` is a state dict of 3 conv blocks
(conv 3x3, ReLU, max-pool 2) and 2 fully connected layers (1152 -> 256 -> 10). The package itself is
never imported (it imports torchvision, which fails here): the file is located with
``importlib.util.find_spec``, read with ``weights_only=True``, and the architecture is rebuilt from
the tensors' shapes. Input: grey 28 x 28 digits, white on black, normalised with the MNIST mean
0.1307 and std 0.3081.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np
import torch
import xarray as xr
from torch import nn

from flowalign_nb.devices import resolve_device
from flowalign_nb.data.represent import stimuli_representation, validate_stimuli

from .extraction import check_choice, check_positive_int, run_batches
from .images import image_array, resize, to_tensor
from .weights import load_state_dict, package_file

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
WEIGHTS = ("digit_recognizer", "digit-recognizer-py", "models", "handwriting_model.pth")


class DigitCNN(nn.Module):
    """Conv blocks and fully connected layers with the shapes of ``state`` (the digit-recognizer layout).

    ``stages`` splits the network at its readable layers: ``conv1`` ... ``convN`` (after pooling),
    ``penultimate`` (first fc layer after ReLU) and ``logits``.

    Parameters
    ----------
    state : dict of str to Tensor
        Keys ``conv_layers.{3i}.weight|bias`` and ``fc_layers.{0,2}.weight|bias``.
    """

    def __init__(self, state: dict[str, torch.Tensor]):
        super().__init__()
        convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("conv_layers.")})
        if convs != list(range(0, 3 * len(convs), 3)) or not convs:
            raise ValueError(f"unexpected conv layout in the MNIST CNN weights: conv_layers indices {convs}")
        layers = []
        for i in convs:
            out_ch, in_ch, k, _ = state[f"conv_layers.{i}.weight"].shape
            layers += [nn.Conv2d(in_ch, out_ch, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2, 2)]
        self.conv_layers = nn.Sequential(*layers)
        (hidden, flat), (classes, _) = state["fc_layers.0.weight"].shape, state["fc_layers.2.weight"].shape
        self.fc_layers = nn.Sequential(nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        self.load_state_dict(state)
        self.layer_names = [f"conv{j + 1}" for j in range(len(convs))] + ["penultimate", "logits"]
        self.stages = [self.conv_layers[3 * j : 3 * j + 3] for j in range(len(convs))]
        self.stages += [nn.Sequential(nn.Flatten(), *self.fc_layers[:2]), self.fc_layers[2]]

    def run(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Apply stages ``start`` .. ``stop`` (inclusive) to ``x``."""
        for stage in self.stages[start : stop + 1]:
            x = stage(x)
        return x


class MnistCNN:
    """Modality: features of the trained MNIST CNN at one layer, and its frozen head from that layer.

    Parameters
    ----------
    layer : {"conv1", "conv2", "conv3", "penultimate", "logits"}
        Conv layers are flattened (channels x height x width), so :meth:`head` is exact from any layer.
    invert : bool
        Invert grey levels first (for dark digits on a light background; MNIST is light on dark).
    batch_size : int
    device : str or None
        ``None``: CUDA when present, else CPU.
    progress : bool
        tqdm.auto progress bar during extraction.
    """

    classes = list(range(10))

    def __init__(self, layer: str = "penultimate", invert: bool = False, batch_size: int = 256, device=None, progress: bool = True):
        self.layer = check_choice("layer", layer, ("conv1", "conv2", "conv3", "penultimate", "logits"))
        if not isinstance(invert, bool):
            raise ValueError(f"invert={invert!r} is not allowed; use True or False")
        self.invert, self.progress = invert, progress
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.device = resolve_device(device)

    @cached_property
    def weights_path(self):
        return package_file(*WEIGHTS)

    @cached_property
    def cache_token(self) -> str:
        """Identity of the weights (file name and SHA-256), part of feature-cache keys."""
        return f"{self.weights_path.name}:{hashlib.sha256(self.weights_path.read_bytes()).hexdigest()[:16]}"

    @cached_property
    def net(self) -> DigitCNN:
        return DigitCNN(load_state_dict(self.weights_path)).eval().to(self.device)

    @property
    def layer_index(self) -> int:
        return self.net.layer_names.index(self.layer)

    def prepare(self, image) -> torch.Tensor:
        """One image payload -> normalised tensor, shape (1, 28, 28)."""
        t = resize(to_tensor(image_array(image), channels=1), 28, 28)
        return ((1.0 - t if self.invert else t) - MNIST_MEAN) / MNIST_STD

    def images_to_features(self, images: list) -> np.ndarray:
        """Features of image payloads at :attr:`layer`, shape (n_images, n_features)."""
        return run_batches(images, self.prepare, lambda x: self.net.run(x, 0, self.layer_index).flatten(1),
                           self.batch_size, self.device, f"mnist_cnn {self.layer}", self.progress)

    def represent(self, stimuli) -> xr.DataArray:
        """Representation of the ``image`` column, dims (presentation, neuroid)."""
        validate_stimuli(stimuli, "image")
        values = self.images_to_features(stimuli["image"].tolist())
        return stimuli_representation(values, stimuli, [f"{self.layer}.{j}" for j in range(values.shape[1])],
                                      modality="mnist_cnn", model="digit-recognizer-py handwriting_model", layer=self.layer)

    def head(self, features) -> np.ndarray:
        """The frozen rest of the network from :attr:`layer` to the 10 logits.

        Parameters
        ----------
        features : DataArray or array_like, shape (n, n_features)
            Features at :attr:`layer` (e.g. transported into this space by an aligner).

        Returns
        -------
        numpy.ndarray, shape (n, 10)
        """
        layers = sorted(map(str, set(features["layer"].values))) if isinstance(features, xr.DataArray) and "layer" in features.coords else None
        if layers is not None and layers != [self.layer]:
            raise ValueError(f"features are from layer(s) {layers}; this head starts at {self.layer!r}")
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32, device=self.device)
        if self.layer == "logits":
            return x.cpu().numpy()
        shape = self._layer_shape()
        if x.ndim != 2 or x.shape[1] != int(np.prod(shape)):
            raise ValueError(f"features of shape {tuple(x.shape)} do not fit layer {self.layer!r}, which has {int(np.prod(shape))} features")
        with torch.inference_mode():
            return self.net.run(x.reshape(len(x), *shape), self.layer_index + 1, len(self.net.stages) - 1).cpu().numpy()

    def predict(self, features) -> np.ndarray:
        """Predicted digit per row of ``features`` (see :meth:`head`), shape (n,)."""
        return self.head(features).argmax(1)

    def _layer_shape(self) -> tuple:
        with torch.inference_mode():
            probe = self.net.run(torch.zeros(1, 1, 28, 28, device=self.device), 0, self.layer_index)
        return tuple(probe.shape[1:])
