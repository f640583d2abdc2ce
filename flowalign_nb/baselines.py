"""Linear baselines with the FlowAligner interface: ridge and orthogonal Procrustes on labelled pairs.

Both are fit on labelled items that share a ``stimulus_id`` across the two spaces; when fewer than
``min_pairs`` such pairs exist (unpaired stimuli) they are fit on the labelled class means instead.
Spaces are standardised first, as in :class:`flowalign_nb.FlowAligner`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.linalg import orthogonal_procrustes
from sklearn.linear_model import Ridge

from .aligner import BaseAligner
from .bridges import class_means, labelled_pairs


class _PairedAligner(BaseAligner):
    def _pairs(self, source, target) -> tuple[np.ndarray, np.ndarray]:
        src, tgt = self._fit_spaces(source, target, need_labels=True)
        xs, xt = labelled_pairs(src, tgt)
        self.fit_on_ = "stimulus pairs"
        if len(xs) < self.min_pairs:
            xs, xt = class_means(src), class_means(tgt)
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


def _pad(x: np.ndarray, dim: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, dim - x.shape[1])))
