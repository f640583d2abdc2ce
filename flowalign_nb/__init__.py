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

import sys as _sys

from .moved import install as _install_moved_paths

_install_moved_paths(_sys.modules[__name__])

from .align.aligner import FlowAligner
from .analysis.compare import compare
from .analysis.decoding import decode, transfer_decode
from .analysis.layer_scan import layer_scan
from .analysis.predictivity import predictivity
from .analysis.rdms import rdm
from .analysis.rsa import rsa
from .analysis.similarity import cka, mutual_knn_alignment, shape_metric
from .align.baselines import ProcrustesAligner, RelativeAligner, RidgeAligner
from .data.model import (
    Latents,
    RepresentationError,
    as_representation,
    make_representation,
    mask_labels,
    train_test_split,
    validate,
)
from .tasks.sweep import sweep
from .tasks.task import Task, TaskData
from .hookspecs import hookimpl, hookspec
from .plugins import list_plugins, make, register_plugin, unregister_plugin
from .data.chunked import compute_representation, represent_chunked
from .data.represent import represent
from .report.render import report
from .tasks.synthetic import make_synthetic_pair

__version__ = "0.1.0"

__all__ = [
    "cka",
    "compare",
    "decode",
    "layer_scan",
    "predictivity",
    "rdm",
    "mutual_knn_alignment",
    "rsa",
    "shape_metric",
    "transfer_decode",
    "FlowAligner",
    "ProcrustesAligner",
    "RelativeAligner",
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
    "register_plugin",
    "unregister_plugin",
    "represent",
    "represent_chunked",
    "compute_representation",
    "report",
    "make_synthetic_pair",
    "sweep",
    "Task",
    "TaskData",
]
