"""Downstream scores of transported representations."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..data import validate


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
