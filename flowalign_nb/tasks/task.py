"""The Task protocol and one cell of the evaluation protocol (DESIGN.md): mask, fit, transport, score.

A **task** (registered through ``flowalign_register_tasks``) bundles a source space, a target space
with its frozen downstream model, an end-to-end baseline and a ceiling. :func:`run_cell` runs one
(method, fraction, seed) cell: mask ``fraction`` of the training items as labelled (stratified),
fit the method, transport the held-out source items and score them with the task's frozen model.

Methods are named ``"<coupling>"`` or ``"<coupling>+<bridge>"`` for flows (any registered names,
e.g. ``exemplar``, ``ot+prototype``), or one of the baselines ``ridge``, ``procrustes``, ``end_to_end`` and
``ceiling``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..align.aligner import FlowAligner
from ..align.baselines import ProcrustesAligner, RelativeAligner, RidgeAligner
from ..data.model import mask_labels
from ..plugins import get_registry

LINEAR_BASELINES = {"ridge": RidgeAligner, "procrustes": ProcrustesAligner, "relative": RelativeAligner}


@dataclass
class TaskData:
    """One seed's split of a task: disjoint source, target and held-out source items.

    Attributes
    ----------
    source, target : DataArray
        Training items of each space, with ground-truth ``label`` coords (masked by the sweep).
    source_test : DataArray
        Held-out source items to transport and score.
    extra : dict
        Whatever the task's scorers need (e.g. target test items, images).
    """

    source: xr.DataArray
    target: xr.DataArray
    source_test: xr.DataArray
    extra: dict = field(default_factory=dict)


class Task(ABC):
    """Base class of tasks. Scores are dicts ``{metric: value}``; the first metric is the headline."""

    #: headline metric name, higher is better
    metric = "accuracy"

    @abstractmethod
    def load(self, seed: int) -> TaskData:
        """The split for ``seed``."""

    @abstractmethod
    def score(self, moved: xr.DataArray, data: TaskData) -> dict:
        """Score transported held-out source items (target space) with the frozen downstream model."""

    @abstractmethod
    def end_to_end(self, source: xr.DataArray, data: TaskData) -> dict:
        """Train the source-side model on the labelled items of ``source`` only and score it on ``data.source_test``."""

    @abstractmethod
    def ceiling(self, data: TaskData) -> dict:
        """The downstream model on the target space's own held-out items."""

    def mask(self, data: "TaskData", fraction: float, seed: int) -> tuple[xr.DataArray, xr.DataArray]:
        """Source and target training items with ``fraction`` labelled, for one cell.

        The default is :func:`masked_pair` (stratified, per space). A task whose label fraction means
        something else (e.g. a fraction of the classes, the same classes in both spaces) overrides it.
        """
        return masked_pair(data, fraction, seed)

    def report_images(self, moved: xr.DataArray, data: TaskData) -> dict | None:
        """Images for the report of a fit, or None (the default: recognition tasks show none).

        A generation task returns ``{row title: images}`` with images of shape ``(n, h, w)`` (grey)
        or ``(n, h, w, 3)`` (RGB), e.g. the source stimuli and the target decoder's images of
        ``moved``, the transported ``data.source_test`` items. The fit run stores them and
        ``flowalign report`` shows them, one row per entry.
        """
        return None


def parse_method(method: str) -> dict:
    """``"ot+prototype"`` -> ``{"coupling": "ot", "bridge": "prototype"}``; baselines map to themselves.

    Raises
    ------
    ValueError
        Naming the bad method and the valid forms, with the registered couplings and bridges.
    """
    if method in LINEAR_BASELINES or method in ("end_to_end", "ceiling"):
        return {"baseline": method}
    coupling, _, bridge = method.partition("+")
    couplings, bridges = get_registry("coupling"), get_registry("bridge")
    if coupling not in couplings or (bridge and bridge not in bridges):
        raise ValueError(
            f"unknown method {method!r}; use 'coupling' or 'coupling+bridge' with couplings "
            f"{couplings.names()} and bridges {bridges.names()}, or one of "
            f"{sorted([*LINEAR_BASELINES, 'end_to_end', 'ceiling'])}"
        )
    return {"coupling": coupling, "bridge": bridge or None}


TARGET_LABEL_SEED_OFFSET = 1000


def masked_pair(data: TaskData, fraction: float, seed: int) -> tuple[xr.DataArray, xr.DataArray]:
    """Source and target training items with ``fraction`` labelled: seeds ``seed`` and ``seed + 1000``.

    Every method at the same fraction and seed sees the same labelled items.
    """
    return (mask_labels(data.source, fraction, seed=seed),
            mask_labels(data.target, fraction, seed=seed + TARGET_LABEL_SEED_OFFSET))


def run_cell(task: Task, data: TaskData, method: str, fraction: float, seed: int, flow_options: dict | None = None,
             return_moved: bool = False):
    """Fit and score one (method, fraction, seed) cell.

    Labels are masked by :meth:`Task.mask` (by default :func:`masked_pair`).

    Returns
    -------
    dict, or (dict, DataArray or None) with ``return_moved``
        The task's metrics plus ``seconds``; with ``return_moved`` also the transported held-out
        source items of a flow or linear method (None for ``end_to_end`` and ``ceiling``).
    """
    spec = parse_method(method)
    start = time.perf_counter()
    moved = None
    if spec.get("baseline") == "ceiling":
        scores = task.ceiling(data)
    else:
        src, tgt = task.mask(data, fraction, seed)
        if spec.get("baseline") == "end_to_end":
            scores = task.end_to_end(src, data)
        else:
            if spec.get("baseline") in LINEAR_BASELINES:
                aligner = LINEAR_BASELINES[spec["baseline"]]()
            else:
                aligner = FlowAligner(coupling=spec["coupling"], bridge=spec["bridge"], seed=seed, **(flow_options or {}))
            moved = aligner.fit(src, tgt).transform(data.source_test)
            scores = task.score(moved, data)
    result = {**scores, "seconds": time.perf_counter() - start}
    return (result, moved) if return_moved else result


def task_images(task: Task, moved: xr.DataArray, data: TaskData, name: str = "") -> list[tuple[str, np.ndarray]]:
    """The task's :meth:`Task.report_images` of ``moved``, checked, as ``[(title, images)]`` (empty for none).

    Raises
    ------
    TypeError, ValueError
        When the task returns something other than ``{title: (n, h, w) or (n, h, w, 3) array}`` or None.
    """
    images = task.report_images(moved, data)
    if images is None:
        return []
    if not isinstance(images, dict):
        raise TypeError(f"task {name!r}: report_images returned {type(images).__name__}; return a dict {{title: images}} or None")
    out = []
    for title, stack in images.items():
        stack = np.asarray(stack, dtype=np.float32)
        if not (stack.ndim == 3 or (stack.ndim == 4 and stack.shape[-1] == 3)) or len(stack) == 0:
            raise ValueError(f"task {name!r}: report_images[{title!r}] has shape {stack.shape}; use (n, h, w) or (n, h, w, 3), n >= 1")
        out.append((str(title), stack))
    return out
