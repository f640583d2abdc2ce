"""Majaj, Hong et al. (2015) V4 and IT multi-unit recordings, from a Brain-Score file the user supplies.

The public assembly (``dicarlo.MajajHong2015.public``) has 256 neuroids (88 V4 and 168 IT sites
of two monkeys), one 70-170 ms time bin and about 46 repetitions of each of 3,200 HvM images
(8 categories, ``category_name``; 64 objects, ``object_name``). It is not on PyPI and Brain-Score
serves it from S3 only, so it cannot be fetched here: the user points the modality at the file.

Cite: Majaj, Hong, Solomon & DiCarlo (2015), J Neurosci 35(39):13402-13418.
"""

from __future__ import annotations

import os
from pathlib import Path

from .assemblies import open_assembly
from .recording import Recording

ENV_VAR = "FLOWALIGN_MAJAJHONG2015"
S3_URL = "https://brainscore-storage.s3.amazonaws.com/brainio-brainscore/assy_dicarlo_MajajHong2015_public.nc"
HOW_TO_GET = (
    "The Majaj-Hong 2015 assembly is not shipped with any package and cannot be downloaded at run time. "
    "On a machine with internet access either download the public Brain-Score file\n"
    f"    {S3_URL}\n"
    "(Brain-Score's catalogue lists its SHA-1 as 13d28ca0ce88ee550b54db3004374ae19096e9b9), or, with "
    "brainscore-vision installed, write it out:\n"
    "    from brainscore_vision import load_dataset; from brainio.packaging import write_netcdf\n"
    "    write_netcdf(load_dataset('MajajHong2015.public'), 'MajajHong2015_public.nc')\n"
    f"then pass path='/path/to/file.nc' to the 'majajhong2015' modality or set {ENV_VAR}=/path/to/file.nc."
)


class MajajHongFileError(FileNotFoundError):
    """The Majaj-Hong 2015 file is missing; the message says how to obtain it."""


def majajhong_path(path=None) -> Path:
    """The Majaj-Hong file: ``path`` if given, else ``$FLOWALIGN_MAJAJHONG2015``.

    Raises
    ------
    MajajHongFileError
        When neither is set or the file does not exist, saying how to obtain it.
    """
    chosen = path if path is not None else os.environ.get(ENV_VAR)
    if not chosen:
        raise MajajHongFileError(f"no Majaj-Hong 2015 file given (path=None and {ENV_VAR} is not set). {HOW_TO_GET}")
    chosen = Path(chosen).expanduser()
    if not chosen.is_file():
        raise MajajHongFileError(f"no Majaj-Hong 2015 file at {chosen}. {HOW_TO_GET}")
    return chosen


class MajajHong2015(Recording):
    """The Majaj-Hong 2015 assembly as a modality.

    Parameters
    ----------
    path : str, path-like or None
        The netCDF file; None reads ``$FLOWALIGN_MAJAJHONG2015``.
    region : {"IT", "V4"}, a list of both, or None (all sites)
    time_bin : "mean", int or (start, end)
        The public file has one bin, (70, 170) ms.
    label_coord : str
        Presentation coord used as class label: ``"category_name"`` (8 categories) or ``"object_name"`` (64 objects).
    """

    modality = "majajhong2015"

    def __init__(self, path=None, region="IT", time_bin="mean", label_coord: str = "category_name"):
        super().__init__(region, time_bin, label_coord)
        self.path = majajhong_path(path)

    def load_assembly(self):
        return open_assembly(self.path)
