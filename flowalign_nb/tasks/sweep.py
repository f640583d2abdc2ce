"""Label-fraction sweeps: every (seed, fraction, method) cell of a task, in process or on Dask, resumably.

:func:`sweep` runs the cells of :mod:`flowalign_nb.tasks.task` over the fractions, seeds and methods
asked for; with ``run_dir`` each finished cell is written to a resumable :class:`~.cellstore.CellStore`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..analysis.plots import figure_png, plot_images
from ..plugins import get_registry
from .cellstore import CellStore, cell_key
from .task import (
    Task,
    TaskData,
    parse_method,
    run_cell,
    task_images,
)

DEFAULT_METHODS = ("exemplar", "ot+prototype", "unbalanced+prototype", "ridge", "procrustes", "independent", "end_to_end", "ceiling")
DEFAULT_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


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
