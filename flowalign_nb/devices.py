"""The compute device: CUDA when there is one, else the CPU, or the device the user names."""

from __future__ import annotations

import torch


def resolve_device(device) -> torch.device:
    """``None`` or ``"auto"``: CUDA when present, else CPU; otherwise ``torch.device(device)``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device; use None/'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    available = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if resolved.type == "cuda" and (not torch.cuda.is_available() or (resolved.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device={device!r} is not available here; available: {', '.join(available)}")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported; available: {', '.join(available)}")
    return resolved
