"""Representational similarity and Gromov-Wasserstein category structure, for the neural tasks and benchmarks.

RSA here is the classic Kriegeskorte (2008) recipe: correlation-distance RDMs

    D_ij = 1 - corr(x_i, x_j)        (x_i: the pattern of item i across units)

compared by the Spearman correlation of their upper triangles. The Gromov-Wasserstein test asks
whether an unsupervised GW plan between two spaces of the same items puts its mass on pairs of the
same category more than chance.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

from flowalign_nb import Latents, make


def correlation_rdm(values) -> np.ndarray:
    """Condensed correlation-distance RDM, ``1 - corr(x_i, x_j)`` for ``i < j``.

    Parameters
    ----------
    values : array_like, shape (n_items, n_units)

    Returns
    -------
    numpy.ndarray, shape (n_items * (n_items - 1) / 2,)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 3:
        raise ValueError(f"values must be (n_items >= 3, n_units), got shape {values.shape}")
    return pdist(values, metric="correlation")


def condensed(rdm) -> np.ndarray:
    """A square RDM (n x n) or condensed one as the condensed vector."""
    rdm = np.asarray(rdm, dtype=np.float64)
    return squareform(rdm, checks=False) if rdm.ndim == 2 else rdm


def rsa_spearman(rdm_a, rdm_b) -> float:
    """Spearman correlation of two RDMs (square or condensed, same items in the same order)."""
    a, b = condensed(rdm_a), condensed(rdm_b)
    if a.shape != b.shape:
        raise ValueError(f"RDMs of different sizes: {a.shape[0]} and {b.shape[0]} pairs")
    return float(spearmanr(a, b).statistic)


def correlation_geometry(values) -> np.ndarray:
    """Rows centred across units and scaled to norm ``1 / sqrt(2)``.

    Their squared Euclidean distances equal the correlation distances,
    ``||z_i - z_j||^2 = 1 - corr(x_i, x_j)``, so a coupling that compares squared distances
    (``gw``) sees the correlation-distance geometry.

    Parameters
    ----------
    values : array_like, shape (n_items, p)

    Returns
    -------
    numpy.ndarray, shape (n_items, p)
    """
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(1, keepdims=True)
    return centred / (np.linalg.norm(centred, axis=1, keepdims=True) * np.sqrt(2.0))


def gw_category_test(source, target, labels_source, labels_target, epsilon: float = 5e-3,
                     n_permutations: int = 10_000, seed: int = 0) -> dict:
    """Gromov-Wasserstein plan between two spaces and a permutation test of its category mass.

    The plan is the core ``gw`` coupling (``flowalign_nb.make("coupling", "gw", reg=epsilon)``) on
    each space's own max-normalised squared distances; it sees no labels. The statistic is the
    share of mass on same-category pairs, ``S = sum_ij pi_ij [c_s(i) = c_t(j)] / sum_ij pi_ij``; its
    null distribution permutes the target labels over items (plan fixed), and
    ``p = (1 + #{null >= S}) / (1 + n_permutations)``.

    Parameters
    ----------
    source, target : array_like, shapes (n, d_s) and (m, d_t)
        Points whose squared distances carry each space's geometry (see :func:`correlation_geometry`).
    labels_source, labels_target : array_like, shapes (n,) and (m,)
    epsilon : float
        Entropic regularisation; 0 for exact (non-entropic) GW.
    n_permutations : int
    seed : int

    Returns
    -------
    dict
        ``share`` (observed), ``chance`` (``sum_k p_k q_k``, label shares of each side),
        ``null_mean``, ``p_value``, ``plan`` (n x m).
    """
    coupling = make("coupling", "gw", reg=epsilon, full_plan_max=max(len(source), len(target)))
    coupling.fit(Latents.from_arrays(np.asarray(source)), Latents.from_arrays(np.asarray(target)))
    plan = coupling.full_plan_.numpy()
    labels_source, labels_target = np.asarray(labels_source), np.asarray(labels_target)
    classes = np.union1d(labels_source, labels_target)
    # mass[k, j] = sum over source items i of class k of plan[i, j]; a labelling c of the targets scores sum_j mass[c_j, j]
    mass = np.stack([plan[labels_source == c].sum(0) for c in classes]) / plan.sum()
    codes = np.searchsorted(classes, labels_target)
    observed = float(mass[codes, np.arange(len(codes))].sum())
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(codes) for _ in range(n_permutations)])
    null = mass[shuffled, np.arange(len(codes))].sum(1)
    chance = float(sum(np.mean(labels_source == c) * np.mean(labels_target == c) for c in classes))
    return {"share": observed, "chance": chance, "null_mean": float(null.mean()),
            "p_value": float((1 + (null >= observed).sum()) / (1 + n_permutations)), "plan": plan}
