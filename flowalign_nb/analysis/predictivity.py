"""Neural predictivity in the Brain-Score manner: cross-validated PLS from features to each neuroid.

For each fold :math:`f` (stratified by object label), a :class:`sklearn.cross_decomposition.PLSRegression`
with 25 components (``scale=False``, ``max_iter=2000``) maps model features :math:`X` to the neural responses :math:`Y`
(averaged over repetitions); on the held-out stimuli, neuroid :math:`j` scores the Pearson
:math:`r_{fj} = r(\\hat Y_{T_f j}, Y_{T_f j})`. The neuroid's score is :math:`r_j = \\frac1F \\sum_f r_{fj}`
and the raw score their median. With repetitions, the ceiling is the split-half internal consistency:
the repetitions are split at random into two halves, :math:`c_j = r(\\bar Y^{(1)}_{\\cdot j}, \\bar Y^{(2)}_{\\cdot j})`
over stimuli, corrected by Spearman-Brown, :math:`\\tilde c_j = 2 c_j / (1 + c_j)`, averaged over
splits; the ceiling is the median of :math:`\\tilde c_j` and the ceiled score is raw / ceiling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import ConstantInputWarning, bootstrap, pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, StratifiedKFold

from ..data import RepresentationError, validate
from .inputs import as_repetitions, check_int, check_level, labels_of, plain, select, shared_stimuli

#: NIPALS iterations per component (scikit-learn's 500 stops short on some noisy folds)
PLS_MAX_ITER = 2000


@dataclass(frozen=True)
class PredictivityResult:
    """What :func:`predictivity` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``metric`` = ``"r"`` (median over neuroids of the cross-validated Pearson r) and, with
        repetitions, ``"ceiled_r"`` (r / ceiling); columns ``value``, ``ci_low``, ``ci_high`` (percentile
        bootstrap of the median over neuroids, :func:`scipy.stats.bootstrap`; divided by the ceiling
        for ``ceiled_r``), ``ci_level``, ``ceiling``, ``n_components``, ``n_folds``, ``n_stimuli``,
        ``n_neuroids``, ``n_repetitions``.
    r : xarray.DataArray, dims ("neuroid",)
        :math:`r_j`, NaN for a neuroid whose held-out responses or predictions are constant.
    consistency : xarray.DataArray, dims ("neuroid",), or None
        Spearman-Brown corrected split-half consistency :math:`\\tilde c_j` (None without repetitions).
    """

    table: pd.DataFrame
    r: xr.DataArray
    consistency: xr.DataArray | None


def predictivity(features: xr.DataArray, neural, n_components: int = 25, cv: int = 10, seed: int = 0,
                 stratify: str | None = "label", ceiling_splits: int = 10, ci: float = 0.95) -> PredictivityResult:
    """How well ``features`` predict each neuroid of ``neural`` (see the module docstring).

    Parameters
    ----------
    features : DataArray (n_stimuli, d)
        Model features; matched to ``neural`` by ``stimulus_id``.
    neural : DataArray (n_stimuli, n_neuroids), or a list of them (repetitions)
    n_components : int
        PLS components, at most ``d`` and the smallest training fold (the number used is reported).
    cv : int >= 2
        Folds.
    seed : int
        Seeds the folds, the split halves and the bootstrap.
    stratify : str or None
        Presentation coord of ``neural`` to stratify folds by (the object label); None for plain
        shuffled folds.
    ceiling_splits : int >= 1
        Random split halves averaged for the ceiling.
    ci : float in (0, 1)

    Returns
    -------
    PredictivityResult

    Raises
    ------
    NotApplicableError
        When the inputs share fewer than ``cv`` stimuli.
    RepresentationError
        When a class of ``stratify`` has fewer than ``cv`` stimuli, or the coord is missing.
    """
    n_components = check_int("n_components", n_components, 1)
    cv = check_int("cv", cv, 2)
    seed = check_int("seed", seed, 0)
    ceiling_splits = check_int("ceiling_splits", ceiling_splits, 1)
    ci = check_level("ci", ci)
    validate(features)
    reps = as_repetitions(neural, "neural")
    ids = shared_stimuli(reps[0]["stimulus_id"].values, features["stimulus_id"].values, cv, "predictivity")
    reps = [select(r, ids) for r in reps]
    x = select(features, ids).values.astype(np.float64)
    y = np.mean([r.values for r in reps], axis=0).astype(np.float64)
    if stratify is None:
        folds = list(KFold(cv, shuffle=True, random_state=seed).split(x))
    else:
        groups = labels_of(reps[0], stratify, "neural")
        classes, counts = np.unique(groups, return_counts=True)
        if counts.min() < cv:
            raise RepresentationError(
                f"{stratify} {plain(classes[counts.argmin()])!r} has {counts.min()} shared stimuli; cv={cv} folds "
                f"stratified by {stratify!r} need at least {cv} per class (lower cv or pass stratify=None)"
            )
        folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(x, groups))
    n_used = min(n_components, x.shape[1], min(len(train) for train, _ in folds))
    per_fold = []
    for train, test in folds:
        model = PLSRegression(n_components=n_used, scale=False, max_iter=PLS_MAX_ITER).fit(x[train], y[train])
        per_fold.append(_pearson(model.predict(x[test]), y[test]))
    r = np.mean(per_fold, axis=0)
    consistency = split_half_consistency(reps, ceiling_splits, seed) if len(reps) > 1 else None
    ceiling = float(np.nanmedian(consistency)) if consistency is not None else np.nan
    raw, low, high = _median_with_ci(r, ci, seed)
    common = {"ci_level": ci, "ceiling": ceiling, "n_components": n_used, "n_folds": cv, "n_stimuli": len(ids),
              "n_neuroids": len(r), "n_repetitions": len(reps)}
    rows = [{"metric": "r", "value": raw, "ci_low": low, "ci_high": high, **common}]
    if consistency is not None:
        rows.append({"metric": "ceiled_r", "value": raw / ceiling, "ci_low": low / ceiling, "ci_high": high / ceiling, **common})
    neuroid = {name: c for name, c in reps[0].coords.items() if c.dims == ("neuroid",)}
    as_xr = lambda v: xr.DataArray(v, dims=("neuroid",), coords=neuroid)
    return PredictivityResult(pd.DataFrame(rows), as_xr(r), None if consistency is None else as_xr(consistency))


def split_half_consistency(reps: list[xr.DataArray], splits: int, seed: int) -> np.ndarray:
    """Spearman-Brown corrected split-half consistency of each neuroid, averaged over random splits.

    Split :math:`s` permutes the :math:`R` repetitions with ``numpy.random.default_rng(seed)``, averages
    the first :math:`\\lfloor R/2 \\rfloor` and the rest, and takes
    :math:`\\tilde c_j = 2 c_j / (1 + c_j)` of the Pearson :math:`c_j` between the halves over stimuli.

    Parameters
    ----------
    reps : list of DataArray, each (n_stimuli, n_neuroids), same stimulus order, length R >= 2

    Returns
    -------
    numpy.ndarray, shape (n_neuroids,)
    """
    rng = np.random.default_rng(seed)
    values = np.stack([r.values for r in reps]).astype(np.float64)
    half = len(reps) // 2
    out = []
    for _ in range(splits):
        order = rng.permutation(len(reps))
        c = _pearson(values[order[:half]].mean(0), values[order[half:]].mean(0))
        out.append(2 * c / (1 + c))
    return np.mean(out, axis=0)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``a`` with the same column of ``b`` (NaN for constant columns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return np.array([pearsonr(a[:, j], b[:, j])[0] for j in range(a.shape[1])])


def _median_with_ci(r: np.ndarray, ci: float, seed: int) -> tuple[float, float, float]:
    """Median of the finite ``r`` and its percentile bootstrap interval over neuroids."""
    finite = r[np.isfinite(r)]
    median = float(np.median(finite)) if len(finite) else np.nan
    if len(finite) < 2 or np.ptp(finite) == 0:
        return median, np.nan, np.nan
    interval = bootstrap((finite,), np.median, confidence_level=ci, method="percentile",
                         random_state=np.random.default_rng(seed)).confidence_interval
    return median, float(interval.low), float(interval.high)
