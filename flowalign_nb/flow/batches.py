"""Gather training pairs from (possibly memory-mapped) item arrays onto the training device."""

from __future__ import annotations

import torch


def gather(x: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x[index]`` on ``device``.

    When ``x`` stays on the CPU (e.g. memory-mapped data larger than the GPU) and ``device`` is CUDA,
    the rows are gathered into pinned (page-locked) memory and copied asynchronously, so the copy
    overlaps with queued device work. Otherwise the gather happens where ``x`` lives.

    Parameters
    ----------
    x : Tensor, shape (n, d)
    index : LongTensor, shape (B,)
    device : torch.device

    Returns
    -------
    Tensor, shape (B, d), on ``device``
    """
    device = torch.device(device)
    if x.device.type == "cpu" and device.type == "cuda":
        rows = torch.index_select(x, 0, index.cpu())
        return rows.pin_memory().to(device, non_blocking=True)
    return x[index.to(x.device)].to(device)
