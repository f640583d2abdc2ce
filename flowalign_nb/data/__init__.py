"""The representation model and its validation, label masks and splits, represent() with its feature cache, chunked extraction.

Until 0.1 ``flowalign_nb.data`` was the module now at :mod:`flowalign_nb.data.model`; its names are still
found here for one release, with a ``FutureWarning`` naming the new path.
"""

from ..moved import old_names_of

__getattr__ = old_names_of(__name__, "flowalign_nb.data.model")
