"""Brain-Score (brainio) assemblies: read and write their netCDF files, with or without brainio.

A brainio ``NeuroidAssembly`` is an :class:`xarray.DataArray` with dims ``("presentation", "neuroid")``
or ``("presentation", "neuroid", "time_bin")`` whose coords of each dim are gathered into a
``pandas.MultiIndex`` (``presentation``: ``stimulus_id``, ``object_name``, ``repetition``, ...;
``neuroid``: ``neuroid_id``, ``region``, ``animal``, ...; ``time_bin``: ``time_bin_start``,
``time_bin_end`` in ms).

On disk (``brainio.packaging.write_netcdf``) the MultiIndexes are reset, so every level is a plain
coord on its dim, and the values are one data variable (``"data"`` when compressed, the assembly's
name otherwise) of a netCDF4 file; attrs that are DataFrames, DataArrays or None are dropped.
:func:`open_assembly` reads such a file into a plain DataArray (plain coords, no MultiIndex) without
importing brainio, :func:`write_assembly` writes one back in the same layout, and
:func:`to_brainio` wraps a DataArray as a brainio class when brainio is installed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

ASSEMBLY_DIMS = ("presentation", "neuroid", "time_bin")
BRAINIO_INSTALL = "pip install boto3 entrypoints && pip install --no-deps brainscore-brainio==1.1.0"


class AssemblyError(ValueError):
    """An assembly or assembly file that cannot be used; the message names the bad value."""


def as_plain(assembly: xr.DataArray) -> xr.DataArray:
    """A plain :class:`xarray.DataArray` with every MultiIndex level as a plain coord on its dim.

    Accepts brainio assemblies (any ``DataAssembly`` subclass) and plain DataArrays.

    Parameters
    ----------
    assembly : xarray.DataArray
        Dims a subset of ``("presentation", "neuroid", "time_bin")``.

    Returns
    -------
    xarray.DataArray
        Same values, dims and coords; no index on ``presentation``, ``neuroid`` or ``time_bin``.
    """
    if not isinstance(assembly, xr.DataArray):
        raise AssemblyError(f"expected an xarray.DataArray or brainio assembly, got {type(assembly).__name__}")
    unknown = [d for d in assembly.dims if d not in ASSEMBLY_DIMS]
    if unknown or "presentation" not in assembly.dims or "neuroid" not in assembly.dims:
        raise AssemblyError(
            f"assembly dims {tuple(assembly.dims)} are not allowed; a NeuroidAssembly has dims "
            f"('presentation', 'neuroid') and optionally 'time_bin'"
        )
    plain = xr.DataArray(assembly.variable, coords=assembly.coords, name=assembly.name, attrs=dict(assembly.attrs))
    indexed = [name for name in plain.indexes if name in plain.dims or isinstance(plain.indexes[name], pd.MultiIndex)]
    return plain.reset_index(indexed) if indexed else plain


def open_assembly(path, variable: str | None = None) -> xr.DataArray:
    """Read a Brain-Score netCDF assembly file without brainio.

    As brainio's loader does, a file with ``image_id`` but no ``stimulus_id`` presentation coord
    gets ``stimulus_id = image_id``.

    Parameters
    ----------
    path : str or path-like
        A netCDF file written by ``brainio.packaging.write_netcdf`` (or :func:`write_assembly`).
    variable : str, optional
        The data variable to read; needed only when the file holds more than one.

    Returns
    -------
    xarray.DataArray
        Loaded into memory, plain coords (see :func:`as_plain`), the file's attrs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no assembly file at {path}")
    with xr.open_dataset(path) as ds:
        names = list(ds.data_vars)
        if variable is None and len(names) != 1:
            raise AssemblyError(f"{path} holds data variables {names}; pass variable= one of them")
        if variable is not None and variable not in names:
            raise AssemblyError(f"variable={variable!r} is not in {path}; its data variables: {names}")
        name = variable or names[0]
        data = ds[name].load()
        attrs = {**ds.attrs, **data.attrs}
    data = as_plain(data).assign_attrs(attrs)
    if "stimulus_id" not in data.coords and "image_id" in data.coords:
        data = data.assign_coords(stimulus_id=("presentation", data["image_id"].values))
    return data


def netcdf_attrs(attrs: dict) -> dict:
    """Attrs that netCDF can hold, by brainio's rule: DataFrames, DataArrays and None are dropped; bools become int8."""
    out = {}
    for key, value in attrs.items():
        if value is None or isinstance(value, (pd.DataFrame, xr.DataArray)):
            continue
        out[key] = np.int8(value) if isinstance(value, (bool, np.bool_)) else value
    return out


def write_assembly(assembly: xr.DataArray, path, compress: bool = True) -> str:
    """Write an assembly as ``brainio.packaging.write_netcdf`` does; brainio can read it back.

    The MultiIndexes are reset to plain coords; with ``compress`` the values go to the data
    variable ``"data"`` with zlib level 9 and the attrs are also promoted to the file, otherwise the
    DataArray is written as it is.

    Parameters
    ----------
    assembly : xarray.DataArray or brainio assembly
    path : str or path-like
        Parent folders are created.
    compress : bool

    Returns
    -------
    str
        SHA-1 of the written file (the checksum brainio catalogs record).
    """
    data = as_plain(assembly)
    data.attrs = netcdf_attrs(data.attrs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        ds = data.to_dataset(name="data", promote_attrs=True)
        ds.to_netcdf(path, mode="w", encoding={"data": {"zlib": True, "complevel": 9}})
    else:
        data.to_netcdf(path, mode="w")
    return hashlib.sha1(path.read_bytes()).hexdigest()


def to_brainio(assembly: xr.DataArray, cls: str = "NeuroidAssembly"):
    """Wrap a DataArray as a brainio assembly class (brainio gathers the coords into MultiIndexes).

    Parameters
    ----------
    assembly : xarray.DataArray
    cls : str
        A class of ``brainio.assemblies``, e.g. ``"NeuroidAssembly"`` or ``"NeuronRecordingAssembly"``.

    Raises
    ------
    ModuleNotFoundError
        When brainio is not installed, with the command that installs it.
    """
    try:
        from brainio import assemblies
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"brainio is not installed ({exc.msg}); it is optional and must be installed without its "
            f"dependencies, which pin an old xarray: {BRAINIO_INSTALL}"
        ) from None
    allowed = sorted(n for n in dir(assemblies) if n.endswith("Assembly"))
    if cls not in allowed:
        raise AssemblyError(f"cls={cls!r} is not a brainio assembly class; allowed: {', '.join(allowed)}")
    return getattr(assemblies, cls)(as_plain(assembly))
