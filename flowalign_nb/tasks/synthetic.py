"""A synthetic pair of latent spaces with a known relation: the built-in task for tests and the demo.

Source points of class ``k`` are ``x = mu_k + A_k z`` in ``R^{d_src}`` (Gaussian clusters with
class-specific anisotropic spread). Target points are drawn independently from the same class
distributions and mapped by a random orthogonal embedding ``Q`` (``d_tgt x d_src``, ``Q^T Q = I``)
followed by a nonlinear warp, ``y = w(Q x)`` with ``w(u) = u + warp * sin(u)`` elementwise, plus
isotropic noise. Source and target items are different draws with their own stimulus ids, so
nothing is paired by construction; only class identity links them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.stats import ortho_group

from ..analysis.downstream import fit_tuned_classifier, nearest_class_mean_accuracy
from ..data.model import labelled_mask, make_representation
from .task import Task, TaskData
from ..hookspecs import hookimpl


@dataclass
class SyntheticPair:
    """Train and test representations of both spaces plus the true embedding."""

    source: xr.DataArray
    target: xr.DataArray
    source_test: xr.DataArray
    target_test: xr.DataArray
    embedding: np.ndarray  # Q, shape (d_tgt, d_src)

    def __repr__(self) -> str:
        """Shapes only, e.g. ``SyntheticPair(source: 2000 presentations x 16 neuroids, target: 2000 x 24, ...)``."""
        first, *others = (f"{name}: {' x '.join(map(str, getattr(self, name).shape))}"
                          for name in ("source", "target", "source_test", "target_test"))
        first = first.replace(" x ", " presentations x ") + " neuroids"
        return f"SyntheticPair({', '.join([first, *others])}, embedding: {self.embedding.shape})"


def make_synthetic_pair(n_train: int = 2000, n_test: int = 500, source_dim: int = 16, target_dim: int = 24,
                        n_classes: int = 5, separation: float = 1.0, warp: float = 1.0, noise: float = 0.1,
                        seed: int = 0) -> SyntheticPair:
    """Draw a synthetic source/target pair (see the module docstring).

    Parameters
    ----------
    n_train, n_test : int
        Items per space in the train and test sets.
    source_dim, target_dim : int
        ``target_dim >= source_dim`` (the embedding is injective).
    n_classes : int
    separation : float
        Scale of the class means relative to the unit within-class spread.
    warp, noise : float
    seed : int

    Returns
    -------
    SyntheticPair
        Representations with ``label`` coords and ``is_labelled`` all False (use
        :func:`flowalign_nb.mask_labels`).
    """
    if target_dim < source_dim:
        raise ValueError(f"target_dim={target_dim} must be >= source_dim={source_dim}")
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=separation, size=(n_classes, source_dim))
    spreads = rng.normal(scale=1.0 / np.sqrt(source_dim), size=(n_classes, source_dim, source_dim))
    embedding = ortho_group.rvs(target_dim, random_state=rng)[:, :source_dim]

    def draw(n):
        labels = np.arange(n) % n_classes
        z = rng.normal(size=(n, source_dim))
        return means[labels] + np.einsum("nij,nj->ni", spreads[labels], z), labels

    def source_rep(n, prefix):
        x, labels = draw(n)
        return make_representation(x, [f"{prefix}{i}" for i in range(n)], labels,
                                   neuroid_id=[f"src{j}" for j in range(source_dim)], modality="synthetic", model="source")

    def target_rep(n, prefix):
        x, labels = draw(n)
        u = x @ embedding.T
        y = u + warp * np.sin(u) + noise * rng.normal(size=u.shape)
        return make_representation(y, [f"{prefix}{i}" for i in range(n)], labels,
                                   neuroid_id=[f"tgt{j}" for j in range(target_dim)], modality="synthetic", model="target")

    return SyntheticPair(
        source=source_rep(n_train, "src-train-"),
        target=target_rep(n_train, "tgt-train-"),
        source_test=source_rep(n_test, "src-test-"),
        target_test=target_rep(n_test, "tgt-test-"),
        embedding=embedding,
    )


class SyntheticTask(Task):
    """The synthetic pair as a task: recognition by the nearest target class mean.

    The downstream "frozen head" assigns a transported item to the nearest class mean of the target
    training items (computed with their ground-truth labels: an evaluation oracle, never seen by a
    fit). End-to-end: a tuned logistic regression on the labelled source items. Ceiling: the head on
    held-out target items.

    Parameters
    ----------
    **options
        Passed to :func:`make_synthetic_pair` (``seed`` comes from the sweep).
    """

    def __init__(self, **options):
        self.options = options

    def load(self, seed):
        pair = make_synthetic_pair(seed=seed, **self.options)
        return TaskData(pair.source, pair.target, pair.source_test, extra={"target_test": pair.target_test})

    def score(self, moved, data):
        return {"accuracy": nearest_class_mean_accuracy(moved, data.target)}

    def end_to_end(self, source, data):
        known = labelled_mask(source)
        clf = fit_tuned_classifier(source.values[known], source["label"].values[known])
        return {"accuracy": float(np.mean(clf.predict(data.source_test.values) == data.source_test["label"].values))}

    def ceiling(self, data):
        return {"accuracy": nearest_class_mean_accuracy(data.extra["target_test"], data.target)}


@hookimpl
def flowalign_register_tasks(registry):
    registry.add("synthetic", SyntheticTask, description="16-d -> 24-d synthetic spaces (orthogonal embedding + sine warp), 5 classes")
