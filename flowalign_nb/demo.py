"""The main job on embedded defaults: a small label-fraction sweep of the built-in synthetic task.

Until the modality plugins land, the demo uses the ``synthetic`` task
(:class:`flowalign_nb.synthetic.SyntheticTask`): a 16-d source and a 24-d target space related by
an orthogonal embedding and a nonlinear warp, 5 classes, 2,000 unpaired training items per space.
Every method transports 500 held-out source items; the score is the share that the nearest target
class mean assigns to their own class. ``end_to_end`` is a tuned logistic regression trained on the
labelled source items only (the paper's comparator) and ``ceiling`` scores held-out target items.
"""

from __future__ import annotations

import pandas as pd

from .experiments import sweep

DEMO_METHODS = ("exemplar", "ot+prototype", "sinkhorn+prototype", "unbalanced+prototype", "ot+posterior",
                "independent", "ridge", "procrustes", "end_to_end", "ceiling")


def run_demo(fractions=(0.05,), seeds=(0,), steps: int = 800, progress: bool = True) -> pd.DataFrame:
    """Sweep the synthetic task over ``fractions`` x ``seeds`` x :data:`DEMO_METHODS` (tidy table)."""
    return sweep("synthetic", fractions=fractions, seeds=seeds, methods=DEMO_METHODS,
                 flow_options={"steps": steps}, progress=progress)
