"""Decoding on scikit-learn: cross-validated decoding within a space, and cross-modal transfer decoding.

Transfer decoding trains a decoder on the target space and tests it on source items transported
into that space, so it asks whether the aligned source lands where the target model expects each
class. Decoding here is an evaluation: it reads the ground-truth ``label`` coord of every item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binomtest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..data.model import RepresentationError, validate
from .inputs import NotApplicableError, as_repetitions, check_int, check_level, labels_of, plain, renamed_keywords


@dataclass(frozen=True)
class DecodingResult:
    """What :func:`decode` and :func:`transfer_decode` return.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``metric`` ("accuracy"), ``value``, ``ci_low``, ``ci_high`` (Wilson interval of
        the pooled test accuracy :math:`k/n`, :func:`scipy.stats.binomtest`), ``ci_level``,
        ``chance`` (:math:`1/C`), ``n_train`` (items each decoder was trained on: the smallest
        training fold, folds differing by a few items), ``n_test`` (pooled), ``n_classes``, ``n_folds`` and, for
        transfer decoding, ``padded``.
    scores : numpy.ndarray, shape (n_folds,)
        Accuracy on each test fold (one entry for transfer decoding).
    confusion : xarray.DataArray, dims ("true", "predicted"), shape (C, C)
        Counts of test items, summed over folds.
    """

    table: pd.DataFrame
    scores: np.ndarray
    confusion: xr.DataArray


def default_decoder():
    """The decoder used when none is given: ``StandardScaler`` then multinomial ``LogisticRegression(max_iter=2000)``."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def decode(rep, label: str = "label", cv: int = 5, seed: int = 0, estimator=None, ci: float = 0.95,
           **deprecated) -> DecodingResult:
    """Cross-validated decoding accuracy of the classes in coord ``label`` from a representation.

    Across the analysis API, ``label`` names the presentation coord with the classes and ``target`` is
    always a representation (the reference space), as in :func:`transfer_decode` and :func:`flowalign_nb.compare`.

    Folds are :class:`~sklearn.model_selection.StratifiedKFold` ``(cv, shuffle=True, random_state=seed)``;
    with repetitions, every presentation is one sample and the folds are
    :class:`~sklearn.model_selection.StratifiedGroupKFold` grouped by ``stimulus_id``, so no stimulus is
    in both train and test. The scores are those of
    :func:`sklearn.model_selection.cross_val_score` with the same estimator and folds.

    Parameters
    ----------
    rep : DataArray (n_stimuli, n_neuroids), or a list of them (repetitions of the same stimuli)
    label : str
        Presentation coord with the class of every item (formerly ``target=``, which still works for
        one release with a ``FutureWarning``).
    cv : int >= 2
        Folds; every class needs at least ``cv`` stimuli.
    seed : int
    estimator : scikit-learn classifier or None
        Cloned for each fold; default :func:`default_decoder`.
    ci : float in (0, 1)

    Returns
    -------
    DecodingResult
        ``value`` is the mean fold accuracy :math:`\\frac1F \\sum_f \\frac{1}{|T_f|}\\sum_{i \\in T_f} [\\hat y_i = y_i]`.

    Raises
    ------
    RepresentationError
        If ``label`` is missing; :class:`NotApplicableError` (a subclass) if a class has fewer than ``cv`` stimuli.
    ValueError
        For ``cv < 2``.
    """
    label = renamed_keywords("fa.decode", deprecated, target=("label", label, "label")).get("label", label)
    cv = check_int("cv", cv, 2)
    seed = check_int("seed", seed, 0)
    ci = check_level("ci", ci)
    reps = as_repetitions(rep, "rep")
    y_stim = labels_of(reps[0], label, "rep")
    classes, counts = np.unique(y_stim, return_counts=True)
    if len(classes) < 2:
        raise RepresentationError(f"decoding needs at least 2 classes in {label!r}; found {plain(classes)}")
    if counts.min() < cv:
        raise NotApplicableError(  # too little data for this analysis; compare() skips it with this note
            f"class {plain(classes[counts.argmin()])!r} has {counts.min()} stimuli; cv={cv} folds need at least {cv} per class"
        )
    x = np.concatenate([r.values for r in reps])
    y = np.tile(y_stim, len(reps))
    if len(reps) > 1:
        folds, groups = StratifiedGroupKFold(cv, shuffle=True, random_state=seed), np.tile(reps[0]["stimulus_id"].values, len(reps))
    else:
        folds, groups = StratifiedKFold(cv, shuffle=True, random_state=seed), None
    estimator = default_decoder() if estimator is None else estimator
    out = cross_validate(clone(estimator), x, y, groups=groups, cv=folds, return_estimator=True, return_indices=True)
    predicted = np.empty_like(y)
    for fitted, test in zip(out["estimator"], out["indices"]["test"]):
        predicted[test] = fitted.predict(x[test])
    scores = np.asarray(out["test_score"], dtype=np.float64)
    n_train = min(len(train) for train in out["indices"]["train"])  # folds differ by a few items
    return _result(y, predicted, classes, scores, ci, n_train=n_train, n_folds=cv)


def transfer_decode(moved: xr.DataArray, target: xr.DataArray, label: str = "label", estimator=None,
                    pad: bool = False, ci: float = 0.95) -> DecodingResult:
    """Cross-modal transfer decoding: train on the target space, test on transported source items.

    The decoder is fit on every item of ``target`` with its ``label`` and scored on ``moved``
    (typically ``aligner.transform(source_test)``). Before alignment, pass the source itself with
    ``pad=True``: a source with fewer neuroids is zero-padded, :math:`x \\mapsto (x, 0_{d_t - d_s})`,
    the naive baseline.

    Parameters
    ----------
    moved : DataArray (n, d_t), or (n, d_s) with d_s <= d_t when ``pad``
        Messages call it by its ``name`` (``compare`` names its inputs ``"source"`` and
        ``"moved"``), else ``"moved"``.
    target : DataArray (m, d_t)
    label : str
        Presentation coord with the class of every item, in both inputs.
    estimator : scikit-learn classifier or None
        Default :func:`default_decoder`.
    pad : bool
        Zero-pad ``moved`` to the target's neuroid count.
    ci : float in (0, 1)

    Returns
    -------
    DecodingResult
        ``value`` :math:`= \\frac1n \\sum_i [\\hat y(\\text{moved}_i) = y_i]`.

    Raises
    ------
    NotApplicableError
        If ``moved`` has more neuroids than ``target`` (a :class:`RepresentationError`; compare() skips it).
    RepresentationError
        If the neuroid counts differ and ``pad`` is False, or ``moved`` has classes that ``target`` lacks.
    """
    ci = check_level("ci", ci)
    validate(moved)
    validate(target)
    name = moved.name if isinstance(moved.name, str) and moved.name else "moved"
    y_train, y_test = labels_of(target, label, "target"), labels_of(moved, label, name)
    x = moved.values
    d_s, d_t = moved.sizes["neuroid"], target.sizes["neuroid"]
    if pad and d_s < d_t:
        x = np.concatenate([x, np.zeros((len(x), d_t - d_s), dtype=x.dtype)], axis=1)
    elif d_s > d_t:  # a decoder of the target cannot read a wider space: the before-alignment row is skipped
        raise NotApplicableError(f"{name} has {d_s} neuroids but target has {d_t}; a decoder of the target cannot read it")
    elif d_s != d_t:
        raise RepresentationError(f"{name} has {d_s} neuroids but target has {d_t}; pass pad=True to zero-pad a narrower "
                                  "source (the before-alignment baseline)")
    classes = np.unique(y_train)
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if len(unknown):
        raise RepresentationError(f"{name} has class(es) {plain(unknown)} that target lacks; target classes: {plain(classes)}")
    decoder = clone(default_decoder() if estimator is None else estimator).fit(target.values, y_train)
    predicted = decoder.predict(x)
    scores = np.array([np.mean(predicted == y_test)])
    result = _result(y_test, predicted, classes, scores, ci, n_train=len(y_train), n_folds=1)
    result.table["padded"] = bool(pad and d_s < d_t)
    return result


def _result(y, predicted, classes, scores, ci, n_train, n_folds) -> DecodingResult:
    correct = int(np.sum(predicted == y))
    interval = binomtest(correct, len(y)).proportion_ci(confidence_level=ci, method="wilson")
    table = pd.DataFrame([{
        "metric": "accuracy", "value": float(scores.mean()), "ci_low": float(interval.low),
        "ci_high": float(interval.high), "ci_level": ci, "chance": 1.0 / len(classes), "n_train": n_train,
        "n_test": len(y), "n_classes": len(classes), "n_folds": n_folds,
    }])
    confusion = xr.DataArray(confusion_matrix(y, predicted, labels=classes), dims=("true", "predicted"),
                             coords={"true": classes, "predicted": classes.copy()})
    return DecodingResult(table, scores, confusion)
