"""On-disk cache of representations (feature arrays) and other derived artefacts, keyed by content.

Files live under the user cache folder: ``$FLOWALIGN_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/flowalign_nb``, else ``~/.cache/flowalign_nb``. A key is the SHA-256 of a JSON
description (model, layer, options, ...) and of the stimulus content (every column of the stimulus
table: ids, labels and payloads such as image arrays, image files' bytes or texts), so a changed
pixel, caption or option gives a new key and a stale entry is never returned.

A representation is stored as one safetensors file (values) whose metadata holds its coords and
attrs as JSON, written atomically (temporary name, then rename) by :mod:`flowalign_nb.safeio`.
Nothing is pickled. A corrupted entry is reported with a warning and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .model import DIMS, validate
from ..safeio import SavedFileError, read_tensors, write_tensors

CACHE_ENV = "FLOWALIGN_CACHE_DIR"
FEATURES_FORMAT, FEATURES_VERSION = "flowalign_nb.features", 1


def cache_dir() -> Path:
    """The cache folder (not created here).

    Returns
    -------
    pathlib.Path
        ``$FLOWALIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/flowalign_nb``, else ``~/.cache/flowalign_nb``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "flowalign_nb"


def cache_path(kind: str, key: str, suffix: str = ".safetensors") -> Path:
    """Where the entry ``key`` of ``kind`` (``"features"``, ``"autoencoder"``, ...) is stored."""
    return cache_dir() / kind / key[:2] / f"{key}{suffix}"


#: a cache file's name: an optional prefix, a content key of 20 to 64 hex digits, suffixes
_ENTRY_NAME = re.compile(r"(?:[A-Za-z0-9_]+-)?[0-9a-f]{20,64}(?:\.[A-Za-z0-9_]+)*")


def cache_entries(kind: str | None = None) -> list[Path]:
    """The files of the cache (of one ``kind``, e.g. ``"features"``): those named by a content key.

    Anything else in the cache folder (a user's own files) is not an entry.

    Returns
    -------
    list of pathlib.Path, sorted
    """
    root = cache_dir() if kind is None else cache_dir() / kind
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent != cache_dir() and _ENTRY_NAME.fullmatch(p.name))


def clear_cache(kind: str | None = None) -> tuple[int, int]:
    """Remove the cache's files (:func:`cache_entries`), then the folders they leave empty.

    Parameters
    ----------
    kind : str, optional
        Only this part of the cache (``"features"``, ``"autoencoder"``, ``"simulated"``, ...).

    Returns
    -------
    (files, bytes) : tuple of int
        How many files were removed and their total size.
    """
    entries = cache_entries(kind)
    size = 0
    for path in entries:
        size += path.stat().st_size
        path.unlink()
    for folder in sorted({p.parent for p in entries} | {p.parent.parent for p in entries}, key=lambda f: -len(f.parts)):
        if folder != cache_dir() and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return len(entries), size


def _update(h, value) -> None:
    """Feed one stimulus-table cell into the hash ``h``, tagged by type so 1, "1" and 1.0 differ."""
    if isinstance(value, Path):
        h.update(b"file\0" + value.read_bytes())
    elif isinstance(value, np.ndarray) or hasattr(value, "__array_interface__"):  # arrays, PIL images
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype == object:
            raise TypeError(f"cannot hash an object array of shape {array.shape}; use numeric arrays")
        h.update(f"array\0{array.dtype.str}\0{array.shape}\0".encode() + array.tobytes())
    elif isinstance(value, (str, bytes)):
        data = value.encode() if isinstance(value, str) else value
        h.update(f"{type(value).__name__}\0{len(data)}\0".encode() + data)
    elif value is None or isinstance(value, (bool, int, float, np.generic)):
        h.update(f"{type(value).__name__}\0{value!r}\0".encode())
    else:
        raise TypeError(
            f"cannot hash a stimulus value of type {type(value).__name__}; allowed: numpy arrays, PIL images, "
            "pathlib.Path (hashed by file content), str, bytes, numbers, bool, None"
        )


def stimuli_digest(stimuli: pd.DataFrame) -> str:
    """SHA-256 of a stimulus table's content: every column (in name order) and every cell.

    ``pathlib.Path`` cells are hashed by the file's bytes, arrays by dtype, shape and bytes.

    Parameters
    ----------
    stimuli : pandas.DataFrame, shape (n_stimuli, n_columns)

    Returns
    -------
    str
        64 hex digits.
    """
    if not isinstance(stimuli, pd.DataFrame):
        raise TypeError(f"stimuli must be a pandas.DataFrame, got {type(stimuli).__name__}")
    h = hashlib.sha256(f"rows\0{len(stimuli)}\0".encode())
    for column in sorted(stimuli.columns, key=str):
        h.update(f"column\0{column}\0".encode())
        for value in stimuli[column].tolist():
            _update(h, value)
    return h.hexdigest()


def make_key(stimuli: pd.DataFrame | None = None, **fields) -> str:
    """Cache key of JSON-able ``fields`` (model, layer, options, ...) and, optionally, stimulus content.

    Returns
    -------
    str
        64 hex digits.
    """
    description = json.dumps(fields, sort_keys=True, default=str)
    content = "" if stimuli is None else stimuli_digest(stimuli)
    return hashlib.sha256(f"{description}\0{content}".encode()).hexdigest()


def _coord_record(coord: xr.DataArray) -> dict:
    values = coord.values
    dtype = values.dtype.str if values.dtype.kind in "biuf" else None
    return {"dim": coord.dims[0], "values": values.tolist(), "dtype": dtype}


def save_features(key: str, rep: xr.DataArray) -> Path:
    """Store a representation under ``key`` (atomic; safetensors values, coords and attrs as JSON).

    Parameters
    ----------
    key : str
    rep : DataArray, dims ("presentation", "neuroid")

    Returns
    -------
    pathlib.Path
        The file written.
    """
    validate(rep)
    coords = {name: _coord_record(c) for name, c in rep.coords.items() if c.dims in (("presentation",), ("neuroid",))}
    attrs = {str(k): v for k, v in json.loads(json.dumps(rep.attrs, default=str)).items()}
    header = {"format": FEATURES_FORMAT, "version": FEATURES_VERSION, "key": key, "coords": coords, "attrs": attrs}
    path = cache_path("features", key)
    write_tensors(path, {"values": torch.as_tensor(np.ascontiguousarray(rep.values))}, header)
    return path


def load_features(key: str) -> xr.DataArray | None:
    """The representation stored under ``key``, or ``None`` when there is none (or it is unreadable).

    Returns
    -------
    DataArray, dims ("presentation", "neuroid"), or None
    """
    path = cache_path("features", key)
    if not path.exists():
        return None
    try:
        tensors, header = read_tensors(path, FEATURES_FORMAT, FEATURES_VERSION)
        if header.get("key") != key:
            raise SavedFileError(f"{path}: holds key {header.get('key')!r}, not {key!r}")
        coords = {name: (c["dim"], np.asarray(c["values"], dtype=c["dtype"])) for name, c in header["coords"].items()}
        return validate(xr.DataArray(tensors["values"].numpy(), dims=DIMS, coords=coords, attrs=header["attrs"]))
    except (SavedFileError, KeyError, TypeError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable feature cache entry ({exc}); it will be recomputed", stacklevel=2)
        return None
