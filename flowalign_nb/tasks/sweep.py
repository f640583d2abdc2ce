"""Tasks and label-fraction sweeps: the evaluation protocol of DESIGN.md as code.

A **task** (registered through ``flowalign_register_tasks``) bundles a source space, a target space
with its frozen downstream model, an end-to-end baseline and a ceiling. :func:`sweep` runs every
(fraction, seed, method) cell: mask ``fraction`` of the training items as labelled (stratified),
fit the method, transport the held-out source items and score them with the task's frozen model.

Methods are named ``"<coupling>"`` or ``"<coupling>+<bridge>"`` for flows (any registered names,
e.g. ``exemplar``, ``ot+prototype``), or one of ``ridge``, ``procrustes``, ``end_to_end`` and
``ceiling``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from ..align.aligner import FlowAligner
from ..align.baselines import ProcrustesAligner, RelativeAligner, RidgeAligner
from .cellstore import CellStore, cell_key
from ..data.model import labelled_mask, mask_labels
from ..plugins import get_registry
from ..runs.plots import figure_png, plot_images

LINEAR_BASELINES = {"ridge": RidgeAligner, "procrustes": ProcrustesAligner, "relative": RelativeAligner}
DEFAULT_METHODS = ("exemplar", "ot+prototype", "unbalanced+prototype", "ridge", "procrustes", "independent", "end_to_end", "ceiling")
DEFAULT_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


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


COLUMNS = ["task", "method", "fraction", "seed", "metric", "value", "seconds", "error"]


def cell_rows(task, name: str, data: TaskData, method: str, fraction: float, seed: int, flow_options: dict,
              images: bool = False) -> tuple[list[dict], bytes | None]:
    """Tidy rows of one cell, and with ``images`` a PNG of the task's images of its transported items.

    A cell that raises becomes one row with the error and no value (and no PNG).
    """
    base = dict(task=name, method=method, fraction=fraction, seed=seed)
    try:
        result, moved = run_cell(task, data, method, fraction, seed, flow_options, return_moved=True)
        rows = task_images(task, moved, data, name) if images and moved is not None else []
        png = figure_png(plot_images(rows)) if rows else None
    except Exception as exc:  # one failing cell must not stop the sweep
        return [dict(base, metric=task.metric, value=float("nan"), seconds=float("nan"), error=f"{type(exc).__name__}: {exc}")], None
    seconds = result.pop("seconds")
    return [dict(base, metric=metric, value=float(value), seconds=seconds, error="") for metric, value in result.items()], png


def _remote_cell(task, name, seed, fraction, method, flow_options, images):
    """Run one cell on a Dask worker (on that worker's device: CUDA when it has one); the PNG travels back."""
    if isinstance(task, str):
        task = get_registry("task").get(task).factory()
    return cell_rows(task, name, task.load(seed), method, fraction, seed, flow_options, images)


def sweep(task, fractions=DEFAULT_FRACTIONS, seeds=(0, 1, 2), methods=DEFAULT_METHODS, flow_options=None,
          progress=True, client=None, run_dir=None) -> pd.DataFrame:
    """Run every (seed, fraction, method) cell of a task, in-process or on Dask, resumably.

    Parameters
    ----------
    task : str or Task
        A registered task name or a task object.
    fractions : sequence of float in (0, 1]
    seeds : sequence of int
    methods : sequence of str
        See :func:`parse_method`.
    flow_options : dict, optional
        Passed to every :class:`~flowalign_nb.FlowAligner` (e.g. ``{"steps": 800}``).
    progress : bool
    client : dask.distributed.Client, optional
        Submit each cell as a Dask task (each lands on a worker and uses its device); without one,
        cells run in this process.
    run_dir : path, optional
        Write each finished cell there as it completes and skip cells already there (resume). For a
        task with :meth:`Task.report_images` (generation), each flow or linear cell also writes the
        images of its transported held-out items as ``images/<cell key>.png``.

    Returns
    -------
    pandas.DataFrame
        Tidy, in (seed, fraction, method) order: one row per cell and metric, columns ``task, method,
        fraction, seed, metric, value, seconds, error``. A cell that raised has one row with its
        ``error`` and a NaN value. ``ceiling`` rows do not depend on the fraction and are repeated.
    """
    name = task if isinstance(task, str) else type(task).__name__
    task_object = get_registry("task").get(task).factory() if isinstance(task, str) else task
    for method in methods:
        parse_method(method)
    bad = [f for f in fractions if isinstance(f, bool) or not isinstance(f, (int, float, np.floating)) or not 0 < f <= 1]
    if bad:
        raise ValueError(f"fractions {bad} are not allowed; each must be a number in (0, 1]")
    reserved = sorted({"seed", "coupling", "bridge"} & set(flow_options or {}))
    if reserved:
        raise ValueError(f"flow_options may not set {reserved}: the sweep sets them per cell (seeds, methods)")
    flow_options = {"progress": False, **(flow_options or {})}
    cells = {cell_key(seed, fraction, method): (seed, fraction, method) for seed in seeds for fraction in fractions for method in methods}
    store = None if run_dir is None else CellStore(run_dir, {"task": name, "flow_options": flow_options})
    results = {} if store is None else {k: v for k, v in store.finished().items() if k in cells}
    todo = [key for key in cells if key not in results]
    images = store is not None and type(task_object).report_images is not Task.report_images

    def finish(key, outcome):
        rows, png = outcome
        results[key] = rows
        if store is not None:
            store.write(key, rows)
            if png is not None:
                store.write_image(key, png)
        bar.update(1)

    with tqdm(total=len(cells), initial=len(results), desc=f"sweep {name}", disable=not progress) as bar:
        if client is None:
            loaded: dict[int, TaskData] = {}
            for key in todo:
                seed, fraction, method = cells[key]
                if seed not in loaded:
                    loaded = {seed: task_object.load(seed)}
                finish(key, cell_rows(task_object, name, loaded[seed], method, fraction, seed, flow_options, images))
        else:
            from distributed import as_completed

            futures = {client.submit(_remote_cell, task, name, *cells[key], flow_options, images, pure=False): key for key in todo}
            for future in as_completed(futures):
                finish(futures[future], future.result())
    return pd.DataFrame([row for key in cells for row in results[key]], columns=COLUMNS)


def summarise(table: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Mean and std over seeds of one metric: rows ``method``, columns ``(mean|std, fraction)``."""
    metric = metric or table["metric"].iloc[0]
    subset = table[table["metric"] == metric]
    return subset.groupby(["method", "fraction"], sort=False)["value"].agg(["mean", "std"]).unstack("fraction")


def labelled_items(rep: xr.DataArray) -> xr.DataArray:
    """The items of ``rep`` whose labels may be used (``is_labelled``)."""
    return rep.isel(presentation=np.flatnonzero(labelled_mask(rep)))
