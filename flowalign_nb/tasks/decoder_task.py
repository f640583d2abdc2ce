"""Baselines of tasks whose downstream model is a decoder trained on the target space's own items."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..analysis.downstream import fit_tuned_classifier
from ..data.model import labelled_mask
from .task import Task, TaskData


def accuracy(predicted, labels) -> float:
    """Share of ``predicted`` equal to ``labels``."""
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))


def source_only_accuracy(source: xr.DataArray, data: TaskData) -> dict:
    """The end-to-end baseline of recognition tasks: a tuned classifier fit on the labelled source items only.

    Parameters
    ----------
    source : DataArray, (n_src, d_src)
        The training source space; only items with ``is_labelled`` are used.
    data : TaskData
        Its ``source_test`` (with labels) is scored.

    Returns
    -------
    dict
        ``{"accuracy": share of source_test items classified correctly}``.
    """
    known = labelled_mask(source)
    decoder = fit_tuned_classifier(source.values[known], source["label"].values[known])
    return {"accuracy": accuracy(decoder.predict(data.source_test.values), data.source_test["label"].values)}


class DecoderTask(Task):
    """A task scored by ``data.extra["decoder"]``, a classifier fit on the target space's own items.

    ``end_to_end``: :func:`source_only_accuracy`;
    ``ceiling``: the target decoder on ``data.extra["target_test"]``. Both are accuracies.
    """

    metric = "accuracy"

    def end_to_end(self, source: xr.DataArray, data: TaskData) -> dict:
        return source_only_accuracy(source, data)

    def ceiling(self, data: TaskData) -> dict:
        test = data.extra["target_test"]
        return {"accuracy": accuracy(data.extra["decoder"].predict(test.values), test["label"].values)}
