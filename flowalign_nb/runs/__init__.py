"""Run folders on disk: fitted runs and sweeps, provenance, results, run figures.

Until 0.1 ``flowalign_nb.runs`` was the module now at :mod:`flowalign_nb.runs.folder`; its names are still
found here for one release, with a ``FutureWarning`` naming the new path.
"""

from ..moved import old_names_of

__getattr__ = old_names_of(__name__, "flowalign_nb.runs.folder")
