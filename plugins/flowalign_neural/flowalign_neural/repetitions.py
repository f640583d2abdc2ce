"""Repetitions of a stimulus: averaging them, stacking them, and their split-half reliability.

A recording presents each stimulus several times; its ``presentation`` dim then holds one entry per
(stimulus, repetition). Fits need one row per stimulus (:func:`average_repetitions`); noise
ceilings need the repetitions themselves (:func:`stack_repetitions`, :func:`split_half_reliability`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from .assemblies import AssemblyError, as_plain


def _groups(data: xr.DataArray, by: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Group codes per presentation, the group keys, and the presentation coords constant within groups."""
    if by not in data.coords or data[by].dims != ("presentation",):
        names = [c for c in data.coords if data[c].dims == ("presentation",)]
        raise AssemblyError(f"by={by!r} is not a presentation coord; presentation coords: {names}")
    codes, keys = pd.factorize(data[by].values, sort=False)
    constant = {}
    for name, coord in data.coords.items():
        if coord.dims != ("presentation",) or name == by:
            continue
        values = pd.Series(coord.values)
        if (values.groupby(codes).nunique(dropna=False) <= 1).all():
            first = np.unique(codes, return_index=True)[1]
            constant[name] = coord.values[first]
    return codes, np.asarray(keys), constant


def average_repetitions(assembly: xr.DataArray, by: str = "stimulus_id") -> xr.DataArray:
    """Average the presentations of each stimulus (NaN-aware).

    ``r_bar[s] = (1 / |P_s|) sum_{p in P_s} r[p]`` over the finite responses of the presentations
    ``P_s`` of stimulus ``s``, for every neuroid (and time bin).

    Parameters
    ----------
    assembly : xarray.DataArray
        Dims ``presentation`` first or not, plus ``neuroid`` and optionally ``time_bin``.
    by : str
        The presentation coord that identifies a stimulus.

    Returns
    -------
    xarray.DataArray
        One presentation per stimulus, in order of first appearance. Presentation coords that are
        constant within each stimulus are kept (``object_name``, ...); those that vary
        (``repetition``, ...) are dropped; ``n_repetitions`` counts the presentations averaged.
    """
    data = as_plain(assembly).transpose("presentation", ...)
    codes, keys, constant = _groups(data, by)
    shape = data.shape
    values = data.values.reshape(shape[0], -1).astype(np.float64)
    finite = np.isfinite(values)
    onehot = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(keys), len(codes)))
    sums = onehot @ np.where(finite, values, 0.0)
    counts = onehot @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums / counts).reshape((len(keys),) + shape[1:])
    coords = {name: c for name, c in data.coords.items() if "presentation" not in c.dims}
    coords.update({name: ("presentation", v) for name, v in constant.items()})
    coords[by] = ("presentation", keys)
    coords["n_repetitions"] = ("presentation", np.bincount(codes, minlength=len(keys)))
    return xr.DataArray(means, dims=data.dims, coords=coords, name=data.name, attrs=dict(data.attrs))


def stack_repetitions(assembly: xr.DataArray, by: str = "stimulus_id") -> xr.DataArray:
    """Responses with a ``repetition`` dim: ``R[k, s, ...]`` is the k-th presentation of stimulus ``s``.

    Repetitions are ranked within each stimulus by the ``repetition`` coord when there is one, else
    by order of appearance; stimuli with fewer presentations than the most repeated one are padded
    with NaN.

    Parameters
    ----------
    assembly : xarray.DataArray
    by : str

    Returns
    -------
    xarray.DataArray
        Dims ``("repetition", "presentation", ...)``, shape (max repetitions, n stimuli, ...), with
        the same presentation coords as :func:`average_repetitions`.
    """
    data = as_plain(assembly).transpose("presentation", ...)
    codes, keys, constant = _groups(data, by)
    order = data["repetition"].values if "repetition" in data.coords else np.arange(len(codes))
    rank = pd.Series(order).groupby(codes).rank(method="first").to_numpy().astype(int) - 1
    stacked = np.full((rank.max() + 1, len(keys)) + data.shape[1:], np.nan)
    stacked[rank, codes] = data.values
    coords = {name: c for name, c in data.coords.items() if "presentation" not in c.dims}
    coords.update({name: ("presentation", v) for name, v in constant.items()})
    coords[by] = ("presentation", keys)
    coords["repetition"] = np.arange(stacked.shape[0])
    return xr.DataArray(stacked, dims=("repetition",) + data.dims, coords=coords, attrs=dict(data.attrs))


def split_half_reliability(stacked: xr.DataArray, seed: int = 0) -> xr.DataArray:
    """Spearman-Brown corrected split-half reliability of each neuroid.

    The repetitions are split at random into halves A and B; per neuroid,
    ``r = corr_s(mean_A[s], mean_B[s])`` across stimuli ``s`` and the reliability of the full mean is
    ``rho = 2 r / (1 + r)``. It bounds how well any model can predict that neuroid (a noise ceiling).

    Parameters
    ----------
    stacked : xarray.DataArray
        From :func:`stack_repetitions`, dims ``("repetition", "presentation", "neuroid")``.
    seed : int
        Seeds the split.

    Returns
    -------
    xarray.DataArray
        Dim ``neuroid``, values in [-1, 1].
    """
    if tuple(stacked.dims) != ("repetition", "presentation", "neuroid"):
        raise AssemblyError(f"dims {tuple(stacked.dims)} are not allowed; need ('repetition', 'presentation', 'neuroid')")
    n = stacked.sizes["repetition"]
    if n < 2:
        raise AssemblyError(f"split-half reliability needs at least 2 repetitions, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    half_a = np.nanmean(stacked.values[perm[: n // 2]], axis=0)
    half_b = np.nanmean(stacked.values[perm[n // 2:]], axis=0)
    a = half_a - half_a.mean(0)
    b = half_b - half_b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(0) / np.sqrt((a ** 2).sum(0) * (b ** 2).sum(0))
    coords = {name: c for name, c in stacked.coords.items() if c.dims == ("neuroid",)}
    return xr.DataArray(2 * r / (1 + r), dims=("neuroid",), coords=coords, name="split_half_reliability")
