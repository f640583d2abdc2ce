"""The papermill report: its template notebook and the sections it renders.

Until 0.1 ``flowalign_nb.report`` was the module now at :mod:`flowalign_nb.report.render`; its names are still
found here for one release, with a ``FutureWarning`` naming the new path.
"""

from ..moved import old_names_of

__getattr__ = old_names_of(__name__, "flowalign_nb.report.render")
