"""Shared pieces of the performance suite: timing, synthetic data, the benchmark network.

The network is the one the issue names: a 4-layer, 512-wide MLP velocity field
(:class:`flowalign_nb.flow.VelocityField`, ``hidden=512, depth=4``) on 128-d data.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import torch

from flowalign_nb.data.model import Latents
from flowalign_nb.flow import VelocityField

DIM, HIDDEN, DEPTH, N_CLASSES = 128, 512, 4, 10


def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on the CPU), so wall-clock timings are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeat: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@contextmanager
def stopwatch(out: dict, key: str, device: torch.device):
    """Add the wall-clock seconds of the block to ``out[key]``."""
    sync(device)
    start = time.perf_counter()
    yield
    sync(device)
    out[key] = out.get(key, 0.0) + time.perf_counter() - start


def class_blobs(n: int, seed: int, fraction: float, spread: float = 0.2, dim: int = DIM) -> tuple[Latents, np.ndarray]:
    """One space of ``n`` items in ``N_CLASSES`` Gaussian classes (centres ``spread * N(0, I)``, unit noise).

    Returns Latents whose labels are known for a random ``fraction`` of items (``-1`` elsewhere),
    and the true labels (only for scoring pseudo-labels; never given to a coupling).
    """
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((N_CLASSES, dim))
    y = rng.integers(0, N_CLASSES, n)
    x = (centres[y] + rng.standard_normal((n, dim))).astype(np.float32)
    known = np.where(rng.random(n) < fraction, y, -1)
    return Latents.from_arrays(x, known, classes=list(range(N_CLASSES))), y


def make_net(seed: int = 0) -> VelocityField:
    """The benchmark velocity field (unconditional, so TorchCFM loops can use the very same module)."""
    torch.manual_seed(seed)
    net = VelocityField(DIM, 0, HIDDEN, DEPTH)
    torch.nn.init.normal_(net.mlp[-1].weight, std=1e-3)  # not the identity map: real gradients everywhere
    return net


def linear_flops(net: torch.nn.Module, batch: int) -> float:
    """FLOPs of one training step's matmuls: ``6 B sum_l in_l out_l`` (forward 2, backward 4)."""
    return 6.0 * batch * sum(m.in_features * m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear))
