"""Select parts of an assembly: recording regions and time bins.

Both work on brainio assemblies (MultiIndex coords) and plain DataArrays alike, and return plain
DataArrays (see :func:`flowalign_neural.assemblies.as_plain`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .assemblies import AssemblyError, as_plain


def select_region(assembly: xr.DataArray, region) -> xr.DataArray:
    """Keep the neuroids of one region (``"IT"``) or several (``["V4", "IT"]``).

    Parameters
    ----------
    assembly : xarray.DataArray
        With a ``region`` coord on ``neuroid``.
    region : str or sequence of str

    Returns
    -------
    xarray.DataArray
        The neuroids whose ``region`` is among ``region``, in their original order.
    """
    data = as_plain(assembly)
    if "region" not in data.coords:
        raise AssemblyError("this assembly has no 'region' coord on its neuroids, so region= cannot be used")
    wanted = [region] if isinstance(region, str) else list(region)
    present = sorted(map(str, np.unique(data["region"].values)))
    missing = [r for r in wanted if r not in present]
    if missing or not wanted:
        raise AssemblyError(f"region={region!r} is not allowed; regions in this assembly: {', '.join(present)}")
    return data.isel(neuroid=np.flatnonzero(np.isin(data["region"].values, wanted)))


def time_bins(assembly: xr.DataArray) -> list[tuple]:
    """The ``(time_bin_start, time_bin_end)`` pairs of an assembly, in ms, in order (empty without those coords)."""
    data = as_plain(assembly)
    if "time_bin" not in data.dims or "time_bin_start" not in data.coords or "time_bin_end" not in data.coords:
        return []
    return [(s.item(), e.item()) for s, e in zip(data["time_bin_start"].values, data["time_bin_end"].values, strict=True)]


def select_time_bin(assembly: xr.DataArray, time_bin="mean") -> xr.DataArray:
    """Remove the ``time_bin`` dim by averaging the bins or selecting one.

    Parameters
    ----------
    assembly : xarray.DataArray
    time_bin : "mean", int or (start, end)
        ``"mean"``: average over bins; an int: the bin at that position; a ``(start, end)`` pair:
        the bin with those ``time_bin_start`` / ``time_bin_end`` values (ms), e.g. ``(70, 170)``.

    Returns
    -------
    xarray.DataArray
        Without ``time_bin`` (an assembly that has none is returned as it is, for any ``time_bin``).
        The selected or covered window is kept in the attrs ``time_bin_start`` / ``time_bin_end``.
    """
    data = as_plain(assembly)
    if "time_bin" not in data.dims:
        return data
    bins = time_bins(data)
    if isinstance(time_bin, str) and time_bin == "mean":
        out = data.mean("time_bin", keep_attrs=True)
        window = (min(b[0] for b in bins), max(b[1] for b in bins)) if bins else None
    else:
        index = _bin_index(time_bin, bins, data.sizes["time_bin"])
        out = data.isel(time_bin=index)
        window = bins[index] if bins else None
    out = out.drop_vars([c for c in out.coords if "time_bin" in out[c].dims or c.startswith("time_bin")])
    return out if window is None else out.assign_attrs(time_bin_start=window[0], time_bin_end=window[1])


def _bin_index(time_bin, bins: list[tuple], n_bins: int) -> int:
    if isinstance(time_bin, (int, np.integer)) and not isinstance(time_bin, bool) and 0 <= time_bin < n_bins:
        return int(time_bin)
    if isinstance(time_bin, (tuple, list)) and tuple(time_bin) in bins:
        return bins.index(tuple(time_bin))
    raise AssemblyError(
        f"time_bin={time_bin!r} is not allowed; use 'mean', an index in [0, {n_bins}) or one of the "
        f"(start, end) windows in ms: {bins or 'none (no time_bin_start/time_bin_end coords)'}"
    )
