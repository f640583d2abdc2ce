"""Baselines shared by the neural tasks whose downstream model is a decoder trained on the target space."""

from __future__ import annotations

import xarray as xr

from flowalign_nb import Task, TaskData
from flowalign_nb.analysis.downstream import fit_tuned_classifier
from flowalign_nb.data.model import labelled_mask

from .it_to_cnn import accuracy


class DecoderTask(Task):
    """A task scored by ``data.extra["decoder"]``, a classifier fit on the target space's own items.

    ``end_to_end``: a tuned classifier on the labelled source items only, scored on ``data.source_test``;
    ``ceiling``: the target decoder on ``data.extra["target_test"]``. Both are accuracies.
    """

    metric = "accuracy"

    def end_to_end(self, source: xr.DataArray, data: TaskData) -> dict:
        known = labelled_mask(source)
        decoder = fit_tuned_classifier(source.values[known], source["label"].values[known])
        return {"accuracy": accuracy(decoder.predict(data.source_test.values), data.source_test["label"].values)}

    def ceiling(self, data: TaskData) -> dict:
        test = data.extra["target_test"]
        return {"accuracy": accuracy(data.extra["decoder"].predict(test.values), test["label"].values)}
