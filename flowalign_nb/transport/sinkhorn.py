"""Sinkhorn-Knopp for one plan on the CPU: POT's iterations, checked every tenth iteration only.

``ot.sinkhorn(a, b, M, reg)`` (``method="sinkhorn"``, numpy backend) checks every iteration for
zero, NaN and infinite scalings (five array reductions) and computes the marginal error every tenth
iteration with ``einsum``. For the ``512 x 512`` minibatch plans of the 2-D tasks these checks cost
as much as the two matrix-vector products the iteration consists of, and they hold the GIL, so two
plans solved in two threads hardly overlap. :func:`sinkhorn_knopp` runs the same iterates in the
same order and stops at the same iteration; it checks the scalings when it checks the error, and
when a check fails it hands the problem to ``ot.sinkhorn`` itself, so numerically failing inputs
get POT's own result and warning (``benchmarks/sinkhorn_loop.py`` measures both;
``tests/test_sinkhorn.py`` compares the plans).
"""

from __future__ import annotations

import warnings

import numpy as np
import ot

#: POT's warning when ``numItermax`` iterations end above ``stopThr``
NOT_CONVERGED = ("Sinkhorn did not converge. You might want to increase the number of iterations `numItermax` "
                 "or the regularization parameter `reg`.")


def sinkhorn_knopp(a: np.ndarray, b: np.ndarray, cost: np.ndarray, reg: float, num_iter_max: int = 1000,
                   stop_thr: float = 1e-9) -> np.ndarray:
    """Entropic plan ``pi = diag(u) K diag(v)``, ``K = exp(-C / reg)``, by Sinkhorn-Knopp scaling.

    The iterates of ``ot.bregman.sinkhorn_knopp``: from ``u = 1 / n``, ``v = 1 / m``,

        v = b / (K^T u),   u = 1 / ((K / a) v),

    and after iterations 0, 10, 20, ... the marginal error ``||v * (K^T u) - b||_2``; the loop
    stops when it is below ``stop_thr`` or after ``num_iter_max`` iterations (then POT's warning).

    Parameters
    ----------
    a : ndarray, shape (n,)
        Source weights (positive).
    b : ndarray, shape (m,)
        Target weights (positive).
    cost : ndarray, shape (n, m), float64
    reg : float
        Entropic regularisation.
    num_iter_max, stop_thr : int, float
        ``ot.sinkhorn``'s ``numItermax`` and ``stopThr`` (same defaults).

    Returns
    -------
    ndarray, shape (n, m)
        The plan; ``ot.sinkhorn(a, b, cost, reg, numItermax=num_iter_max, stopThr=stop_thr)``'s
        when a scaling turns zero, NaN or infinite.
    """
    kernel = np.exp(cost / (-reg))
    kernel_a = (1 / a).reshape(-1, 1) * kernel
    kernel_t = kernel.T
    u = np.ones(len(a)) / len(a)
    v = np.ones(len(b)) / len(b)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # a failure is handed to POT, which warns
        for it in range(num_iter_max):
            ktu = kernel_t.dot(u)
            v = b / ktu
            u = 1.0 / kernel_a.dot(v)
            if it % 10 == 0:
                # POT's per-iteration test (zero K^T u, NaN or infinite u, v), at the error check: a zero
                # or an infinite scaling makes the next ones 0, inf or NaN, so it shows up here too
                if not (np.all(ktu > 0) and np.isfinite(u).all() and np.isfinite(v).all()):
                    return ot.sinkhorn(a, b, cost, reg, numItermax=num_iter_max, stopThr=stop_thr)
                if np.linalg.norm(v * kernel_t.dot(u) - b) < stop_thr:
                    break
        else:
            warnings.warn(NOT_CONVERGED)
    return u.reshape(-1, 1) * kernel * v.reshape(1, -1)
