"""The public fit boundary of couplings and bridges: what ``fa.make(...)`` objects accept from a notebook.

``fit`` takes two representations (``xarray.DataArray``, dims ``("presentation", "neuroid")``),
which are standardised exactly as :class:`flowalign_nb.FlowAligner` standardises them
(:func:`flowalign_nb.data.model.standardise_pair`: each space z-scored with its own moments, labels
read only where ``is_labelled``) and the standardisation is recorded as ``standardisation_``; or
two :class:`~flowalign_nb.data.model.Latents`, used as given (``standardisation_`` is None), which is
what FlowAligner passes. Learned attributes (names ending in ``_``) read before ``fit`` raise
scikit-learn's ``NotFittedError``, so ``plan``, ``sample`` or ``cost`` on an unfitted object name
the problem instead of failing on a missing attribute.
"""

from __future__ import annotations

import xarray as xr
from sklearn.exceptions import NotFittedError

from ..data.model import Latents, standardise_pair


class FitBoundary:
    """Mixin of :class:`~flowalign_nb.transport.couplings.Coupling` and :class:`~flowalign_nb.transport.bridges.Bridge`.

    Attributes
    ----------
    standardisation_ : flowalign_nb.data.model.PairStandardisation or None
        Set by :meth:`_fit_inputs`: how representations given to ``fit`` became Latents; None when
        ``fit`` was given Latents.
    """

    #: what ``fit`` is called with, for error messages
    fit_signature = "fit(src, tgt)"

    def _fit_inputs(self, src, tgt, need_labels: bool) -> tuple[Latents, Latents]:
        """``(src, tgt)`` as Latents; records ``standardisation_``.

        Raises
        ------
        TypeError
            Unless both are DataArrays or both are Latents, naming the types given.
        flowalign_nb.RepresentationError
            For representations that cannot be aligned (see :func:`flowalign_nb.data.model.check_pair`).
        """
        if isinstance(src, Latents) and isinstance(tgt, Latents):
            self.standardisation_ = None
            return src, tgt
        if isinstance(src, xr.DataArray) and isinstance(tgt, xr.DataArray):
            src, tgt, self.standardisation_ = standardise_pair(src, tgt, need_labels=need_labels)
            return src, tgt
        raise TypeError(
            f"{type(self).__name__}.{self.fit_signature} takes two representations (xarray.DataArray) or two "
            f"flowalign_nb.Latents; got {type(src).__name__} and {type(tgt).__name__}"
        )

    def __getattr__(self, name: str):
        # Called only when ordinary lookup fails: a learned attribute before fit is a NotFittedError
        # (an AttributeError, so hasattr() still answers False).
        if name.endswith("_") and not name.startswith("_"):
            check_fitted(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def check_fitted(obj: FitBoundary) -> None:
    """Raise ``NotFittedError`` naming ``obj`` and how to fit it, unless its ``fit`` has run."""
    if "src_" not in obj.__dict__:
        raise NotFittedError(f"this {type(obj).__name__} is not fitted yet; call {obj.fit_signature} first")
