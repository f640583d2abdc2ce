"""Task ``it_to_cnn``: simulated IT responses to MNIST digits -> the MNIST CNN's feature space.

Source: the simulated IT population (:mod:`flowalign_neural.simulated`; driven by EfficientNet-Lite2,
a network that is not the target) on MNIST-5k, repetitions averaged. Target: the trained MNIST
CNN's features at ``cnn_layer`` (the vision plugin's ``mnist_cnn`` modality). Each seed draws
disjoint per-class sets of source images (IT responses), target images (CNN features) and
held-out test images (IT responses), so nothing is paired by construction.

Downstream: the CNN's frozen head on transported held-out IT items (accuracy of the digit).
End-to-end: a logistic-regression decoder trained on the labelled IT responses only, its ``C``
chosen by cross-validation on those items. Ceiling: the CNN's head on the test images' own CNN
features.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import xarray as xr

from flowalign_nb import Task, TaskData, make, represent
from flowalign_nb.tasks.decoder_task import accuracy, source_only_accuracy

from .simulated import SimulatedIT

PARTS = ("source", "target", "test")


def split_per_class(labels: np.ndarray, per_class: dict, seed: int) -> dict:
    """Disjoint random positions with ``per_class[part]`` items of every class for each part.

    Parameters
    ----------
    labels : numpy.ndarray, shape (n,)
    per_class : dict
        ``{"source": int, "target": int, "test": int}``.
    seed : int

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted positions into ``labels`` per part.
    """
    rng = np.random.default_rng(seed)
    parts = {p: [] for p in PARTS}
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        if sum(per_class.values()) > len(members):
            raise ValueError(f"class {c} has {len(members)} items; the split asks for {sum(per_class.values())} ({per_class})")
        start = 0
        for p in PARTS:
            parts[p].append(members[start:start + per_class[p]])
            start += per_class[p]
    return {p: np.sort(np.concatenate(v)) for p, v in parts.items()}


class ITToCNNTask(Task):
    """Simulated IT -> MNIST-CNN features; recognition with the CNN's frozen head (see the module docstring).

    Parameters
    ----------
    n_source, n_target, n_test : int
        Images per digit in each disjoint part (MNIST-5k has 500 per digit).
    cnn_layer : str
        MNIST-CNN layer of the target space (``"penultimate"``; the head runs from there).
    n_repetitions, population_seed, image_size : int
        Options of the simulated population (one ``population_seed`` is one simulated animal,
        the same for every sweep seed).
    n_images : int or None
        Use the first ``n_images // 10`` MNIST-5k images of each digit (None: all 5,000).
    cache_dir : path or None
        Where the simulation is cached (None: the default cache folder).
    progress : bool
    """

    metric = "accuracy"

    def __init__(self, n_source: int = 200, n_target: int = 200, n_test: int = 100, cnn_layer: str = "penultimate",
                 n_repetitions: int = 10, population_seed: int = 0, image_size: int = 96, n_images: int | None = None,
                 cache_dir=None, progress: bool = True):
        self.per_class = {"source": n_source, "target": n_target, "test": n_test}
        self.population = SimulatedIT(region="IT", n_repetitions=n_repetitions, seed=population_seed, n_images=n_images,
                                      image_size=image_size, cache_dir=cache_dir, progress=progress)
        self.cnn_options = dict(layer=cnn_layer, progress=progress)
        self.cnn = make("modality", "mnist_cnn", **self.cnn_options)

    @cached_property
    def spaces(self) -> tuple[xr.DataArray, xr.DataArray]:
        """IT responses and CNN features (feature-cached) of all the stimuli, same order."""
        stimuli = self.population.stimuli()
        return self.population.represent(), represent("mnist_cnn", stimuli[["stimulus_id", "label", "image"]], **self.cnn_options)

    def load(self, seed: int) -> TaskData:
        it, cnn = self.spaces
        parts = split_per_class(it["label"].values, self.per_class, seed)
        return TaskData(it.isel(presentation=parts["source"]), cnn.isel(presentation=parts["target"]),
                        it.isel(presentation=parts["test"]), extra={"target_test": cnn.isel(presentation=parts["test"])})

    def _head_accuracy(self, features: xr.DataArray) -> float:
        return accuracy(np.asarray(self.cnn.classes)[self.cnn.head(features).argmax(1)], features["label"].values)

    def score(self, moved, data):
        return {"accuracy": self._head_accuracy(moved)}

    def end_to_end(self, source, data):
        return source_only_accuracy(source, data)

    def ceiling(self, data):
        return {"accuracy": self._head_accuracy(data.extra["target_test"])}
