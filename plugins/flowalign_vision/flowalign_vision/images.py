"""Image payloads to model-ready tensors: reading, grey/RGB conversion, resizing, cropping.

A stimulus ``image`` cell may be a numpy array, shape (H, W) (grey), (H, W, 1) or (H, W, 3) (RGB),
of dtype uint8 (0-255) or float in [0, 1]; a PIL image; or a ``pathlib.Path`` to an image file (a
``Path``, not a ``str``, so that the feature cache hashes the file's content, not its name).
Written with torch and PIL only (no torchvision).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

#: the ImageNet evaluation crop: resize the shorter side to size / 0.875, then centre-crop size x size
CROP_FRACTION = 0.875


def image_array(value) -> np.ndarray:
    """One image payload as float32 in [0, 1], shape (H, W) for grey or (H, W, 3) for colour.

    Raises
    ------
    TypeError
        For a payload of another type, or a file name given as ``str`` (naming it and the allowed ones).
    ValueError
        For a bad shape or a float image outside [0, 1].
    """
    if isinstance(value, str):
        raise TypeError(f"image {value!r} is a str; give image files as pathlib.Path (the feature cache hashes their content)")
    if isinstance(value, Path):
        with Image.open(value) as im:
            value = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    elif isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGB") if value.mode not in ("L", "RGB") else value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"image of type {type(value).__name__} is not allowed; use a numpy array, a PIL image or a file path")
    if value.ndim == 3 and value.shape[2] == 1:
        value = value[:, :, 0]
    if not (value.ndim == 2 or (value.ndim == 3 and value.shape[2] == 3)):
        raise ValueError(f"image of shape {value.shape} is not allowed; use (H, W), (H, W, 1) or (H, W, 3)")
    if value.dtype == np.uint8:
        return value.astype(np.float32) / 255.0
    if np.issubdtype(value.dtype, np.floating):
        low, high = float(value.min()), float(value.max())
        if low < 0 or high > 1:
            raise ValueError(f"float image with values in [{low}, {high}] is not allowed; use [0, 1] or uint8 0-255")
        return value.astype(np.float32)
    raise ValueError(f"image dtype {value.dtype} is not allowed; use uint8 (0-255) or float in [0, 1]")


def is_small_grey(image: np.ndarray, max_side: int = 32) -> bool:
    """True for a grey image no larger than ``max_side`` pixels a side (a digit, as in MNIST)."""
    return image.ndim == 2 and max(image.shape) <= max_side


def to_tensor(image: np.ndarray, channels: int) -> torch.Tensor:
    """(H, W) or (H, W, 3) float image -> tensor (channels, H, W); grey is repeated, RGB averaged to grey."""
    t = torch.from_numpy(np.ascontiguousarray(image))
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    if channels == 1 and t.shape[0] == 3:
        t = (t * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
    elif channels == 3 and t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t


def resize(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear, antialiased resize of (C, H, W) to (C, height, width)."""
    if tuple(t.shape[1:]) == (height, width):
        return t
    return F.interpolate(t[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)[0]


def resize_and_crop(t: torch.Tensor, size: int) -> torch.Tensor:
    """ImageNet evaluation geometry: shorter side to ``round(size / 0.875)``, centre crop ``size`` x ``size``."""
    _, h, w = t.shape
    short = round(size / CROP_FRACTION)
    t = resize(t, max(short, round(h * short / w)), max(short, round(w * short / h)))
    top, left = (t.shape[1] - size) // 2, (t.shape[2] - size) // 2
    return t[:, top : top + size, left : left + size]
