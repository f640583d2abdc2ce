"""CouplingView: the transport plan of a minibatch as a heatmap ordered by class."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import torch
import xarray as xr

from .figures import plan_figure, png


def same_class_share(plan: np.ndarray, src_labels: np.ndarray, tgt_labels: np.ndarray) -> float:
    """Share of a plan's mass on pairs whose ground-truth classes agree.

    Parameters
    ----------
    plan : ndarray, (n_src, n_tgt)
    src_labels : ndarray, (n_src,)
    tgt_labels : ndarray, (n_tgt,)

    Returns
    -------
    float
        In [0, 1].
    """
    plan = np.asarray(plan, dtype=float)
    if plan.shape != (len(src_labels), len(tgt_labels)):
        raise ValueError(f"plan of shape {plan.shape} does not match {len(src_labels)} source and {len(tgt_labels)} target labels")
    total = plan.sum()
    if not total > 0:
        raise ValueError(f"plan has no positive mass (total {total})")
    same = np.asarray(src_labels)[:, None] == np.asarray(tgt_labels)[None, :]
    return float(plan[same].sum() / total)


class CouplingView(W.VBox):
    """The plan of a fitted aligner's coupling on a random minibatch, ordered by ground-truth class.

    Ground-truth ``label`` coords are used only to order and score the picture, never by the fit.

    Parameters
    ----------
    aligner : FlowAligner
        A fitted aligner (its ``coupling_`` draws the plan).
    source, target : DataArray
        The training representations the aligner was fitted on, with ``label`` coords.
    batch_size : int
        Items drawn from each space.
    seed : int
        Seeds the minibatch; **Redraw** moves to the next seed.

    Attributes
    ----------
    plan : ndarray, (batch, batch)
        The plan shown, rows and columns ordered by class.
    share : float
        Its same-class mass share.
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
        """Draw a new minibatch with ``seed``, show its plan and return its same-class share."""
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        i_src = torch.randperm(self.source.sizes["presentation"], generator=generator)[: self.batch_size]
        i_tgt = torch.randperm(self.target.sizes["presentation"], generator=generator)[: self.batch_size]
        src_labels = self.source["label"].values[i_src.numpy()]
        tgt_labels = self.target["label"].values[i_tgt.numpy()]
        plan = self.coupling.plan(i_src, i_tgt).detach().cpu().numpy()
        rows, cols = np.argsort(src_labels, kind="stable"), np.argsort(tgt_labels, kind="stable")
        self.plan = plan[np.ix_(rows, cols)]
        self.share = same_class_share(self.plan, src_labels[rows], tgt_labels[cols])
        self.image.value = png(plan_figure(self.plan, src_labels[rows], tgt_labels[cols], self.share))
        self.caption.value = (f"{len(rows)} x {len(cols)} items, seed {seed}: "
                              f"<b>{self.share:.1%}</b> of the mass on same-class pairs")
        return self.share
