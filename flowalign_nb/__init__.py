"""flowalign_nb: align representations of models and brains with conditional flows.

Public API (held stable)::

    import flowalign_nb as fa
    fa.list_plugins()
    fa.make("coupling", "ot", **options)
    fa.mask_labels(rep, fraction=0.1, seed=0)
    al = fa.FlowAligner(coupling="exemplar").fit(src, tgt)
    moved = al.transform(src_test)
    al.save(path); fa.FlowAligner.load(path)
"""

from .aligner import FlowAligner
from .baselines import ProcrustesAligner, RidgeAligner
from .data import (
    Latents,
    RepresentationError,
    as_representation,
    make_representation,
    mask_labels,
    train_test_split,
    validate,
)
from .experiments import Task, TaskData, sweep
from .hookspecs import hookimpl, hookspec
from .plugins import list_plugins, make
from .synthetic import make_synthetic_pair

__version__ = "0.1.0"

__all__ = [
    "FlowAligner",
    "ProcrustesAligner",
    "RidgeAligner",
    "Latents",
    "RepresentationError",
    "as_representation",
    "make_representation",
    "mask_labels",
    "train_test_split",
    "validate",
    "hookimpl",
    "hookspec",
    "list_plugins",
    "make",
    "make_synthetic_pair",
    "sweep",
    "Task",
    "TaskData",
]
