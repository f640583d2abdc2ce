"""Recordings as modalities: an assembly becomes a representation (presentation x neuroid).

:func:`to_representation` selects a region and a time bin, averages the repetitions of each
stimulus and sets the ``label`` coord; :class:`Recording` is the modality protocol over any assembly
(``represent(stimuli)``, and ``repetitions()`` for noise ceilings); :class:`BrainioRecording` reads any
brainio assembly object or Brain-Score netCDF file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import pandas as pd
import xarray as xr

from flowalign_nb import as_representation

from .assemblies import AssemblyError, as_plain, open_assembly
from .repetitions import average_repetitions, stack_repetitions
from .selection import select_region, select_time_bin


def to_representation(assembly: xr.DataArray, region=None, time_bin="mean", label_coord: str | None = None,
                      **attrs) -> xr.DataArray:
    """A validated flowalign representation from a (brainio) assembly.

    Parameters
    ----------
    assembly : xarray.DataArray
        Dims ``presentation``, ``neuroid`` and optionally ``time_bin``; coords as in Brain-Score.
    region : str, sequence of str or None
        Keep these regions (``"IT"``, ``"V4"``); None keeps all neuroids.
    time_bin : "mean", int or (start, end)
        See :func:`flowalign_neural.selection.select_time_bin`.
    label_coord : str or None
        Presentation coord copied to ``label`` (e.g. ``"category_name"``); None leaves labels as they are.
    **attrs
        Added to the attrs (``modality``, ``model``, ...).

    Returns
    -------
    xarray.DataArray, dims ("presentation", "neuroid")
        One presentation per ``stimulus_id`` (repetitions averaged, their count in ``n_repetitions``).
    """
    data = as_plain(assembly)
    if region is not None:
        data = select_region(data, region)
    data = average_repetitions(select_time_bin(data, time_bin))
    if label_coord is not None:
        if label_coord not in data.coords:
            names = [c for c in data.coords if data[c].dims == ("presentation",)]
            raise AssemblyError(
                f"label_coord={label_coord!r} is not a presentation coord that is constant across repetitions; "
                f"allowed: {names}"
            )
        data = data.assign_coords(label=("presentation", data[label_coord].values))
    return as_representation(data.assign_attrs(**attrs))


def restrict(rep: xr.DataArray, stimuli) -> xr.DataArray:
    """The presentations of ``rep`` whose ``stimulus_id`` is in ``stimuli``, in that order.

    Parameters
    ----------
    rep : xarray.DataArray
    stimuli : pandas.DataFrame with a ``stimulus_id`` column, or None (keep all)
    """
    if stimuli is None:
        return rep
    if not isinstance(stimuli, pd.DataFrame) or "stimulus_id" not in stimuli:
        raise AssemblyError("stimuli must be a pandas.DataFrame with a 'stimulus_id' column, or None for all recorded stimuli")
    position = pd.Index(rep["stimulus_id"].values)
    wanted = stimuli["stimulus_id"].to_numpy()
    found = position.get_indexer(wanted)
    if (found < 0).any():
        missing = wanted[found < 0]
        raise AssemblyError(
            f"{len(missing)} stimulus id(s) were not recorded, first {missing[0]!r}; recorded ids look like "
            f"{position[:3].tolist()}"
        )
    return rep.isel(presentation=found)


class Recording(ABC):
    """A recorded (or simulated) assembly as a modality.

    Parameters
    ----------
    region : str, sequence of str or None
        Regions to keep (``"IT"``, ``"V4"``); None keeps all.
    time_bin : "mean", int or (start, end)
        Time-bin selection (see :func:`flowalign_neural.selection.select_time_bin`).
    label_coord : str or None
        Presentation coord used as ``label``.
    """

    modality = "recording"

    def __init__(self, region=None, time_bin="mean", label_coord: str | None = None):
        self.region, self.time_bin, self.label_coord = region, time_bin, label_coord

    @abstractmethod
    def load_assembly(self) -> xr.DataArray:
        """The whole assembly, every region, time bin and repetition."""

    @cached_property
    def assembly(self) -> xr.DataArray:
        """The whole assembly (loaded once)."""
        return self.load_assembly()

    def represent(self, stimuli=None) -> xr.DataArray:
        """The recorded responses as a representation, repetitions averaged.

        Parameters
        ----------
        stimuli : pandas.DataFrame or None
            Restrict to (and order by) these ``stimulus_id``; payload columns are ignored.

        Returns
        -------
        xarray.DataArray, dims ("presentation", "neuroid")
        """
        return restrict(self.representation(self.assembly), stimuli)

    def representation(self, assembly: xr.DataArray) -> xr.DataArray:
        """``assembly`` as a representation with this modality's region, time bin and labels."""
        return to_representation(assembly, self.region, self.time_bin, self.label_coord,
                                 modality=self.modality, model=str(assembly.attrs.get("identifier", self.modality)))

    def repetitions(self) -> xr.DataArray:
        """Responses per repetition, dims ``("repetition", "presentation", "neuroid")`` (NaN-padded).

        Same region, time bin and stimulus order as :meth:`represent` with ``stimuli=None``.
        """
        data = as_plain(self.assembly)
        if self.region is not None:
            data = select_region(data, self.region)
        return stack_repetitions(select_time_bin(data, self.time_bin))


class BrainioRecording(Recording):
    """A brainio assembly, in memory or in a Brain-Score netCDF file, as a modality (brainio not needed for files).

    Parameters
    ----------
    path : str, path-like or None
        A netCDF file written by brainio (or :func:`flowalign_neural.assemblies.write_assembly`).
    assembly : xarray.DataArray or None
        An assembly object instead of a file: a brainio ``NeuroidAssembly`` (MultiIndex coords) or
        a plain DataArray in its layout. Exactly one of ``path`` and ``assembly`` is given.
    region, time_bin, label_coord
        See :class:`Recording`.
    variable : str, optional
        Data variable, for files holding several.
    """

    modality = "brainio"

    def __init__(self, path=None, assembly: xr.DataArray | None = None, region=None, time_bin="mean",
                 label_coord: str | None = None, variable: str | None = None):
        if (path is None) == (assembly is None):
            raise AssemblyError("give exactly one of path= (a Brain-Score netCDF file) and assembly= (an assembly object)")
        super().__init__(region, time_bin, label_coord)
        self.path, self.source, self.variable = path, assembly, variable

    def load_assembly(self):
        return open_assembly(self.path, self.variable) if self.source is None else as_plain(self.source)
