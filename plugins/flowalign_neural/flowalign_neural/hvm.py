"""A real subset of the Majaj-Hong 2015 (HvM) IT responses: 640 images x 168 IT sites, read from a path the user gives.

The file (``it_responses.npy``, float32, shape (640, 168)) holds time- and trial-averaged responses of the
168 IT sites of HvM to 640 images: 16 objects x 40 images at one high variation level, in 16 consecutive
blocks of 40 rows, one object per block. Which block is which object is not stored, so the object label
is the block index (``object00`` ... ``object15``); there are no images, no image ids and no repetitions.
Its source (the psych253 course repository) has no licence file: it is not shipped with this package.

Where the folder is looked for: ``folder=`` if given, else ``$FLOWALIGN_HVM_IT``.

Cite: Majaj, Hong, Solomon & DiCarlo (2015), J Neurosci 35(39):13402-13418.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import xarray as xr

from flowalign_nb import make_representation

ENV_VAR = "FLOWALIGN_HVM_IT"
FILE = "it_responses.npy"
SHA256 = "ae08ace1e66d51b7fb7f352c2f74dee0fdae762a086d74bfce458f57d64b85ca"
SHAPE = (640, 168)
N_OBJECTS, IMAGES_PER_OBJECT = 16, 40


class HvMSubsetError(FileNotFoundError):
    """The HvM IT subset is not where it was looked for, or is not the expected file."""


def hvm_it_folder(folder=None) -> Path:
    """The folder holding ``it_responses.npy`` (see the module docstring for the order it is looked for in).

    Raises
    ------
    HvMSubsetError
        Naming every place looked at and how to point the loader at the file.
    """
    candidates = []
    if folder is not None:
        candidates.append((Path(folder).expanduser(), "folder="))
    elif os.environ.get(ENV_VAR):
        candidates.append((Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"))
    for path, _ in candidates:
        if (path / FILE).is_file():
            return path
    looked = "; ".join(f"{path} ({how})" for path, how in candidates) or f"nowhere (no folder= and no ${ENV_VAR})"
    raise HvMSubsetError(f"no HvM IT subset ({FILE}, 640 images x 168 sites) found; looked in {looked}. "
                         f"Pass folder= or set {ENV_VAR} to the folder holding {FILE}")


def load_hvm_it(folder=None, check: bool = True) -> xr.DataArray:
    """The 640 x 168 responses as a brainio-style assembly (a NeuroidAssembly's dims and coords).

    Parameters
    ----------
    folder : str, path-like or None
        See :func:`hvm_it_folder`.
    check : bool
        Verify the file's SHA-256 against the documented one.

    Returns
    -------
    xarray.DataArray, dims ("presentation", "neuroid"), shape (640, 168), float32
        Presentation coords ``stimulus_id`` (``hvm_it_000`` ... in file order), ``object_name`` and ``label``
        (the block index, ``object00`` ... ``object15``), ``is_labelled`` (False); neuroid coords
        ``neuroid_id`` (``it_site000`` ...) and ``region`` (``"IT"``); attrs ``modality``, ``source``, ``sha256``.

    Raises
    ------
    HvMSubsetError
        When the file is missing, has another hash, shape or dtype.
    """
    path = hvm_it_folder(folder) / FILE
    if check:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != SHA256:
            raise HvMSubsetError(f"{path} has SHA-256 {digest}, not the HvM subset's {SHA256}")
    values = np.load(path, allow_pickle=False)
    if values.shape != SHAPE or values.dtype != np.float32:
        raise HvMSubsetError(f"{path} holds {values.dtype} {values.shape}; the HvM subset is float32 {SHAPE}")
    objects = np.repeat([f"object{k:02d}" for k in range(N_OBJECTS)], IMAGES_PER_OBJECT)
    rep = make_representation(values, [f"hvm_it_{i:03d}" for i in range(SHAPE[0])], objects,
                              neuroid_id=[f"it_site{j:03d}" for j in range(SHAPE[1])],
                              modality="hvm_it", source="Majaj, Hong et al. 2015 (HvM), psych253 data_subset.npy",
                              sha256=SHA256)
    return rep.assign_coords(object_name=("presentation", objects), region=("neuroid", np.full(SHAPE[1], "IT")))


class HvMIT:
    """Modality ``hvm_it``: the real HvM IT subset (a recording: it returns its own 640 presentations).

    Parameters
    ----------
    folder : path or None
        See :func:`hvm_it_folder`.
    """

    def __init__(self, folder=None):
        self.folder = folder

    def represent(self, stimuli=None) -> xr.DataArray:
        """The 640 x 168 responses; ``stimuli`` (ignored: there are no images) may be None."""
        return load_hvm_it(self.folder)
