"""Representations of large stimulus sets, extracted lazily in chunks as dask-backed DataArrays.

:func:`represent_chunked` splits the stimulus table into chunks of ``chunk_size`` rows. Each chunk
becomes one dask task that runs the modality on those stimuli only, through the feature cache
(:func:`flowalign_nb.data.represent.cached_represent`), so each chunk is cached on its own and a
re-run, or an interrupted run resumed, extracts only the chunks not yet cached. Nothing is
extracted until the values are asked for; memory then holds the model, one chunk's inputs and
activations per dask worker thread, and the features (n_stimuli x n_neuroids), not the stimuli:
give images as ``pathlib.Path`` cells so the table itself stays small.

Compute with :func:`compute_representation` (tqdm progress per chunk) or any dask scheduler,
including a ``dask.distributed`` client (each chunk runs on a worker). :class:`~flowalign_nb.FlowAligner`
accepts the lazy representation as it is.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.dask import TqdmCallback

from .model import DIMS, RepresentationError
from ..plugins import make
from .represent import cached_represent, validate_stimuli


def _chunk_values(model, modality: str, stimuli: pd.DataFrame, options: dict, neuroid_id: np.ndarray) -> np.ndarray:
    """Values of one chunk, shape (len(stimuli), n_neuroids), checked against the first chunk's neuroids."""
    rep = cached_represent(model, modality, stimuli, options)
    if not np.array_equal(rep["neuroid_id"].values, neuroid_id):
        raise RepresentationError(
            f"modality {modality!r} gave other neuroids for stimuli {stimuli['stimulus_id'].iloc[0]!r}.. than for the "
            "first chunk; a chunked representation needs the same neuroids in every chunk"
        )
    return np.asarray(rep.values)


def represent_chunked(modality: str, stimuli: pd.DataFrame, *, chunk_size: int = 1000, **options) -> xr.DataArray:
    """A lazy, dask-backed representation of ``stimuli`` by a registered modality, one chunk per dask task.

    Parameters
    ----------
    modality : str
        A registered modality name, e.g. ``"mnist_cnn"``, ``"efficientnet_lite"``.
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)
        ``stimulus_id``, optional ``label`` and the payload column the modality reads.
    chunk_size : int
        Stimuli per chunk (per dask task and cache entry).
    **options
        The modality factory's options.

    Returns
    -------
    DataArray, dims ("presentation", "neuroid"), dask-backed with chunks (chunk_size, n_neuroids)
        Presentation coords from the table (``stimulus_id``, ``label``, ``is_labelled`` all False),
        neuroid coords and attrs from the first chunk, which is extracted (or read from the cache)
        now to learn them. Values equal those of :func:`flowalign_nb.data.represent` on the whole table.

    Raises
    ------
    ValueError
        For a ``chunk_size`` that is not a positive integer, or a bad stimulus table.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    validate_stimuli(stimuli)
    model = make("modality", modality, **options)
    starts = range(0, len(stimuli), int(chunk_size))
    chunks = [stimuli.iloc[start:start + chunk_size] for start in starts]
    first = cached_represent(model, modality, chunks[0], options)
    neuroid_id = first["neuroid_id"].values
    shared_model = dask.delayed(model, traverse=False)
    blocks = [da.from_delayed(dask.delayed(_chunk_values)(shared_model, modality, chunk, options, neuroid_id),
                              shape=(len(chunk), len(neuroid_id)), dtype=first.dtype)
              for chunk in chunks]
    coords = {name: ("neuroid", coord.values) for name, coord in first.coords.items() if coord.dims == ("neuroid",)}
    coords["stimulus_id"] = ("presentation", stimuli["stimulus_id"].to_numpy())
    coords["is_labelled"] = ("presentation", np.zeros(len(stimuli), bool))
    if "label" in stimuli.columns:
        coords["label"] = ("presentation", stimuli["label"].to_numpy())
    return xr.DataArray(da.concatenate(blocks), dims=DIMS, coords=coords, attrs=dict(first.attrs))


def compute_representation(rep: xr.DataArray, progress: bool = True) -> xr.DataArray:
    """Values of a dask-backed representation in memory (unchanged if it is in memory already).

    Parameters
    ----------
    rep : DataArray, dims ("presentation", "neuroid")
    progress : bool
        A tqdm.auto bar over the dask tasks (one per chunk) while computing.

    Returns
    -------
    DataArray, numpy-backed
    """
    if not isinstance(rep.data, da.Array):
        return rep
    if not progress:
        return rep.compute()
    with TqdmCallback(desc=f"{rep.attrs.get('modality', 'representation')} chunks"):
        return rep.compute()
