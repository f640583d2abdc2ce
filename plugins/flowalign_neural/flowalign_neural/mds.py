"""Classical (Torgerson) multidimensional scaling: points whose distances reproduce an RDM.

Given squared distances ``D2`` (n x n, zero diagonal), double-centre them,

    B = -1/2 J D2 J,    J = I - (1/n) 1 1^T,

take the eigendecomposition ``B = V diag(lambda) V^T`` (``lambda_1 >= lambda_2 >= ...``) and set

    X = V_k diag(lambda_k)^{1/2}     (n x k, the k positive eigenvalues).

Then ``||x_i - x_j||^2 = D2_ij`` for all pairs **exactly** when ``B`` is positive semi-definite,
i.e. when ``D2`` are squared Euclidean distances of some point set; otherwise the negative
eigenvalues are dropped and the distances are the closest such approximation in the sense of
``||B - X X^T||_F``. A correlation-distance RDM is always of the exact kind: for patterns ``z_i``
standardised across their p units, ``1 - r_ij = ||z_i - z_j||^2 / (2 p)``. So an RDM of ``1 - r`` is
passed as ``D2`` itself (``squared=True``), not squared again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MDSResult:
    """Coordinates of classical MDS and how faithful they are.

    Attributes
    ----------
    points : numpy.ndarray, shape (n, k)
    eigenvalues : numpy.ndarray, shape (n,)
        All eigenvalues of ``B``, descending.
    negative_share : float
        ``sum |lambda_-| / sum |lambda|``: 0 for a Euclidean RDM.
    max_error : float
        ``max_ij | ||x_i - x_j||^2 - D2_ij |`` with the kept components.
    """

    points: np.ndarray
    eigenvalues: np.ndarray
    negative_share: float
    max_error: float


def classical_mds(rdm, squared: bool = True, n_components: int | None = None, rtol: float = 1e-10) -> MDSResult:
    """Classical MDS of a dissimilarity matrix (see the module docstring for the equations).

    Parameters
    ----------
    rdm : array_like, shape (n, n)
        Symmetric, zero diagonal, non-negative.
    squared : bool
        True: the entries are squared distances (right for correlation distance ``1 - r``);
        False: they are distances and are squared first.
    n_components : int or None
        Keep this many leading components (at most the number of positive eigenvalues); None keeps
        all positive ones, which reproduces a Euclidean RDM exactly.
    rtol : float
        Eigenvalues below ``rtol * lambda_1`` count as zero.

    Returns
    -------
    MDSResult
    """
    d = np.asarray(rdm, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 2:
        raise ValueError(f"rdm must be a square matrix of at least 2 x 2, got shape {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("rdm has NaN or infinite entries")
    if np.abs(d - d.T).max() > 1e-8 * max(1.0, np.abs(d).max()) or np.abs(np.diag(d)).max() > 1e-12 or d.min() < 0:
        raise ValueError("rdm must be symmetric with a zero diagonal and non-negative entries")
    d2 = d if squared else d ** 2
    n = d2.shape[0]
    centring = np.eye(n) - 1.0 / n
    eigenvalues, vectors = np.linalg.eigh(-0.5 * centring @ d2 @ centring)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    positive = int((eigenvalues > rtol * eigenvalues[0]).sum())
    if n_components is not None and not (isinstance(n_components, (int, np.integer)) and 1 <= n_components <= positive):
        raise ValueError(f"n_components={n_components!r} is not allowed; use None or an integer in [1, {positive}]")
    k = positive if n_components is None else int(n_components)
    points = vectors[:, :k] * np.sqrt(eigenvalues[:k])
    rebuilt = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    negative = -eigenvalues[eigenvalues < 0].sum()
    return MDSResult(points, eigenvalues, float(negative / np.abs(eigenvalues).sum()), float(np.abs(rebuilt - d2).max()))
