"""The main job on embedded defaults: both MNIST tasks at 10 % labels, in both alignment settings.

``mnist_effnet_to_cnn`` (recognition: EfficientNet-Lite0 features -> the MNIST CNN's space, scored
by the CNN's frozen head) and ``mnist_text_to_image`` (generation: MiniLM caption embeddings -> a
digit autoencoder's latent, decoded and scored by the MNIST CNN and a Frechet distance), each with
MNIST-5k split into 2,000 source, 2,000 target and 1,000 held-out images. Methods: the paper's two
settings, ``exemplar`` (labelled same-class pairs) and ``ot+prototype`` (exact OT on the prototype
bridge cost), against ``end_to_end`` (the source-side model trained on the labelled items only) and
the ``ceiling`` (the frozen downstream model on the target space's own held-out items). Both tasks
come from the ``flowalign_vision`` plugin; features are cached on disk after the first run.
"""

from __future__ import annotations

import pandas as pd

from .sweep import sweep

DEMO_TASKS = ("mnist_effnet_to_cnn", "mnist_text_to_image")
DEMO_METHODS = ("exemplar", "ot+prototype", "end_to_end", "ceiling")


def run_demo(task: str, fraction: float = 0.1, seeds=(0,), steps: int = 800, progress: bool = True) -> pd.DataFrame:
    """Sweep one registered task at one label ``fraction`` over ``seeds`` x :data:`DEMO_METHODS` (tidy table)."""
    return sweep(task, fractions=(fraction,), seeds=seeds, methods=DEMO_METHODS, flow_options={"steps": steps}, progress=progress)


#: what a column of the demo's tables means, shown when the column is there
METRIC_NOTES = {"frechet": "frechet: lower is better"}


def demo_legend(table: pd.DataFrame) -> str:
    """The note printed above a task's summary: what end_to_end is, and how to read the metrics it has."""
    notes = ["end_to_end: the source-side model trained on the labelled items only"]
    notes += [METRIC_NOTES[m] for m in table["metric"].unique() if m in METRIC_NOTES]
    return "; ".join(notes)


def demo_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method (in run order): the mean of every metric over seeds, then mean seconds per cell."""
    methods = table["method"].unique()
    summary = table.pivot_table(index="method", columns="metric", values="value", aggfunc="mean").loc[methods]
    summary = summary[table["metric"].unique()]
    summary["seconds"] = table.groupby("method")["seconds"].mean().loc[methods]
    summary.columns.name = None
    return summary
