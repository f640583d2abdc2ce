"""Similarity and distance measures between two representations of the same stimuli, with a permutation null.

For two representations of :math:`n` shared stimuli, :math:`X \\in \\mathbb{R}^{n \\times p}` and
:math:`Y \\in \\mathbb{R}^{n \\times q}` (rows matched by ``stimulus_id``; columns centred):

- **linear CKA** (Kornblith et al. 2019), a *similarity* in [0, 1]:
  :math:`\\mathrm{CKA} = \\lVert Y^\\top X \\rVert_F^2 / (\\lVert X^\\top X \\rVert_F \\lVert Y^\\top Y \\rVert_F)`,
  the normalised HSIC of the linear kernels :math:`K = XX^\\top`, :math:`L = YY^\\top`. Its
  **debiased** form replaces each HSIC by the unbiased estimator of Song et al. (2012),
  :math:`\\frac{1}{n(n-3)}\\big[\\mathrm{tr}(\\tilde K \\tilde L) + \\frac{1^\\top \\tilde K 1\\, 1^\\top \\tilde L 1}{(n-1)(n-2)}
  - \\frac{2}{n-2} 1^\\top \\tilde K \\tilde L 1\\big]` (:math:`\\tilde K`: :math:`K` with a zero diagonal);
  about 0 for unrelated spaces at any width, at most 1 (it can be slightly negative).
- **generalised shape distance** (Williams et al. 2021), a *distance* in [0, pi/2] (radians): each space is
  scaled to unit mean variance and partially whitened, :math:`\\phi_\\alpha(X) = X(\\alpha I + (1-\\alpha) C_X^{-1/2})`
  with :math:`C_X = X^\\top X / n`; then :math:`d_\\alpha = \\arccos\\big(\\lVert \\phi_\\alpha(X)^\\top \\phi_\\alpha(Y)\\rVert_*
  / (\\lVert \\phi_\\alpha(X) \\rVert_F \\lVert \\phi_\\alpha(Y) \\rVert_F)\\big)`, the angle left after the best rotation
  (nuclear norm: the Procrustes optimum). :math:`\\alpha = 1` is the angular Procrustes distance of the centred
  spaces, :math:`\\alpha = 0` the CCA distance :math:`\\arccos(\\frac{1}{\\sqrt{pq}}\\sum_i \\rho_i)` of the canonical
  correlations. Its **cross-validated** form fits the centring, scaling, whitening and rotation on training
  stimuli and measures the angle on held-out ones (range [0, pi]; averaged over folds).
- **mutual k-nearest-neighbour alignment** (Huh et al. 2024), a *similarity* in [0, 1]: with :math:`N_X(i)` the
  :math:`k` nearest other stimuli of :math:`i` by cosine similarity in :math:`X`,
  :math:`\\frac{1}{n}\\sum_i |N_X(i) \\cap N_Y(i)| / k`; chance :math:`k / (n - 1)`.

**Permutation null** (``null=N``): the measure recomputed with the rows of :math:`Y` permuted (stimulus order
shuffled, :math:`N` times, ``numpy.random.default_rng(seed)``); the chance level is the null mean and the
p-value :math:`(1 + \\#\\{\\text{null at least as extreme}\\}) / (N + 1)` (greater for a similarity, smaller for a
distance). Raw similarity grows with width, so compare a value with its chance level.

The scale normalisation before whitening is our choice (netrep whitens :math:`X^\\top X` as given): it makes
:math:`d_\\alpha` invariant to isotropic scaling at every :math:`\\alpha`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.model_selection import KFold

from ..data.model import validate
from .inputs import check_int, select, shared_stimuli

#: fewest shared stimuli any measure needs (the debiased HSIC divides by n - 3)
MIN_STIMULI = 4
#: eigenvalues of C_X below this fraction of the largest are floored there before C_X^{-1/2}
EIGENVALUE_FLOOR = 1e-10


# --- the measures on arrays ------------------------------------------------------------------------------------


def centred(x) -> np.ndarray:
    """``x`` (n, p) as float64 with column means removed."""
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0)


def linear_cka(x, y, debiased: bool = False) -> float:
    """Linear CKA of ``x`` (n, p) and ``y`` (n, q), or its debiased form (see the module docstring).

    Returns
    -------
    float
        Similarity; NaN when a space is constant.
    """
    x, y = centred(x), centred(y)
    if not debiased:
        denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
        return float(np.linalg.norm(y.T @ x) ** 2 / denominator) if denominator > 0 else np.nan
    k, l = x @ x.T, y @ y.T
    denominator = np.sqrt(unbiased_hsic(k, k) * unbiased_hsic(l, l))
    return float(unbiased_hsic(k, l) / denominator) if denominator > 0 else np.nan


def unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """The unbiased HSIC estimator of Song et al. (2012) for Gram matrices ``k``, ``l`` (n, n), n >= 4."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    ones_k, ones_l = k.sum(axis=0), l.sum(axis=0)
    return float((np.sum(k * l) + ones_k.sum() * ones_l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * ones_k @ ones_l)
                 / (n * (n - 3)))


@dataclass(frozen=True)
class ShapeTransform:
    """Centring, scaling and partial whitening of one space, fitted on some stimuli: ``apply(x) = (x - mean) / scale @ z``."""

    mean: np.ndarray
    scale: float
    z: np.ndarray

    @classmethod
    def fit(cls, x, alpha: float) -> "ShapeTransform":
        """Fit on ``x`` (n, p): column means, the scale giving unit mean variance, and :math:`\\alpha I + (1-\\alpha) C^{-1/2}`."""
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        xc = x - mean
        scale = float(np.sqrt(np.sum(xc**2) / xc.size)) or 1.0
        xc = xc / scale
        eigenvalues, vectors = np.linalg.eigh(xc.T @ xc / len(xc))
        eigenvalues = np.maximum(eigenvalues, EIGENVALUE_FLOOR * max(eigenvalues.max(), EIGENVALUE_FLOOR))
        z = (vectors * (alpha + (1.0 - alpha) * eigenvalues**-0.5)) @ vectors.T
        return cls(mean, scale, z)

    def apply(self, x) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale @ self.z


def shape_distance(x, y, alpha: float = 1.0) -> float:
    """Generalised (angular) shape distance of ``x`` (n, p) and ``y`` (n, q), in radians (module docstring)."""
    xw, yw = ShapeTransform.fit(x, alpha).apply(x), ShapeTransform.fit(y, alpha).apply(y)
    return _angle(np.linalg.svd(xw.T @ yw, compute_uv=False).sum(), xw, yw)


def cv_shape_distance(x, y, alpha: float = 1.0, cv: int = 5, random_state: int = 0) -> float:
    """Cross-validated shape distance: transforms and rotation fitted on training folds, angle on test folds.

    For fold :math:`f`: fit :class:`ShapeTransform` of each space and the rotation
    :math:`Q = UV^\\top` (:math:`U S V^\\top = \\phi(X_{tr})^\\top \\phi(Y_{tr})`) on the training stimuli; on the test
    stimuli, :math:`\\arccos(\\langle \\phi(X_{te}) Q, \\phi(Y_{te}) \\rangle / (\\lVert \\phi(X_{te}) Q \\rVert_F
    \\lVert \\phi(Y_{te}) \\rVert_F))`. Folds: ``KFold(cv, shuffle=True, random_state=seed)``; the mean over folds.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    angles = []
    for train, test in KFold(cv, shuffle=True, random_state=random_state).split(x):
        fx, fy = ShapeTransform.fit(x[train], alpha), ShapeTransform.fit(y[train], alpha)
        u, _, vt = np.linalg.svd(fx.apply(x[train]).T @ fy.apply(y[train]), full_matrices=False)
        xt, yt = fx.apply(x[test]) @ (u @ vt), fy.apply(y[test])
        angles.append(_angle(np.sum(xt * yt), xt, yt))
    return float(np.mean(angles))


def _angle(inner: float, xw: np.ndarray, yw: np.ndarray) -> float:
    norms = np.linalg.norm(xw) * np.linalg.norm(yw)
    return float(np.arccos(np.clip(inner / norms, -1.0, 1.0))) if norms > 0 else np.nan


def mutual_knn(x, y, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment of ``x`` (n, p) and ``y`` (n, q) by cosine similarity (module docstring)."""
    neighbours_x, neighbours_y = _knn(x, k), _knn(y, k)
    overlap = [len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(neighbours_x, neighbours_y)]
    return float(np.mean(overlap) / k)


def _knn(x, k: int) -> np.ndarray:
    """Indices (n, k) of each row's k most cosine-similar other rows."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms > 0, norms, 1.0)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


# --- on representations, with the permutation null ------------------------------------------------------------


@dataclass(frozen=True)
class SimilarityResult:
    """What :func:`cka`, :func:`shape_metric` and :func:`mutual_knn_alignment` return.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``metric`` (its name ends in ``_similarity`` or ``_distance``), ``value``, ``kind``
        (``"similarity"``: higher is more alike; ``"distance"``: lower is), ``range``, ``chance`` (null mean; NaN
        without a null), ``null_std``, ``p_value``, ``n_null``, ``n_stimuli``, ``n_neuroids_a``, ``n_neuroids_b``
        and the measure's options.
    null : numpy.ndarray, shape (null,)
        The measure on each permutation of ``b``'s stimulus order.
    """

    table: pd.DataFrame
    null: np.ndarray


def with_null(measure, a, b, kind: str, metric: str, value_range: str, null: int, seed: int, minimum: int = MIN_STIMULI,
              **options) -> SimilarityResult:
    """``measure(x, y, **options)`` on the stimuli ``a`` and ``b`` share, with ``null`` permutations of ``b``'s rows.

    Parameters
    ----------
    measure : callable (x (n, p), y (n, q), **options) -> float
    a, b : DataArray (n_stimuli, n_neuroids)
    kind : {"similarity", "distance"}
        Which tail is extreme for the p-value.
    metric, value_range : str
        The table's ``metric`` and ``range``.
    null : int >= 0
        Permutations (0: no null).
    seed : int
    minimum : int
        Fewest shared stimuli.

    Returns
    -------
    SimilarityResult
    """
    null = check_int("null", null, 0)
    seed = check_int("seed", seed, 0)
    validate(a)
    validate(b)
    ids = shared_stimuli(a["stimulus_id"].values, b["stimulus_id"].values, minimum, metric)
    x, y = select(a, ids).values.astype(np.float64), select(b, ids).values.astype(np.float64)
    value = measure(x, y, **options)
    rng = np.random.default_rng(seed)
    draws = np.array([measure(x, y[rng.permutation(len(y))], **options) for _ in range(null)])
    if null:
        extreme = draws >= value if kind == "similarity" else draws <= value
        chance, spread, p_value = float(draws.mean()), float(draws.std(ddof=1)) if null > 1 else np.nan, (1 + extreme.sum()) / (null + 1)
    else:
        chance = spread = p_value = np.nan
    table = pd.DataFrame([{
        "metric": metric, "value": value, "kind": kind, "range": value_range, "chance": chance, "null_std": spread,
        "p_value": float(p_value), "n_null": null, "n_stimuli": len(ids), "n_neuroids_a": x.shape[1],
        "n_neuroids_b": y.shape[1], **options,
    }])
    return SimilarityResult(table, draws)


def cka(a: xr.DataArray, b: xr.DataArray, debiased: bool = False, null: int = 0, seed: int = 0) -> SimilarityResult:
    """Linear CKA (or debiased CKA) of two representations over their shared stimuli; a similarity in [0, 1].

    Parameters
    ----------
    a, b : DataArray (n_stimuli, n_neuroids)
        Matched by ``stimulus_id`` (at least 4 shared).
    debiased : bool
        The unbiased HSIC estimator (about 0 for unrelated spaces of any width).
    null : int
        Permutations of ``b``'s stimulus order for the chance level and p-value.
    seed : int

    Returns
    -------
    SimilarityResult
        ``metric`` ``"linear_cka_similarity"`` or ``"debiased_cka_similarity"``.
    """
    if not isinstance(debiased, bool):
        raise ValueError(f"debiased={debiased!r} is not allowed; use True or False")
    name = "debiased_cka_similarity" if debiased else "linear_cka_similarity"
    return with_null(linear_cka, a, b, "similarity", name, "[0, 1]" if not debiased else "<= 1 (about 0 at chance)",
                     null, seed, debiased=debiased)


def shape_metric(a: xr.DataArray, b: xr.DataArray, alpha: float = 1.0, cv: int | None = None, null: int = 0,
                 seed: int = 0) -> SimilarityResult:
    """Generalised shape distance (Williams et al. 2021) of two representations; a distance in radians.

    Parameters
    ----------
    a, b : DataArray (n_stimuli, n_neuroids)
    alpha : float in [0, 1]
        Regularisation of the whitening: 1 Procrustes (no whitening), 0 CCA (full whitening).
    cv : int >= 2 or None
        Folds of the cross-validated form (None: fitted and measured on all stimuli).
    null : int
    seed : int
        Seeds the permutations and the folds.

    Returns
    -------
    SimilarityResult
        ``metric`` ``"shape_distance"`` (range [0, pi/2]) or ``"cv_shape_distance"`` (range [0, pi]).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha!r} is not allowed; it must be a number in [0, 1] (1: Procrustes, 0: CCA)")
    if cv is None:
        return with_null(shape_distance, a, b, "distance", "shape_distance", "[0, pi/2]", null, seed, alpha=float(alpha))
    cv = check_int("cv", cv, 2)
    return with_null(cv_shape_distance, a, b, "distance", "cv_shape_distance", "[0, pi]", null, seed,
                     minimum=max(MIN_STIMULI, 2 * cv), alpha=float(alpha), cv=cv, random_state=seed)


def mutual_knn_alignment(a: xr.DataArray, b: xr.DataArray, k: int = 10, null: int = 0, seed: int = 0) -> SimilarityResult:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024) of two representations; a similarity in [0, 1].

    Parameters
    ----------
    a, b : DataArray (n_stimuli, n_neuroids)
    k : int >= 1
        Neighbours, fewer than the shared stimuli.
    null, seed : int

    Returns
    -------
    SimilarityResult
        ``metric`` ``"mutual_knn_similarity"``; chance without a null is :math:`k / (n - 1)`.
    """
    k = check_int("k", k, 1)
    return with_null(mutual_knn, a, b, "similarity", "mutual_knn_similarity", "[0, 1]", null, seed,
                     minimum=max(MIN_STIMULI, k + 2), k=k)
