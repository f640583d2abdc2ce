"""Task ``kriegeskorte92_it_to_effnet``: real monkey IT (92 images) -> EfficientNet-Lite0 block features.

Source: the monkey IT RDM (Kiani et al. 2007, 674 neurons) as classical-MDS points
(:mod:`flowalign_neural.kriegeskorte`), by default its 10 leading dimensions: fits and decoders
z-score every feature, which would blow the ~80 trailing, low-variance MDS dimensions up to the
weight of the leading ones (cross-validated 6-way decoding of monkey IT falls from 0.80 with 10
dimensions to 0.23 with all 91). Target: EfficientNet-Lite0 features of the same 92 images
at ``layer`` (the vision plugin's ``efficientnet_lite`` modality). Seeds are folds of a stratified
``n_folds``-fold cross-validation (seed ``s`` is fold ``s % n_folds`` of the shuffle
``s // n_folds``): the training items of both spaces are the other folds' images, the held-out
items are this fold's.

Downstream: 6-way category decoding of transported held-out items by a logistic-regression
decoder trained on the target's training items (``C`` by cross-validation; an evaluation oracle
that no fit sees). Also RSA (Spearman of RDMs over the held-out items) against the target's
correlation-distance RDM, before alignment (the monkey IT RDM itself, not its MDS approximation)
and after (the transported items' correlation-distance RDM). End-to-end: the same decoder trained on the labelled IT items.
Ceiling: the target decoder on the target's own held-out items.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import xarray as xr
from sklearn.model_selection import StratifiedKFold

from flowalign_nb import TaskData, make, represent
from flowalign_nb.tasks.modality_pair import split_with_target_decoder

from flowalign_nb.tasks.decoder_task import DecoderTask
from flowalign_nb.tasks.decoder_task import accuracy
from .kriegeskorte import Kriegeskorte92Modality
from .similarity import correlation_rdm, rsa_spearman


class Kriegeskorte92ITToEffNetTask(DecoderTask):
    """Monkey IT -> EfficientNet-Lite0 block features on the 92 images (see the module docstring).

    Parameters
    ----------
    layer : str
        EfficientNet-Lite0 layer (``"block12"`` correlates best with monkey IT).
    rdm : str
        Source RDM of the 92-image set (``"monkey_it"``, ``"human_it"``, ...).
    n_components : int or None
        MDS dimensions of the source (None: all 91; see the module docstring for the default 10).
    n_folds : int
        Cross-validation folds; sweep seeds ``0 .. n_folds - 1`` cover every image once.
    image_size : int
        EfficientNet input side (px).
    folder : path or None
        The 92-image files (see :func:`flowalign_neural.kriegeskorte.kriegeskorte92_folder`).
    progress : bool
    """

    metric = "accuracy"

    def __init__(self, layer: str = "block12", rdm: str = "monkey_it", n_components: int | None = 10, n_folds: int = 4,
                 image_size: int = 224, folder=None, progress: bool = True):
        if not isinstance(n_folds, int) or not 2 <= n_folds <= 12:
            raise ValueError(f"n_folds={n_folds!r} is not allowed; use an integer in [2, 12] (12 images per smallest category)")
        self.source_modality = Kriegeskorte92Modality(rdm=rdm, folder=folder, n_components=n_components)
        self.effnet_options = dict(variant="lite0", layer=layer, image_size=image_size, progress=progress)
        make("modality", "efficientnet_lite", **self.effnet_options)  # fails now, naming the options, if they are wrong
        self.n_folds = n_folds

    @cached_property
    def spaces(self) -> tuple[xr.DataArray, xr.DataArray]:
        """Monkey IT MDS points and EfficientNet features of the 92 images (feature-cached), same order."""
        stimuli = self.source_modality.stimuli()[["stimulus_id", "label", "image"]]
        return self.source_modality.represent(), represent("efficientnet_lite", stimuli, **self.effnet_options)

    def split(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and held-out positions of fold ``seed % n_folds`` of the shuffle ``seed // n_folds``."""
        labels = self.source_modality.stimuli()["label"].to_numpy()
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=seed // self.n_folds)
        return list(folds.split(np.zeros(len(labels)), labels))[seed % self.n_folds]

    def load(self, seed: int) -> TaskData:
        train, test = self.split(seed)
        data = split_with_target_decoder(*self.spaces, train, test)
        data.extra["source_rdm_test"] = self.source_modality.matrix[np.ix_(test, test)]
        return data

    def score(self, moved, data):
        target_rdm = correlation_rdm(data.extra["target_test"].values)
        return {
            "accuracy": accuracy(data.extra["decoder"].predict(moved.values), moved["label"].values),
            "rsa_after": rsa_spearman(correlation_rdm(moved.values), target_rdm),
            "rsa_before": rsa_spearman(data.extra["source_rdm_test"], target_rdm),
        }

