r"""Neural predictivity in the Brain-Score manner: cross-validated PLS from features to each neuroid.

Two protocols; both fit a :class:`sklearn.cross_decomposition.PLSRegression` with 25 components
(``scale=False``, ``max_iter=2000``) from model features :math:`X` to the neural responses :math:`Y` (averaged
over repetitions) on the training stimuli of a split :math:`s`, and score neuroid :math:`j` on the held-out
stimuli :math:`T_s` by the Pearson :math:`r_{sj} = r(\hat Y_{T_s j}, Y_{T_s j})`.

``protocol="brainscore"`` (default), as Brain-Score computes neural predictivity: ``cv`` (10) random
90/10 splits stratified by object label (:class:`~sklearn.model_selection.StratifiedShuffleSplit`, seeded);
the split's score is the median over neuroids, the raw score the mean over splits,
:math:`\text{raw} = \frac1S \sum_s \operatorname{median}_j r_{sj}`. The ceiling is the split-half internal
consistency with equal halves: split :math:`s` draws two disjoint halves of :math:`\lfloor R/2 \rfloor`
repetitions each, :math:`c_{sj} = r(\bar Y^{(1)}_{\cdot j}, \bar Y^{(2)}_{\cdot j})` over stimuli, corrected by
Spearman-Brown :math:`\tilde c_{sj} = 2 c_{sj} / (1 + c_{sj})`; ceiling :math:`= \frac1S \sum_s \operatorname{median}_j \tilde c_{sj}`;
ceiled score = raw / ceiling.

``protocol="kfold"`` (this module's earlier variant): ``cv`` stratified folds; the neuroid's score is the mean
over folds :math:`r_j = \frac1F \sum_f r_{fj}` and the raw score their median; the ceiling is the median over
neuroids of the split-averaged :math:`\tilde c_j` (halves of :math:`\lfloor R/2 \rfloor` and the rest).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import ConstantInputWarning, bootstrap, pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from ..data.model import RepresentationError, validate
from .inputs import as_repetitions, check_choice, check_int, check_level, labels_of, plain, select, shared_stimuli

#: NIPALS iterations per component (scikit-learn's 500 stops short on some noisy folds)
PLS_MAX_ITER = 2000
PROTOCOLS = ("brainscore", "kfold")


@dataclass(frozen=True)
class PredictivityResult:
    """What :func:`predictivity` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``metric`` = ``"r"`` (the raw score of the protocol) and, with repetitions, ``"ceiled_r"``
        (raw / ceiling); columns ``value``, ``ci_low``, ``ci_high`` (percentile bootstrap, :func:`scipy.stats.bootstrap`:
        of the mean over splits of the split medians for ``brainscore``, of the median over neuroids for
        ``kfold``; divided by the ceiling for ``ceiled_r``), ``ci_level``, ``ceiling``, ``protocol``,
        ``n_components``, ``n_folds`` (splits), ``n_stimuli``, ``n_neuroids``, ``n_repetitions``.
    r : xarray.DataArray, dims ("neuroid",)
        :math:`r_j`, the neuroid's mean over splits, NaN for a neuroid whose held-out responses or predictions are constant.
    consistency : xarray.DataArray, dims ("neuroid",), or None
        Spearman-Brown corrected split-half consistency, averaged over splits (None without repetitions).
    split_scores : numpy.ndarray, shape (n_splits,)
        ``brainscore``: each split's median over neuroids (``kfold``: each fold's median, for reference).
    """

    table: pd.DataFrame
    r: xr.DataArray
    consistency: xr.DataArray | None
    split_scores: np.ndarray


def predictivity(features: xr.DataArray, neural, n_components: int = 25, cv: int = 10, seed: int = 0,
                 stratify: str | None = "label", ceiling_splits: int = 10, ci: float = 0.95,
                 protocol: str = "brainscore", test_size: float = 0.1) -> PredictivityResult:
    """How well ``features`` predict each neuroid of ``neural`` (see the module docstring).

    Parameters
    ----------
    features : DataArray (n_stimuli, d)
        Model features; matched to ``neural`` by ``stimulus_id``.
    neural : DataArray (n_stimuli, n_neuroids), or a list of them (repetitions)
    n_components : int
        PLS components, at most ``d`` and the smallest training fold (the number used is reported).
    cv : int >= 2
        Splits: random train/test splits (``brainscore``) or folds (``kfold``).
    seed : int
        Seeds the splits, the split halves and the bootstrap.
    stratify : str or None
        Presentation coord of ``neural`` to stratify splits by (the object label); None for plain
        shuffled splits.
    ceiling_splits : int >= 1
        Random split halves averaged for the ceiling.
    ci : float in (0, 1)
    protocol : {"brainscore", "kfold"}
        See the module docstring.
    test_size : float in (0, 1)
        ``brainscore``: the held-out share of each split (Brain-Score: 0.1).

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
    check_choice("protocol", protocol, PROTOCOLS)
    test_size = check_level("test_size", test_size)
    validate(features)
    reps = as_repetitions(neural, "neural")
    ids = shared_stimuli(reps[0]["stimulus_id"].values, features["stimulus_id"].values, cv, "predictivity")
    reps = [select(r, ids) for r in reps]
    x = select(features, ids).values.astype(np.float64)
    y = np.mean([r.values for r in reps], axis=0).astype(np.float64)
    groups = None if stratify is None else labels_of(reps[0], stratify, "neural")
    folds = _splits(x, groups, stratify, protocol, cv, test_size, seed)
    n_used = min(n_components, x.shape[1], min(len(train) for train, _ in folds))
    per_split = []
    for train, test in folds:
        model = PLSRegression(n_components=n_used, scale=False, max_iter=PLS_MAX_ITER).fit(x[train], y[train])
        per_split.append(_pearson(model.predict(x[test]), y[test]))
    per_split = np.array(per_split)
    r = np.mean(per_split, axis=0)
    split_scores = np.nanmedian(per_split, axis=1)
    if len(reps) > 1:
        per_split_consistency = split_half_consistencies(reps, ceiling_splits, seed, equal=protocol == "brainscore")
        consistency = per_split_consistency.mean(axis=0)
        ceiling = float(np.mean(np.nanmedian(per_split_consistency, axis=1)) if protocol == "brainscore"
                        else np.nanmedian(consistency))
    else:
        consistency, ceiling = None, np.nan
    if protocol == "brainscore":
        raw, low, high = brainscore_score(per_split), *_mean_ci(split_scores, ci, seed)
    else:
        raw, low, high = _median_with_ci(r, ci, seed)
    common = {"ci_level": ci, "ceiling": ceiling, "protocol": protocol, "n_components": n_used, "n_folds": cv,
              "n_stimuli": len(ids), "n_neuroids": len(r), "n_repetitions": len(reps)}
    rows = [{"metric": "r", "value": raw, "ci_low": low, "ci_high": high, **common}]
    if consistency is not None:
        rows.append({"metric": "ceiled_r", "value": raw / ceiling, "ci_low": low / ceiling, "ci_high": high / ceiling, **common})
    neuroid = {name: c for name, c in reps[0].coords.items() if c.dims == ("neuroid",)}
    as_xr = lambda v: xr.DataArray(v, dims=("neuroid",), coords=neuroid)
    return PredictivityResult(pd.DataFrame(rows), as_xr(r), None if consistency is None else as_xr(consistency), split_scores)


def brainscore_score(per_split: np.ndarray) -> float:
    """Brain-Score's aggregation: the median over neuroids within each split, then the mean over splits.

    Parameters
    ----------
    per_split : numpy.ndarray, shape (n_splits, n_neuroids)
        :math:`r_{sj}` (NaN for a constant neuroid, left out of its split's median).

    Returns
    -------
    float
        :math:`\\frac1S \\sum_s \\operatorname{median}_j r_{sj}`.
    """
    return float(np.mean(np.nanmedian(per_split, axis=1)))


def _splits(x, groups, stratify, protocol, cv, test_size, seed) -> list:
    """The (train, test) index pairs of the protocol, stratified by ``groups`` when given."""
    if groups is not None:
        classes, counts = np.unique(groups, return_counts=True)
        need = cv if protocol == "kfold" else 2
        if counts.min() < need:
            what = f"cv={cv} folds" if protocol == "kfold" else "stratified 90/10 splits"
            raise RepresentationError(
                f"{stratify} {plain(classes[counts.argmin()])!r} has {counts.min()} shared stimuli; {what} "
                f"stratified by {stratify!r} need at least {need} per class (lower cv or pass stratify=None)"
            )
    if protocol == "kfold":
        splitter = KFold(cv, shuffle=True, random_state=seed) if groups is None else StratifiedKFold(cv, shuffle=True, random_state=seed)
    else:
        kind = ShuffleSplit if groups is None else StratifiedShuffleSplit
        splitter = kind(n_splits=cv, test_size=test_size, random_state=seed)
    try:
        return list(splitter.split(x, groups))
    except ValueError as exc:  # e.g. a test share smaller than the number of classes
        raise RepresentationError(f"predictivity cannot split {len(x)} stimuli with test_size={test_size} "
                                  f"stratified by {stratify!r}: {exc}") from None


def split_half_consistencies(reps: list[xr.DataArray], splits: int, seed: int, equal: bool = True) -> np.ndarray:
    """Spearman-Brown corrected split-half consistency of each neuroid, on each of ``splits`` random splits.

    Split :math:`s` permutes the :math:`R` repetitions with ``numpy.random.default_rng(seed)`` and averages the
    first :math:`h = \\lfloor R/2 \\rfloor` and the next :math:`h` (``equal``; the rest when not), and takes
    :math:`\\tilde c_{sj} = 2 c_{sj} / (1 + c_{sj})` of the Pearson :math:`c_{sj}` between the halves over stimuli.

    Parameters
    ----------
    reps : list of DataArray, each (n_stimuli, n_neuroids), same stimulus order, length R >= 2
    splits : int
    seed : int
    equal : bool
        Halves of equal size (an odd repetition left out of that split).

    Returns
    -------
    numpy.ndarray, shape (splits, n_neuroids)
    """
    rng = np.random.default_rng(seed)
    values = np.stack([r.values for r in reps]).astype(np.float64)
    half = len(reps) // 2
    out = []
    for _ in range(splits):
        order = rng.permutation(len(reps))
        second = order[half: 2 * half] if equal else order[half:]
        c = _pearson(values[order[:half]].mean(0), values[second].mean(0))
        out.append(2 * c / (1 + c))
    return np.array(out)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``a`` with the same column of ``b`` (NaN for constant columns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return np.array([pearsonr(a[:, j], b[:, j])[0] for j in range(a.shape[1])])


def _mean_ci(scores: np.ndarray, ci: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of the finite split ``scores``."""
    finite = scores[np.isfinite(scores)]
    if len(finite) < 2 or np.ptp(finite) == 0:
        return np.nan, np.nan
    interval = bootstrap((finite,), np.mean, confidence_level=ci, method="percentile",
                         random_state=np.random.default_rng(seed)).confidence_interval
    return float(interval.low), float(interval.high)


def _median_with_ci(r: np.ndarray, ci: float, seed: int) -> tuple[float, float, float]:
    """Median of the finite ``r`` and its percentile bootstrap interval over neuroids."""
    finite = r[np.isfinite(r)]
    median = float(np.median(finite)) if len(finite) else np.nan
    if len(finite) < 2 or np.ptp(finite) == 0:
        return median, np.nan, np.nan
    interval = bootstrap((finite,), np.median, confidence_level=ci, method="percentile",
                         random_state=np.random.default_rng(seed)).confidence_interval
    return median, float(interval.low), float(interval.high)
