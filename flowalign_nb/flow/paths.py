"""OT-CFM probability paths and the conditional flow-matching loss (Lipman et al. 2023; Tong et al. 2023).

For a pair ``(x0, x1)`` drawn from a coupling and ``t ~ U[0, 1]``, ``eps ~ N(0, I)``:

    x_t = (1 - t) x0 + t x1 + sigma eps,        u_t = x1 - x0,

and the loss is ``E || v(t, x_t, c) - u_t ||^2`` with an optional condition ``c``.
"""

from __future__ import annotations

import torch


def conditional_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Point on the Gaussian path between ``x0`` and ``x1`` and its target velocity.

    Parameters
    ----------
    x0, x1 : Tensor, shape (B, d)
    t : Tensor, shape (B,)
    eps : Tensor, shape (B, d)
        Standard normal noise.
    sigma : float
        Path width; 0 gives straight deterministic paths.

    Returns
    -------
    x_t : Tensor, shape (B, d)
        ``(1 - t) x0 + t x1 + sigma eps``.
    u_t : Tensor, shape (B, d)
        ``x1 - x0``.
    """
    t = t[:, None]
    return (1 - t) * x0 + t * x1 + sigma * eps, x1 - x0


def cfm_loss(net, x0: torch.Tensor, x1: torch.Tensor, cond: torch.Tensor | None, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Conditional flow-matching loss ``mean_b || v(t_b, x_t,b, c_b) - u_t,b ||^2 / d``.

    Parameters
    ----------
    net : callable ``(t, x, cond) -> Tensor[B, d]``
    x0, x1 : Tensor, shape (B, d)
    cond : Tensor, shape (B, d_cond), or None
    sigma : float
    generator : torch.Generator
        Source of ``t`` and ``eps`` (on the tensors' device).

    Returns
    -------
    Tensor, scalar
    """
    t = torch.rand(x0.shape[0], generator=generator, device=x0.device, dtype=x0.dtype)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t, u_t = conditional_path(x0, x1, t, eps, sigma)
    return torch.mean((net(t, x_t, cond) - u_t) ** 2)
