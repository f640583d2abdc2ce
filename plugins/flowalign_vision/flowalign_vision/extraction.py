"""Batched, progress-reporting forward passes shared by the vision modalities."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm


def check_positive_int(name: str, value) -> int:
    """``value`` as an int, or a ValueError naming the option and the allowed values."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; it must be a positive integer")
    return int(value)


def check_choice(name: str, value, allowed) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming both."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")
    return value


def run_batches(images: list, prepare: Callable[[object], torch.Tensor], forward: Callable[[torch.Tensor], torch.Tensor],
                batch_size: int, device: torch.device, desc: str, progress: bool = True) -> np.ndarray:
    """Prepare and forward ``images`` in batches without gradients.

    Parameters
    ----------
    images : list
        Image payloads (one per stimulus).
    prepare : callable
        Payload -> tensor (C, H, W), the model's input geometry and scale.
    forward : callable
        Batch tensor (b, C, H, W) on ``device`` -> features (b, d).
    batch_size : int
    device : torch.device
    desc : str
        Progress-bar label.
    progress : bool
        Show a tqdm.auto bar (only when there is more than one batch).

    Returns
    -------
    numpy.ndarray, shape (len(images), d), float32
    """
    chunks = []
    starts = range(0, len(images), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc=desc, unit="batch", disable=not progress or len(starts) < 2):
            batch = torch.stack([prepare(im) for im in images[start : start + batch_size]]).to(device)
            chunks.append(forward(batch).float().cpu().numpy())
    return np.concatenate(chunks)
