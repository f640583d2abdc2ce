"""Baselines with the FlowAligner interface: ridge, orthogonal Procrustes and relative representations.

All three are fit on labelled items that share a ``stimulus_id`` across the two spaces; when fewer than
``min_pairs`` such pairs exist (unpaired stimuli) they are fit on the labelled class means instead.
Spaces are standardised first, as in :class:`flowalign_nb.FlowAligner`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.linalg import orthogonal_procrustes
from sklearn.linear_model import Ridge

from .aligner import BaseAligner
from ..transport.bridges import labelled_class_means, labelled_pairs


class _PairedAligner(BaseAligner):
    def _pairs(self, source, target) -> tuple[np.ndarray, np.ndarray]:
        src, tgt = self._fit_spaces(source, target, need_labels=True)
        xs, xt = labelled_pairs(src, tgt)
        self.fit_on_ = "stimulus pairs"
        if len(xs) < self.min_pairs:
            xs, xt = labelled_class_means(src), labelled_class_means(tgt)
            self.fit_on_ = "class means"
        self.n_pairs_ = len(xs)
        return xs.numpy().astype(np.float64), xt.numpy().astype(np.float64)


class RidgeAligner(_PairedAligner):
    """Ridge regression ``y = W x + b`` from standardised source to standardised target.

    Parameters
    ----------
    alpha : float
        L2 penalty.
    min_pairs : int
    classes : {"all", "shared"}
        As :class:`flowalign_nb.FlowAligner`'s: ``"shared"`` fits on the classes labelled in both spaces.
    """

    def __init__(self, alpha: float = 1.0, min_pairs: int = 10, classes: str = "all"):
        self.alpha = alpha
        self.min_pairs = min_pairs
        self.classes = classes

    def fit(self, source: xr.DataArray, target: xr.DataArray) -> "RidgeAligner":
        xs, xt = self._pairs(source, target)
        self.ridge_ = Ridge(alpha=self.alpha).fit(xs, xt)
        return self

    def transform(self, source: xr.DataArray) -> xr.DataArray:
        x = self._standardised_source(source)  # NotFittedError before fit
        return self._in_target_space(self.ridge_.predict(x), source)


class ProcrustesAligner(_PairedAligner):
    """Orthogonal Procrustes after standardising and zero-padding both spaces to ``d = max(d_src, d_tgt)``.

    ``R = argmin_{R^T R = I} ||X_pad R - Y_pad||_F`` (``scipy.linalg.orthogonal_procrustes``) on
    centred pairs; ``transform(x) = ((pad(x) - m_x) R + m_y)[:d_tgt]`` (Maiorca et al. 2023).

    Parameters
    ----------
    min_pairs : int
    classes : {"all", "shared"}
        As :class:`flowalign_nb.FlowAligner`'s: ``"shared"`` fits on the classes labelled in both spaces.
    """

    def __init__(self, min_pairs: int = 10, classes: str = "all"):
        self.min_pairs = min_pairs
        self.classes = classes

    def fit(self, source: xr.DataArray, target: xr.DataArray) -> "ProcrustesAligner":
        xs, xt = self._pairs(source, target)
        self.dim_ = max(xs.shape[1], xt.shape[1])
        xs, xt = _pad(xs, self.dim_), _pad(xt, self.dim_)
        self.source_center_, self.target_center_ = xs.mean(0), xt.mean(0)
        self.rotation_, _ = orthogonal_procrustes(xs - self.source_center_, xt - self.target_center_)
        return self

    def transform(self, source: xr.DataArray) -> xr.DataArray:
        x = _pad(self._standardised_source(source), self.dim_)
        moved = (x - self.source_center_) @ self.rotation_ + self.target_center_
        return self._in_target_space(moved[:, : self.n_features_out_], source)


def relative_representation(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Cosine similarity of each item to each anchor (Moschella et al. 2023, eq. 1).

    ``r(x)_j = <x, a_j> / (||x|| ||a_j||)``; a zero vector has similarity 0 to every anchor.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, d)
    anchors : numpy.ndarray, shape (k, d)

    Returns
    -------
    numpy.ndarray, shape (n, k)
    """
    def unit(v):
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norm > 1e-12, norm, 1.0)

    return unit(np.asarray(x, dtype=np.float64)) @ unit(np.asarray(anchors, dtype=np.float64)).T


class RelativeAligner(_PairedAligner):
    """Relative representations (Moschella et al. 2023) with a target-side decoder ("zero-shot stitching").

    The anchors are the labelled pairs (stimulus pairs, else labelled class means, as for ridge):
    ``a_j`` in the standardised source space and ``b_j`` in the standardised target space. An item
    is described by its cosine similarities to the anchors of its own space,
    ``r_s(x) = [cos(x, a_1), ..., cos(x, a_k)]`` and ``r_t(y) = [cos(y, b_1), ..., cos(y, b_k)]``,
    which are comparable across spaces. A ridge decoder ``D: r_t(y) -> y`` is fit on every target
    training item (no labels are needed for it), and ``transform(x) = D(r_s(x))``.

    Parameters
    ----------
    alpha : float
        L2 penalty of the decoder.
    min_pairs : int
    """

    def __init__(self, alpha: float = 1.0, min_pairs: int = 10):
        self.alpha = alpha
        self.min_pairs = min_pairs

    def fit(self, source: xr.DataArray, target: xr.DataArray) -> "RelativeAligner":
        self.source_anchors_, self.target_anchors_ = self._pairs(source, target)
        target_all = (np.asarray(target.values, dtype=np.float64) - self.target_mean_) / self.target_scale_
        self.decoder_ = Ridge(alpha=self.alpha).fit(relative_representation(target_all, self.target_anchors_), target_all)
        return self

    def transform(self, source: xr.DataArray) -> xr.DataArray:
        relative = relative_representation(self._standardised_source(source), self.source_anchors_)
        return self._in_target_space(self.decoder_.predict(relative), source)


def _pad(x: np.ndarray, dim: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, dim - x.shape[1])))
