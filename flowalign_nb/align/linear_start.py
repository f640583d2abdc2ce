"""Linear start of a flow: a ridge or Procrustes map fit on labelled items, which the flow then refines.

``FlowAligner(init="ridge" | "procrustes")`` transports the linearly pre-aligned source,
``x0 = x W + b`` (standardised source, shape ``(n, d_src)``, to the target space, ``(n, d_tgt)``),
instead of the source point itself: the flow only has to learn what the linear map misses, and
a flow that learns nothing (its last layer starts at zero) is the linear map. The map is fit, as
:class:`flowalign_nb.RidgeAligner` and :class:`flowalign_nb.ProcrustesAligner` are, on labelled
items sharing a ``stimulus_id`` across the two spaces, or on the labelled class means when fewer
than ``min_pairs`` such pairs exist.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes
from sklearn.linear_model import Ridge

from ..transport.bridges import labelled_class_means, labelled_pairs
from ..data.model import Latents

INITS = ("ridge", "procrustes")


def linear_start(kind: str, src: Latents, tgt: Latents, alpha: float = 1.0, min_pairs: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit the linear map ``x -> x W + b`` between standardised spaces.

    ``"ridge"``: ``W, b = argmin ||X W + b - Y||^2 + alpha ||W||^2`` (``sklearn.linear_model.Ridge``).
    ``"procrustes"``: both sides zero-padded to ``d = max(d_src, d_tgt)`` and centred,
    ``R = argmin_{R^T R = I} ||(X - m_x) R - (Y - m_y)||_F`` (``scipy.linalg.orthogonal_procrustes``),
    then ``W = R[:d_src, :d_tgt]`` and ``b = m_y - m_x R`` (first ``d_tgt`` entries).

    Parameters
    ----------
    kind : {"ridge", "procrustes"}
    src, tgt : Latents
        Standardised spaces; only labels of labelled items are read.
    alpha : float
        Ridge penalty.
    min_pairs : int

    Returns
    -------
    W : Tensor, shape (d_src, d_tgt), float32
    b : Tensor, shape (d_tgt,), float32
    """
    if kind not in INITS:
        raise ValueError(f"init={kind!r} is not allowed; choose None or one of {INITS}")
    xs, xt = labelled_pairs(src, tgt)
    if len(xs) < min_pairs:
        xs, xt = labelled_class_means(src), labelled_class_means(tgt)
    if len(xs) < 2:
        raise ValueError(f"init={kind!r} needs labelled items in both spaces (at least two pairs or classes), found {len(xs)}")
    xs, xt = xs.numpy().astype(np.float64), xt.numpy().astype(np.float64)
    if kind == "ridge":
        ridge = Ridge(alpha=alpha).fit(xs, xt)
        weight, bias = ridge.coef_.T, ridge.intercept_
    else:
        d = max(xs.shape[1], xt.shape[1])
        ps, pt = np.pad(xs, ((0, 0), (0, d - xs.shape[1]))), np.pad(xt, ((0, 0), (0, d - xt.shape[1])))
        m_s, m_t = ps.mean(0), pt.mean(0)
        rotation, _ = orthogonal_procrustes(ps - m_s, pt - m_t)
        weight = rotation[: xs.shape[1], : xt.shape[1]]
        bias = (m_t - m_s @ rotation)[: xt.shape[1]]
    return torch.as_tensor(weight, dtype=torch.float32), torch.as_tensor(bias, dtype=torch.float32)
