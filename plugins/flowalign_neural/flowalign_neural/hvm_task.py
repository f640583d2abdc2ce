"""Task ``hvm_it_across_sites``: one population of real IT sites aligned to another, on disjoint images.

From the HvM IT subset (:mod:`flowalign_neural.hvm`; 640 images of 16 objects x 168 sites), seed ``s``
draws (``numpy.random.default_rng(s)``) two disjoint site populations A and B of 84 sites each, and splits
every object's 40 images into two disjoint halves of 20: population A is only ever read on its half, B on
the other, so no image is seen by both and nothing is paired (an across-animal or across-subject setting,
as hyperalignment faces). Within each half, 15 images per object train and 5 are held out.

Downstream: a 16-way object decoder (logistic regression, ``C`` by cross-validation) trained on B's own
training items, all labelled (an evaluation oracle no fit sees), scores A's held-out items after transport.
End-to-end: the same decoder trained on A's labelled training items, scored on A's held-out items. Ceiling:
B's decoder on B's held-out items. Ridge / Procrustes fall back to the labelled class means (nothing is paired).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import xarray as xr

from flowalign_nb import TaskData
from flowalign_nb.analysis.downstream import fit_tuned_classifier

from .hvm import IMAGES_PER_OBJECT, N_OBJECTS, load_hvm_it
from flowalign_nb.tasks.decoder_task import DecoderTask
from flowalign_nb.tasks.decoder_task import accuracy


class HvMAcrossSitesTask(DecoderTask):
    """IT site population A -> population B on disjoint images (see the module docstring).

    Parameters
    ----------
    n_train : int
        Training images per object in each half (the rest of the half's 20 are held out).
    folder : path or None
        The HvM subset folder (:func:`flowalign_neural.hvm.hvm_it_folder`).
    """

    metric = "accuracy"

    def __init__(self, n_train: int = 15, folder=None):
        half = IMAGES_PER_OBJECT // 2
        if isinstance(n_train, bool) or not isinstance(n_train, int) or not 2 <= n_train <= half - 1:
            raise ValueError(f"n_train={n_train!r} is not allowed; use an integer in [2, {half - 1}] (20 images per object and half)")
        self.n_train, self.folder = n_train, folder

    @cached_property
    def responses(self) -> xr.DataArray:
        return load_hvm_it(self.folder)

    def split(self, seed: int) -> dict:
        """Positions for ``seed``: ``sites_a``, ``sites_b`` (84 each) and image rows ``a_train``, ``a_test``, ``b_train``, ``b_test``."""
        rng = np.random.default_rng(seed)
        n_sites = self.responses.sizes["neuroid"]
        sites = rng.permutation(n_sites)
        out = {"sites_a": np.sort(sites[: n_sites // 2]), "sites_b": np.sort(sites[n_sites // 2:])}
        parts = {name: [] for name in ("a_train", "a_test", "b_train", "b_test")}
        half = IMAGES_PER_OBJECT // 2
        for k in range(N_OBJECTS):
            rows = k * IMAGES_PER_OBJECT + rng.permutation(IMAGES_PER_OBJECT)
            for side, block in (("a", rows[:half]), ("b", rows[half:])):
                parts[f"{side}_train"].append(block[: self.n_train])
                parts[f"{side}_test"].append(block[self.n_train:])
        return {**out, **{name: np.concatenate(rows) for name, rows in parts.items()}}

    def load(self, seed: int) -> TaskData:
        s = self.split(seed)
        take = lambda rows, sites: self.responses.isel(presentation=rows, neuroid=sites)
        target, target_test = take(s["b_train"], s["sites_b"]), take(s["b_test"], s["sites_b"])
        decoder = fit_tuned_classifier(target.values, target["label"].values)
        return TaskData(source=take(s["a_train"], s["sites_a"]), target=target, source_test=take(s["a_test"], s["sites_a"]),
                        extra={"target_test": target_test, "decoder": decoder})

    def score(self, moved, data):
        return {"accuracy": accuracy(data.extra["decoder"].predict(moved.values), moved["label"].values)}

