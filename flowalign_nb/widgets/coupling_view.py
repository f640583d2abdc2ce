"""CouplingView: the plan training sampled pairs from, as a heatmap ordered by class."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import xarray as xr

from ..analysis.coupling_plan import same_class_share, training_plan_view
from ..runs.plots import plot_plan
from .figures import png

__all__ = ["CouplingView", "same_class_share"]


class CouplingView(W.VBox):
    """The plan a fitted aligner's training sampled from, ordered by ground-truth class.

    The restriction of the coupling's full plan to random items when training drew every batch
    from one, otherwise the plan of the last training minibatch (see
    :func:`flowalign_nb.analysis.coupling_plan.training_plan_view`); the figure and caption say
    which. Ground-truth ``label`` coords are used only to order and score the picture, never by the fit.

    Parameters
    ----------
    aligner : FlowAligner
        A fitted aligner (its ``coupling_`` draws the plan).
    source, target : DataArray
        The training representations the aligner was fitted on, with ``label`` coords.
    batch_size : int
        Items shown per space (at most; a smaller training minibatch is shown whole).
    seed : int
        Seeds which items are shown; **Redraw** moves to the next seed.

    Attributes
    ----------
    plan : ndarray, (n_src, n_tgt)
        The plan shown, rows and columns ordered by class, renormalised to sum 1.
    shown : DataArray
        The same plan with its items, labels and attrs (``plan_kind``, ``plan_source``,
        ``same_class_share``, ``chance_share``), as a fit run's ``results.nc`` stores it.
    share : float
        Its same-class mass share (NaN when the plan has no mass among the items shown).
    """

    def __init__(self, aligner, source: xr.DataArray, target: xr.DataArray, batch_size: int = 64, seed: int = 0):
        super().__init__()
        coupling = getattr(aligner, "coupling_", None)
        if coupling is None:
            raise ValueError("CouplingView needs a fitted aligner; call aligner.fit(source, target) first")
        for name, rep, latents in (("source", source, coupling.src_), ("target", target, coupling.tgt_)):
            if not np.array_equal(rep["stimulus_id"].values, latents.stimulus_id):
                raise ValueError(f"{name} is not the {name} representation the aligner was fitted on (stimulus ids differ)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is not allowed; it must be a positive integer")
        self.coupling, self.source, self.target = coupling, source, target
        self.batch_size, self.seed = batch_size, seed
        self.image = W.Image(format="png")
        self.caption = W.HTML()
        redraw = W.Button(description="Redraw", icon="refresh")
        redraw.on_click(lambda _: self.draw(self.seed + 1))
        self.children = (self.image, self.caption, redraw)
        self.draw(seed)

    def draw(self, seed: int) -> float:
        """Show the training plan among the items ``seed`` picks and return its same-class share."""
        self.seed = seed
        self.shown = training_plan_view(self.coupling, self.source, self.target, size=self.batch_size, seed=seed)
        self.plan, self.share = self.shown.values, self.shown.attrs["same_class_share"]
        self.image.value = png(plot_plan(self.shown, "coupling plan"))
        self.caption.value = (f"{self.shown.attrs['plan_source']}, seed {seed}: "
                              f"<b>{self.share:.1%}</b> of the mass on same-class pairs "
                              f"(independent pairing: {self.shown.attrs['chance_share']:.1%})")
        return self.share
