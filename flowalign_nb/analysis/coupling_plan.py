"""What a fitted coupling paired: the plan training sampled from, ordered by class, and its class purity.

:func:`training_plan_view` is the one place the coupling diagnostics come from (run folders'
``results.nc``, their report and figure, and :class:`~flowalign_nb.widgets.CouplingView`). The plan
is the coupling's :meth:`~flowalign_nb.transport.couplings.Coupling.training_plan`: the restriction of the
full plan when training draws every batch from one, otherwise the plan of the last training
minibatch (class-blocked ones included). Ground-truth labels order and score the picture only; the
coupling saw the labels of labelled items alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr


def _checked(plan, src_labels, tgt_labels) -> np.ndarray:
    plan = np.asarray(plan, dtype=np.float64)
    if plan.shape != (len(src_labels), len(tgt_labels)):
        raise ValueError(f"plan of shape {plan.shape} does not match {len(src_labels)} source and {len(tgt_labels)} target labels")
    return plan


def same_class_share(plan, src_labels, tgt_labels) -> float:
    """Share of a plan's mass on pairs whose classes agree.

    ``S = sum_ij pi_ij [y_i = y'_j] / sum_ij pi_ij``.

    Parameters
    ----------
    plan : array_like, shape (n_src, n_tgt), non-negative
    src_labels : array_like, shape (n_src,)
    tgt_labels : array_like, shape (n_tgt,)

    Returns
    -------
    float
        In [0, 1]; NaN when the plan has no mass.
    """
    plan = _checked(plan, src_labels, tgt_labels)
    total = plan.sum()
    same = np.asarray(src_labels)[:, None] == np.asarray(tgt_labels)[None, :]
    return float(plan[same].sum() / total) if total > 0 else float("nan")


def chance_share(plan, src_labels, tgt_labels) -> float:
    """The same-class share if the plan's own marginals were paired independently.

    ``sum_k r_k c_k / (sum_ij pi_ij)^2`` with ``r_k`` / ``c_k`` the plan's mass on rows / columns
    of class ``k``.

    Parameters
    ----------
    plan : array_like, shape (n_src, n_tgt), non-negative
    src_labels : array_like, shape (n_src,)
    tgt_labels : array_like, shape (n_tgt,)

    Returns
    -------
    float
        In [0, 1]; NaN when the plan has no mass.
    """
    plan = _checked(plan, src_labels, tgt_labels)
    total = plan.sum()
    if not total > 0:
        return float("nan")
    rows = pd.Series(plan.sum(1)).groupby(np.asarray(src_labels)).sum()
    cols = pd.Series(plan.sum(0)).groupby(np.asarray(tgt_labels)).sum()
    return float(rows.mul(cols, fill_value=0).sum() / total**2)


def _by_class(labels: np.ndarray) -> np.ndarray:
    """Positions that order ``labels`` by class (stable)."""
    return pd.Series(labels).sort_values(kind="stable").index.to_numpy()


def training_plan_view(coupling, source: xr.DataArray, target: xr.DataArray, size: int = 256, seed: int = 0) -> xr.DataArray:
    """The plan a fitted coupling's training sampled from, among up to ``size`` items per side, ordered by class.

    Parameters
    ----------
    coupling : Coupling
        Fitted on ``source`` and ``target`` (same items, same order).
    source, target : DataArray
        The training representations, with ground-truth ``label`` coords (used to order and score).
    size : int
        Items per side (all when a space, or the minibatch shown, has fewer).
    seed : int
        Seeds which items are shown.

    Returns
    -------
    DataArray, dims ("source_item", "target_item")
        The plan among those items renormalised to sum 1 (see
        :class:`~flowalign_nb.transport.couplings.TrainingPlan`); coords ``source_id``, ``source_label``,
        ``target_id``, ``target_label`` (labels as str); attrs ``same_class_share`` and
        ``chance_share`` (:func:`same_class_share`, :func:`chance_share` of this plan; NaN without
        mass), ``plan_kind``, ``plan_source`` (which plan this is, in words) and ``plan_mass`` (its
        mass before renormalising).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size={size!r} is not allowed; it must be a positive integer")
    shown = coupling.training_plan(int(size), torch.Generator().manual_seed(int(seed)))
    i_src, i_tgt = shown.i_src.numpy(), shown.i_tgt.numpy()
    rows, cols = _by_class(source["label"].values[i_src]), _by_class(target["label"].values[i_tgt])
    i_src, i_tgt = i_src[rows], i_tgt[cols]
    plan = shown.plan.numpy()[np.ix_(rows, cols)]
    ls, lt = source["label"].values[i_src].astype(str), target["label"].values[i_tgt].astype(str)
    return xr.DataArray(
        plan, dims=("source_item", "target_item"),
        coords={"source_id": ("source_item", source["stimulus_id"].values[i_src].astype(str)), "source_label": ("source_item", ls),
                "target_id": ("target_item", target["stimulus_id"].values[i_tgt].astype(str)), "target_label": ("target_item", lt)},
        attrs={"same_class_share": same_class_share(plan, ls, lt), "chance_share": chance_share(plan, ls, lt),
               "plan_kind": shown.kind, "plan_source": shown.description, "plan_mass": float(shown.mass)},
    )
