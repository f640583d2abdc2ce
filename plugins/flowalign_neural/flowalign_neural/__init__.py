"""flowalign_nb plugin for biological neural recordings (brainio assemblies, Kriegeskorte 92-image IT, simulated populations).

brainio (``brainscore-brainio``) is optional: every file here reads and writes Brain-Score netCDF
assemblies without it, and :func:`to_brainio` uses it when it is installed (``--no-deps``).
"""

from .assemblies import AssemblyError, as_plain, open_assembly, to_brainio, write_assembly
from .hvm import HvMSubsetError, hvm_it_folder, load_hvm_it
from .kriegeskorte import Kriegeskorte92, load_kriegeskorte92
from .majajhong import MajajHongFileError
from .mds import classical_mds
from .recording import to_representation
from .repetitions import average_repetitions, split_half_reliability, stack_repetitions
from .selection import select_region, select_time_bin
from .simulated import mnist_stimuli, simulate_population

__all__ = [
    "AssemblyError",
    "HvMSubsetError",
    "Kriegeskorte92",
    "MajajHongFileError",
    "as_plain",
    "average_repetitions",
    "classical_mds",
    "hvm_it_folder",
    "load_hvm_it",
    "load_kriegeskorte92",
    "mnist_stimuli",
    "open_assembly",
    "select_region",
    "select_time_bin",
    "simulate_population",
    "split_half_reliability",
    "stack_repetitions",
    "to_brainio",
    "to_representation",
    "write_assembly",
]
