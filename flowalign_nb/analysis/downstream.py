"""Downstream scores of transported representations."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..data.model import validate


def nearest_class_mean_accuracy(moved: xr.DataArray, reference: xr.DataArray) -> float:
    """Share of ``moved`` items whose nearest ``reference`` class mean is their own class.

    The class means come from all ``reference`` items with their ground-truth ``label`` (an
    evaluation oracle, never used in fitting); ``moved`` items are scored against their own ``label``.

    Parameters
    ----------
    moved : DataArray, (n, d)
        Transported items with a ``label`` coord.
    reference : DataArray, (m, d)
        Items of the target space with a ``label`` coord.

    Returns
    -------
    float in [0, 1]
    """
    validate(moved)
    validate(reference)
    if moved.sizes["neuroid"] != reference.sizes["neuroid"]:
        raise ValueError(f"moved has {moved.sizes['neuroid']} neuroids, reference {reference.sizes['neuroid']}")
    classes = np.unique(reference["label"].values)
    means = np.stack([reference.values[reference["label"].values == c].mean(0) for c in classes])
    dist = ((moved.values[:, None, :] - means[None]) ** 2).sum(-1)
    return float(np.mean(classes[dist.argmin(1)] == moved["label"].values))


def fit_tuned_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """Multinomial logistic regression with ``C`` chosen by stratified cross-validation on ``(x, y)``.

    The end-to-end baseline of the evaluation protocol: a fair, tuned head trained on the labelled
    items only. With fewer than two items in some class, cross-validation is impossible and ``C = 1``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
    y : ndarray, shape (n,)

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``StandardScaler`` then the fitted classifier.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, counts = np.unique(y, return_counts=True)
    folds = int(min(5, counts.min()))
    if folds >= 2:
        head = GridSearchCV(LogisticRegression(max_iter=2000), {"C": np.logspace(-3, 2, 6).tolist()},
                            cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    else:
        head = LogisticRegression(C=1.0, max_iter=2000)
    return make_pipeline(StandardScaler(), head).fit(x, y)
