"""Representational dissimilarity matrices (RDMs), computed by rsatoolbox and returned as xarray.

An RDM here is an :class:`xarray.DataArray` with dims ``("stimulus_a", "stimulus_b")`` (or
``("rdm", "stimulus_a", "stimulus_b")`` for several), indexed by stimulus id on both axes, with
``label_a`` / ``label_b`` coords when the representation has labels and the dissimilarity measure in
``attrs["method"]``. :func:`from_xarray` and :func:`to_xarray` convert to and from
:class:`rsatoolbox.rdm.RDMs` (pattern descriptor ``stimulus_id``, and ``label`` when known).

Methods (for patterns :math:`x_i \\in \\mathbb{R}^P`, the rows of a representation; repetitions
are averaged per stimulus first, except for crossnobis):

- ``euclidean``: :math:`d_{ij} = \\lVert x_i - x_j \\rVert^2 / P` (rsatoolbox's squared euclidean);
- ``correlation``: :math:`d_{ij} = 1 - r(x_i, x_j)`, Pearson correlation across neuroids;
- ``crossnobis``: :math:`d_{ij} = \\frac{1}{M} \\sum_m (\\bar x_i^{(\\neg m)} - \\bar x_j^{(\\neg m)})^\\top
  \\Sigma^{-1} (x_i^{(m)} - x_j^{(m)}) / P`, leave-one-repetition-out over ``M >= 2`` repetitions,
  with :math:`\\Sigma^{-1}` the identity or a noise precision estimated from the residuals around
  each stimulus mean (``noise=``). Unbiased: its expected value is 0 for identical patterns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from rsatoolbox.data import Dataset
from rsatoolbox.data.noise import prec_from_measurements
from rsatoolbox.rdm import RDMs, calc_rdm

from ..data.model import DIMS, RepresentationError
from .inputs import as_repetitions, check_choice

RDM_METHODS = ("euclidean", "correlation", "crossnobis")
NOISE_METHODS = ("shrinkage_diag", "shrinkage_eye", "diag", "full")
RDM_DIMS = ("stimulus_a", "stimulus_b")


def rdm(rep, method: str = "correlation", noise: str | None = None) -> xr.DataArray:
    """The RDM of a representation, computed by :func:`rsatoolbox.rdm.calc_rdm`.

    Parameters
    ----------
    rep : DataArray (n_stimuli, n_neuroids), or a list of them (repetitions of the same stimuli)
    method : {"euclidean", "correlation", "crossnobis"}
        See the module docstring for the equations. ``crossnobis`` needs at least two repetitions.
    noise : {None, "shrinkage_diag", "shrinkage_eye", "diag", "full"}
        Crossnobis only: ``None`` uses the identity; otherwise the noise precision is estimated from
        the repetitions by :func:`rsatoolbox.data.noise.prec_from_measurements` with this method.

    Returns
    -------
    xarray.DataArray, dims ("stimulus_a", "stimulus_b"), shape (n_stimuli, n_stimuli)
        Symmetric, zero diagonal, stimuli in the order of ``rep`` (of its first repetition).

    Raises
    ------
    ValueError
        For an unknown ``method`` or ``noise``, or ``noise`` without crossnobis.
    RepresentationError
        For crossnobis without repetitions, or repetitions that do not match.
    """
    return to_xarray(compute_rdm(rep, method, noise, "rep")).isel(rdm=0, drop=True)


def compute_rdm(rep, method: str, noise: str | None, name: str) -> RDMs:
    """One RDM of ``rep`` (a representation or its repetitions) as rsatoolbox ``RDMs``; see :func:`rdm`."""
    check_choice("rdm method", method, RDM_METHODS)
    check_choice("noise", noise, (None, *NOISE_METHODS))
    if noise is not None and method != "crossnobis":
        raise ValueError(f"noise={noise!r} applies to crossnobis only; got method={method!r} (use noise=None)")
    reps = as_repetitions(rep, name)
    if method == "crossnobis" and len(reps) < 2:
        raise RepresentationError(
            f"crossnobis needs repetitions: pass {name} as a list of at least 2 representations of the "
            f"same stimuli (one per repetition); got {len(reps)}"
        )
    ids = reps[0]["stimulus_id"].values
    n = len(ids)
    dataset = Dataset(
        np.concatenate([r.values for r in reps]).astype(np.float64),
        obs_descriptors={"stimulus_id": np.tile(ids, len(reps)),
                         "repetition": np.repeat([f"repetition{k}" for k in range(len(reps))], n)},
    )
    if len(reps) == 1:
        rdms = calc_rdm(dataset, method=method)
    else:
        precision = None if noise is None else prec_from_measurements(dataset, "stimulus_id", method=noise)
        rdms = calc_rdm(dataset, method=method, descriptor="stimulus_id", noise=precision,
                        cv_descriptor="repetition" if method == "crossnobis" else None)
        rdms.sort_by(stimulus_id=list(ids))
    label = reps[0]["label"].values if "label" in reps[0].coords else None
    return described(rdms.dissimilarities, [rdms.dissimilarity_measure], ids, label)


def described(dissimilarities, measures, stimulus_id, label=None) -> RDMs:
    """rsatoolbox ``RDMs`` with pattern descriptors ``stimulus_id`` (and ``label``) and one measure per RDM.

    Parameters
    ----------
    dissimilarities : ndarray, (n_rdm, n_pairs) or (n_rdm, n_stimuli, n_stimuli)
    measures : sequence of str, length n_rdm
    stimulus_id, label : array_like, (n_stimuli,)
    """
    patterns = {"stimulus_id": list(np.asarray(stimulus_id))}
    if label is not None:
        patterns["label"] = list(np.asarray(label))
    measures = [str(m) for m in measures]
    return RDMs(
        dissimilarities=np.asarray(dissimilarities, dtype=np.float64),
        dissimilarity_measure=measures[0] if len(set(measures)) == 1 else "mixed",
        rdm_descriptors={"measure": measures},
        pattern_descriptors=patterns,
    )


def to_xarray(rdms: RDMs) -> xr.DataArray:
    """rsatoolbox ``RDMs`` with a ``stimulus_id`` pattern descriptor as a DataArray.

    Returns
    -------
    xarray.DataArray, dims ("rdm", "stimulus_a", "stimulus_b"), shape (n_rdm, n_stimuli, n_stimuli)
    """
    ids = np.asarray(rdms.pattern_descriptors["stimulus_id"])
    coords = {"stimulus_a": ids, "stimulus_b": ids.copy()}
    if "label" in rdms.pattern_descriptors:
        labels = np.asarray(rdms.pattern_descriptors["label"])
        coords.update(label_a=("stimulus_a", labels), label_b=("stimulus_b", labels.copy()))
    measures = rdms.rdm_descriptors.get("measure", [rdms.dissimilarity_measure] * rdms.n_rdm)
    coords["method"] = ("rdm", np.asarray([str(m) for m in measures]))
    return xr.DataArray(rdms.get_matrices(), dims=("rdm", *RDM_DIMS), coords=coords,
                        attrs={"method": str(rdms.dissimilarity_measure)})


def from_xarray(matrix: xr.DataArray, name: str) -> RDMs:
    """An RDM DataArray (as :func:`rdm` returns, or several along ``rdm``) as rsatoolbox ``RDMs``.

    Raises
    ------
    RepresentationError
        Wrong dims, different stimuli on the two axes, non-finite values, or a matrix that is not
        symmetric with a zero diagonal.
    """
    if matrix.dims == RDM_DIMS:
        matrix = matrix.expand_dims("rdm")
    if matrix.dims != ("rdm", *RDM_DIMS):
        raise RepresentationError(
            f"{name} has dims {matrix.dims}; an RDM has dims {RDM_DIMS} or {('rdm', *RDM_DIMS)} "
            f"(a representation has dims {DIMS})"
        )
    for dim in RDM_DIMS:
        if dim not in matrix.coords:
            raise RepresentationError(f"{name} has no {dim!r} coord with the stimulus ids")
    ids = matrix["stimulus_a"].values
    if not np.array_equal(ids, matrix["stimulus_b"].values):
        raise RepresentationError(f"{name}: stimulus_a and stimulus_b list different stimuli; an RDM is square over one stimulus set")
    if pd.Index(ids).has_duplicates:
        raise RepresentationError(f"{name} lists stimulus_id {str(pd.Index(ids)[pd.Index(ids).duplicated()][0])!r} twice")
    values = np.asarray(matrix.values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise RepresentationError(f"{name} has {int((~np.isfinite(values)).sum())} non-finite dissimilarities")
    scale = max(1.0, float(np.abs(values).max()))
    if not np.allclose(values, values.transpose(0, 2, 1), atol=1e-8 * scale, rtol=0):
        raise RepresentationError(f"{name} is not symmetric; an RDM satisfies d_ij = d_ji")
    diagonal = np.abs(np.diagonal(values, axis1=1, axis2=2)).max()
    if diagonal > 1e-8 * scale:
        raise RepresentationError(f"{name} has a non-zero diagonal (up to {diagonal:g}); an RDM has d_ii = 0")
    if "method" in matrix.coords and matrix["method"].dims == ("rdm",):
        measures = matrix["method"].values
    else:
        measures = [matrix.attrs.get("method", "unknown")] * matrix.sizes["rdm"]
    label = matrix["label_a"].values if "label_a" in matrix.coords else None
    return described(values, measures, ids, label)


def checked_rsatoolbox(rdms: RDMs, name: str) -> RDMs:
    """An rsatoolbox ``RDMs`` given by the user, checked and re-described with one measure per RDM.

    Raises
    ------
    RepresentationError
        Without a ``stimulus_id`` pattern descriptor, with duplicate ids or non-finite values.
    """
    if "stimulus_id" not in rdms.pattern_descriptors:
        raise RepresentationError(
            f"{name} is an rsatoolbox RDMs without a 'stimulus_id' pattern descriptor; create it with "
            "pattern_descriptors={'stimulus_id': [...]} so its stimuli can be matched"
        )
    ids = pd.Index(np.asarray(rdms.pattern_descriptors["stimulus_id"]))
    if ids.has_duplicates:
        raise RepresentationError(f"{name} lists stimulus_id {str(ids[ids.duplicated()][0])!r} twice")
    if not np.isfinite(rdms.dissimilarities).all():
        raise RepresentationError(f"{name} has {int((~np.isfinite(rdms.dissimilarities)).sum())} non-finite dissimilarities")
    measures = rdms.rdm_descriptors.get("measure", [rdms.dissimilarity_measure] * rdms.n_rdm)
    return described(rdms.dissimilarities, measures, ids.values, rdms.pattern_descriptors.get("label"))


def collect(data, method: str, noise: str | None, name: str) -> list[RDMs]:
    """The RDMs of one side of an RSA: one entry per element of a list, one for anything else.

    Parameters
    ----------
    data
        A representation (DataArray with dims ``("presentation", "neuroid")``), an RDM DataArray,
        an rsatoolbox ``RDMs`` (with a ``stimulus_id`` pattern descriptor), or a list of these
        (several subjects or sessions; an element that is itself a list holds the repetitions of
        one of them).
    method, noise
        How RDMs are computed from representations (see :func:`rdm`).
    name : str
        The argument's name, for error messages.

    Returns
    -------
    list of rsatoolbox.rdm.RDMs
    """
    if isinstance(data, (xr.DataArray, RDMs)):
        return [_one(data, method, noise, name)]
    if isinstance(data, Sequence) and not isinstance(data, str) and data:
        return [_one(item, method, noise, f"{name}[{k}]") for k, item in enumerate(data)]
    raise TypeError(
        f"{name} must be a representation, an RDM (DataArray with dims {RDM_DIMS}), an rsatoolbox RDMs, "
        f"or a non-empty list of these; got {type(data).__name__}"
    )


def _one(item, method, noise, name) -> RDMs:
    if isinstance(item, RDMs):
        return checked_rsatoolbox(item, name)
    if isinstance(item, xr.DataArray) and item.dims != DIMS:
        return from_xarray(item, name)
    return compute_rdm(item, method, noise, name)


def stack(rdms: list[RDMs], ids) -> RDMs:
    """Several ``RDMs`` restricted to the stimuli ``ids``, in that order, as one ``RDMs``.

    Every element must contain all of ``ids``; ``label`` is kept when the first element has it.
    """
    matrices, measures = [], []
    for r in rdms:
        index = pd.Index(np.asarray(r.pattern_descriptors["stimulus_id"])).get_indexer(ids)
        matrices.append(r.get_matrices()[:, index][:, :, index])
        measures += list(r.rdm_descriptors["measure"])
    label = None
    if "label" in rdms[0].pattern_descriptors:
        index = pd.Index(np.asarray(rdms[0].pattern_descriptors["stimulus_id"])).get_indexer(ids)
        label = np.asarray(rdms[0].pattern_descriptors["label"])[index]
    return described(np.concatenate(matrices), measures, ids, label)
