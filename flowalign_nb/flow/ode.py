"""Transport by integrating the learned velocity field with torchdiffeq."""

from __future__ import annotations

import torch
from torchdiffeq import odeint

FIXED_STEP_METHODS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")


@torch.inference_mode()
def integrate(
    net,
    z0: torch.Tensor,
    cond: torch.Tensor | None = None,
    method: str = "midpoint",
    steps: int = 20,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    chunk: int = 8192,
) -> torch.Tensor:
    """Solve ``dz/dt = v(t, z, c)`` from ``t = 0`` to ``t = 1`` (``torchdiffeq.odeint``).

    Parameters
    ----------
    net : callable ``(t, z, cond) -> Tensor[B, d]``
    z0 : Tensor, shape (n, d)
    cond : Tensor, shape (n, d_cond), or None
    method : str
        Any torchdiffeq method; fixed-step ones use ``steps`` steps, adaptive ones ``atol`` / ``rtol``.
    steps : int
    chunk : int
        Items integrated at once (bounds memory).

    Returns
    -------
    Tensor, shape (n, d)
        ``z(1)``.
    """
    options = {"step_size": 1.0 / steps} if method in FIXED_STEP_METHODS else None
    span = torch.tensor([0.0, 1.0], device=z0.device, dtype=z0.dtype)
    out = []
    for start in range(0, z0.shape[0], chunk):
        c = None if cond is None else cond[start : start + chunk]
        field = lambda t, z, c=c: net(t, z, c)  # noqa: E731
        out.append(odeint(field, z0[start : start + chunk], span, method=method, atol=atol, rtol=rtol, options=options)[-1])
    return torch.cat(out)
