"""The main job on embedded defaults: align a synthetic pair of spaces with every method and score it.

Until the modality plugins land, the demo uses the built-in synthetic task
(:func:`flowalign_nb.make_synthetic_pair`): a 16-d source and a 24-d target space related by an
orthogonal embedding and a nonlinear warp, 5 classes, 2,000 training items per space, a label
fraction of 5 %. Each method transports 500 held-out source items; the score is the share assigned
to their own class by the nearest target class mean. ``end_to_end`` is a logistic regression trained
on the labelled source items (the paper's comparator) and ``ceiling`` scores held-out target items.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from .aligner import FlowAligner
from .analysis.downstream import nearest_class_mean_accuracy
from .baselines import ProcrustesAligner, RidgeAligner
from .data import labelled_mask, mask_labels
from .synthetic import make_synthetic_pair

FLOW_METHODS = {
    "exemplar": dict(coupling="exemplar"),
    "ot+prototype": dict(coupling="ot", bridge="prototype"),
    "sinkhorn+prototype": dict(coupling="sinkhorn", bridge="prototype"),
    "unbalanced+prototype": dict(coupling="unbalanced", bridge="prototype"),
    "ot+posterior": dict(coupling="ot", bridge="posterior"),
    "independent": dict(coupling="independent"),
}


def run_demo(fraction: float = 0.05, seeds=(0,), steps: int = 800, progress: bool = True) -> pd.DataFrame:
    """Score every method on the synthetic task.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, seed, fraction, accuracy, seconds``.
    """
    rows = []
    for seed in seeds:
        pair = make_synthetic_pair(seed=seed)
        src = mask_labels(pair.source, fraction, seed=seed)
        tgt = mask_labels(pair.target, fraction, seed=seed + 1000)

        def record(method, fn):
            start = time.perf_counter()
            accuracy = fn()
            rows.append(dict(method=method, seed=seed, fraction=fraction, accuracy=accuracy, seconds=time.perf_counter() - start))

        for method, options in FLOW_METHODS.items():
            record(method, lambda o=options: nearest_class_mean_accuracy(
                FlowAligner(steps=steps, seed=seed, progress=progress, **o).fit(src, tgt).transform(pair.source_test), pair.target))
        record("ridge", lambda: nearest_class_mean_accuracy(RidgeAligner().fit(src, tgt).transform(pair.source_test), pair.target))
        record("procrustes", lambda: nearest_class_mean_accuracy(ProcrustesAligner().fit(src, tgt).transform(pair.source_test), pair.target))
        record("end_to_end", lambda: _end_to_end(src, pair.source_test))
        record("ceiling", lambda: nearest_class_mean_accuracy(pair.target_test, pair.target))
    return pd.DataFrame(rows)


def _end_to_end(source, source_test) -> float:
    """Logistic regression on the labelled source items, scored on held-out source items."""
    known = labelled_mask(source)
    clf = LogisticRegression(max_iter=2000).fit(source.values[known], source["label"].values[known])
    return float(np.mean(clf.predict(source_test.values) == source_test["label"].values))
