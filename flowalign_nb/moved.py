"""Module paths of the flat 0.1 layout, kept for one release: importing one warns and gives the new module.

The core now has one sub-package per layer (``data``, ``transport``, ``flow``, ``align``, ``analysis``,
``tasks``, ``runs``, ``report``, ``widgets``). ``import flowalign_nb.couplings`` still works: a meta-path
finder answers for every old path with a module that holds the new module's names and warns
(``FutureWarning``) with the path to use. ``flowalign_nb.data`` is a package now; its old names are
forwarded, with the same warning, by :mod:`flowalign_nb.data`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED = {
    "flowalign_nb.aligner": "flowalign_nb.align.aligner",
    "flowalign_nb.baselines": "flowalign_nb.align.baselines",
    "flowalign_nb.blocks": "flowalign_nb.transport.blocks",
    "flowalign_nb.bridges": "flowalign_nb.transport.bridges",
    "flowalign_nb.cache": "flowalign_nb.data.cache",
    "flowalign_nb.cellstore": "flowalign_nb.tasks.cellstore",
    "flowalign_nb.chunked": "flowalign_nb.data.chunked",
    "flowalign_nb.couplings": "flowalign_nb.transport.couplings",
    "flowalign_nb.demo": "flowalign_nb.tasks.demo",
    "flowalign_nb.experiments": "flowalign_nb.tasks.sweep",
    "flowalign_nb.fitrun": "flowalign_nb.runs.fit",
    "flowalign_nb.modality_pair": "flowalign_nb.tasks.modality_pair",
    "flowalign_nb.provenance": "flowalign_nb.runs.provenance",
    "flowalign_nb.reportview": "flowalign_nb.report.sections",
    "flowalign_nb.represent": "flowalign_nb.data.represent",
    "flowalign_nb.resources": "flowalign_nb.transport.resources",
    "flowalign_nb.results": "flowalign_nb.runs.results",
    "flowalign_nb.runplots": "flowalign_nb.runs.plots",
    "flowalign_nb.sweeprun": "flowalign_nb.runs.sweep",
    "flowalign_nb.synthetic": "flowalign_nb.tasks.synthetic",
}


def warn_moved(old: str, new: str) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (both dotted paths)."""
    warnings.warn(f"{old} has moved to {new}; import it from there (the old path goes in the next release)",
                  FutureWarning, stacklevel=3)


def old_names_of(package: str, module: str):
    """A module ``__getattr__`` (PEP 562) for ``package``, a module until 0.1 and now a package.

    Names of ``module`` (where the old module's code now lives) are returned with a ``FutureWarning``
    naming their new path; other names raise ``AttributeError``, so sub-modules import as usual.
    """

    def __getattr__(name):
        moved_module = importlib.import_module(module)
        if name.startswith("__") or not hasattr(moved_module, name):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        warn_moved(f"{package}.{name}", f"{module}.{name}")
        return getattr(moved_module, name)

    return __getattr__


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old module paths of :data:`MOVED` and loads each as an alias of its new module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        new = importlib.import_module(MOVED[module.__name__])
        warn_moved(module.__name__, new.__name__)
        module.__dict__.update({k: v for k, v in vars(new).items() if not k.startswith("__")})
        module.__doc__ = f"Deprecated alias of :mod:`{new.__name__}`."


class Package(types.ModuleType):
    """The ``flowalign_nb`` module: importing an old path whose name is also a public function
    (``flowalign_nb.represent``, ``flowalign_nb.report``) must not replace the function."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and value.__name__ in MOVED and callable(self.__dict__.get(name)):
            return
        super().__setattr__(name, value)


def install(package: types.ModuleType) -> None:
    """Put the finder first on ``sys.meta_path`` (once) and guard ``package``'s public functions."""
    package.__class__ = Package
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
