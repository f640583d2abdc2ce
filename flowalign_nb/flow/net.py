"""The velocity field: an MLP on ``[x_t, Fourier features of x_t, condition, time embedding]``."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalTimeEmbedding(nn.Module):
    """``emb(t) = [sin(2 pi f_k t), cos(2 pi f_k t)]`` for ``dim / 2`` log-spaced frequencies ``f_k`` in ``[1/4, max_frequency]``.

    Flow time runs over ``[0, 1]`` only, so frequencies of hundreds of cycles per unit time (as in
    diffusion models' embeddings of 1,000 steps) make ``v(t, .)`` jagged between ODE steps: with
    ``f_k`` up to 1,000 the embeddings of ``t = 0.5`` and ``0.51`` have cosine 0.39. The rule here:
    the fastest component turns by at most one radian over an ODE step of ``1 / 20``,
    ``2 pi f_max / 20 <= 1``, i.e. ``f_max = 20 / (2 pi) ~ 3.2`` (cosine of nearby embeddings > 0.99); the
    slowest, a quarter cycle over ``[0, 1]``, is nearly linear in ``t``.

    Parameters
    ----------
    dim : int
        Embedding size (even).
    max_frequency : float
        Highest frequency ``f_max`` in cycles per unit time.
    """

    def __init__(self, dim: int = 64, max_frequency: float = 20 / (2 * math.pi)):
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim must be even, got {dim}")
        if not max_frequency > 0.25:
            raise ValueError(f"max_frequency={max_frequency!r} is not allowed; it must be > 0.25 cycles per unit time")
        freqs = torch.logspace(math.log10(0.25), math.log10(max_frequency), dim // 2)
        self.register_buffer("freqs", 2 * math.pi * freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t: (B,) -> (B, dim)."""
        angles = t[:, None] * self.freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class FourierFeatures(nn.Module):
    """``phi(x) = [sin(2 pi f_k x_j), cos(2 pi f_k x_j)]`` for each coordinate ``x_j`` and ``n_frequencies`` log-spaced ``f_k``.

    Frequencies run over ``[1/2, max_frequency]`` cycles per (standardised) unit. An MLP fed the raw
    coordinates learns high-frequency functions slowly (spectral bias; Tancik et al. 2020, "Fourier
    features let networks learn high frequency functions in low dimensional domains"), and a
    LayerNorm after the first layer also removes the input's scale, the usual way around it. So a
    low-dimensional density with detail much finer than its spread (8 Gaussians of std 0.16 at
    radius 1.4 after standardisation) comes out blurred. With these features W2 fell from 0.54 to 0.36
    (8gaussians -> moons) and from 0.82 to 0.58 (moons -> 8gaussians) at TorchCFM's width and 400
    steps (``benchmarks/cfm_2d_ablation.py``, tables in ``benchmarks/cfm_2d_ablation.md``).

    Parameters
    ----------
    n_frequencies : int
        Frequencies per coordinate (output width ``2 * n_frequencies * d``).
    max_frequency : float
        Highest frequency in cycles per unit.
    """

    def __init__(self, n_frequencies: int = 8, max_frequency: float = 4.0):
        super().__init__()
        if n_frequencies < 1:
            raise ValueError(f"n_frequencies={n_frequencies!r} is not allowed; it must be >= 1")
        if not max_frequency > 0.5:
            raise ValueError(f"max_frequency={max_frequency!r} is not allowed; it must be > 0.5 cycles per unit")
        freqs = torch.logspace(math.log10(0.5), math.log10(max_frequency), n_frequencies)
        self.register_buffer("freqs", 2 * math.pi * freqs, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, d) -> (B, 2 * n_frequencies * d), sines then cosines, coordinate-major."""
        angles = (x[:, :, None] * self.freqs).flatten(1)
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class VelocityField(nn.Module):
    """MLP velocity ``v(t, x, c)``: ``depth`` hidden layers of width ``hidden`` with LayerNorm and SiLU.

    The last layer starts at zero, so the untrained flow is the identity map.

    Parameters
    ----------
    dim : int
        Dimension of the flow state ``x``.
    cond_dim : int
        Dimension of the condition ``c`` (0: unconditional).
    hidden : int
    depth : int
    time_dim : int
        Size of the sinusoidal time embedding.
    fourier : int
        Fourier features of the state (:class:`FourierFeatures`), frequencies per coordinate; 0: none.
    """

    def __init__(self, dim: int, cond_dim: int = 0, hidden: int = 256, depth: int = 3, time_dim: int = 64, fourier: int = 0):
        super().__init__()
        self.dim, self.cond_dim = dim, cond_dim
        self.time = SinusoidalTimeEmbedding(time_dim)
        self.fourier = FourierFeatures(fourier) if fourier else None
        layers, width = [], dim + 2 * fourier * dim + cond_dim + time_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
            width = hidden
        out = nn.Linear(width, dim)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.mlp = nn.Sequential(*layers, out)

    def forward(self, t: torch.Tensor, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """t: (B,) or scalar, x: (B, dim), cond: (B, cond_dim) or None -> (B, dim)."""
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        parts = [x] if self.fourier is None else [x, self.fourier(x)]
        parts += [cond, self.time(t)] if self.cond_dim else [self.time(t)]
        return self.mlp(torch.cat(parts, dim=1))
