"""``mnist_effnet_to_cnn``: recognition, EfficientNet-Lite0 features -> the MNIST CNN's space and frozen head.

MNIST-5k is split per seed into disjoint source, target and held-out test images (per class:
``n_source``, ``n_target``, ``n_test``), so no item is paired by construction. Source: pooled
EfficientNet-Lite0 features of the source images (a middle block; digits upsampled to
``image_size``). Target: the MNIST CNN's penultimate features of the target images. A method
transports the held-out images' source features into the CNN space and the CNN's frozen head
classifies them.

End-to-end: a logistic-regression head on the labelled source items only, ``C`` chosen by
stratified cross-validation on those items. Ceiling: the CNN head on the held-out images' own CNN
features.
"""

from __future__ import annotations

import numpy as np

from flowalign_nb.analysis.downstream import fit_tuned_classifier
from flowalign_nb.data.model import labelled_mask
from flowalign_nb.tasks.task import Task, TaskData
from flowalign_nb.data.represent import represent

from .extraction import check_positive_int
from .mnist import load_mnist5k, pool_indices, split_per_class
from .mnist_cnn import MnistCNN


class MnistEffnetToCnn(Task):
    """Recognition task: EfficientNet-Lite0 -> MNIST CNN (see the module docstring).

    Parameters
    ----------
    n_source, n_target, n_test : int
        Images per class in each part (500 per class exist; the pool is the first
        ``n_source + n_target + n_test`` of each class, whose features are cached once).
    source_layer : str
        EfficientNet-Lite0 layer (``"block10"``: 112-d, pooled).
    image_size : int
        Side in pixels the 28 x 28 digits are upsampled to for EfficientNet.
    progress : bool
        Progress bars during feature extraction.
    """

    metric = "accuracy"

    def __init__(self, n_source: int = 200, n_target: int = 200, n_test: int = 100, source_layer: str = "block10",
                 image_size: int = 64, progress: bool = True):
        self.counts = {p: check_positive_int(f"n_{p}", v) for p, v in (("source", n_source), ("target", n_target), ("test", n_test))}
        self.source_layer, self.image_size, self.progress = source_layer, image_size, progress
        self.cnn = MnistCNN(progress=progress)

    def load(self, seed: int) -> TaskData:
        stimuli = load_mnist5k()
        pool = stimuli.iloc[pool_indices(stimuli["label"].to_numpy(), sum(self.counts.values()))].reset_index(drop=True)
        source = represent("efficientnet_lite", pool, variant="lite0", layer=self.source_layer, image_size=self.image_size,
                           preprocess="digit", progress=self.progress)
        target = represent("mnist_cnn", pool, layer="penultimate", progress=self.progress)
        parts = split_per_class(pool["label"].to_numpy(), self.counts, seed)
        return TaskData(source.isel(presentation=parts["source"]), target.isel(presentation=parts["target"]),
                        source.isel(presentation=parts["test"]), extra={"target_test": target.isel(presentation=parts["test"])})

    def score(self, moved, data) -> dict:
        return {"accuracy": float(np.mean(self.cnn.predict(moved) == moved["label"].values))}

    def end_to_end(self, source, data) -> dict:
        known = labelled_mask(source)
        clf = fit_tuned_classifier(source.values[known], source["label"].values[known])
        return {"accuracy": float(np.mean(clf.predict(data.source_test.values) == data.source_test["label"].values))}

    def ceiling(self, data) -> dict:
        return self.score(data.extra["target_test"], data)
