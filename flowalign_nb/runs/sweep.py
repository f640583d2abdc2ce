"""A finished sweep saved as a run folder, with chosen cells fitted again in detail.

The folder layout is described in :mod:`flowalign_nb.runs.folder`. The sweep itself comes from
:func:`flowalign_nb.sweep`; :func:`save_sweep_run` adds the config, the CSV/netCDF/figure of
:func:`flowalign_nb.runs.results.save_sweep`, fit folders of chosen cells (which reproduce those cells'
scores: same masks and seeds) and the provenance record. Files are written one by one with the
atomic helpers of :mod:`flowalign_nb.safeio`, into a folder that may already hold the sweep's
finished cells (``sweep(..., run_dir=...)``); ``provenance.json`` comes last and records only the
files of this run.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd

from ..devices import resolve_device
from ..tasks.cellstore import cell_key
from ..tasks.sweep import COLUMNS
from ..tasks.task import TARGET_LABEL_SEED_OFFSET, parse_method
from .fit import check_options, data_representations, fit_run, modality_record
from ..plugins import make
from .provenance import describe_representations, recording_inputs, write_provenance
from .results import save_sweep
from .folder import RUN_FILE, RUN_FORMAT, RUN_VERSION
from ..safeio import write_json


def best_flow_cell(table: pd.DataFrame) -> tuple[str, float, int]:
    """The flow method with the best mean headline score at the smallest label fraction.

    Parameters
    ----------
    table : pandas.DataFrame
        A tidy sweep table (:func:`flowalign_nb.sweep`); the headline metric is its first.

    Returns
    -------
    (method, fraction, seed)
        ``seed`` is the first seed of the sweep.

    Raises
    ------
    ValueError
        If the sweep has no flow method with a score.
    """
    metric, fraction = table["metric"].iloc[0], table["fraction"].min()
    rows = table[(table["metric"] == metric) & (table["fraction"] == fraction) & table["value"].notna()]
    flows = rows[["baseline" not in parse_method(m) for m in rows["method"]]]
    if flows.empty:
        raise ValueError(f"the sweep has no flow method with a {metric!r} score at fraction {fraction}; "
                         f"methods: {sorted(table['method'].unique())}")
    method = flows.groupby("method")["value"].mean().idxmax()
    return method, float(fraction), int(table["seed"].iloc[0])


def save_sweep_run(table: pd.DataFrame, output, *, command: list[str], started: str, task_options=None,
                   flow_options=None, fits=(), progress: bool = False) -> Path:
    """Save a finished sweep of one registered task as a run folder.

    Parameters
    ----------
    table : pandas.DataFrame
        What :func:`flowalign_nb.sweep` returned for a task given by its registered name.
    output : path
        The run folder (created if needed; may hold the sweep's ``sweep.json`` and ``cells/``).
    command : list of str
        The command that ran the sweep, without ``--output`` (the report adds one), e.g.
        ``["flowalign", "demo", "--steps", "800"]``.
    started : str
        When the sweep started (:func:`flowalign_nb.runs.provenance.now`).
    task_options, flow_options : dict, optional
        As given to the task factory and the sweep.
    fits : sequence of (method, fraction, seed)
        Flow cells to fit again in detail into ``fits/<cell key>/`` (:func:`flowalign_nb.runs.fit.fit_run`).
    progress : bool

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    ValueError
        For a table of several tasks, or without the sweep's columns.
    flowalign_nb.registry.UnknownNameError
        When the task is not registered (a run must be reproducible by name).
    """
    if list(table.columns) != COLUMNS or table.empty:
        raise ValueError(f"table must be a non-empty sweep table with columns {COLUMNS}; got columns {list(table.columns)}")
    tasks = table["task"].unique().tolist()
    if len(tasks) != 1:
        raise ValueError(f"a sweep run holds one task; the table has {tasks}")
    task_options, flow_options = check_options("task_options", task_options), check_options("flow_options", flow_options)
    flow_options.pop("progress", None)
    task_object = make("task", tasks[0], **task_options)
    seeds = [int(s) for s in pd.unique(table["seed"])]
    with recording_inputs() as inputs:
        loaded = {seed: task_object.load(seed) for seed in seeds}
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    fit_dirs = []
    for method, fraction, seed in fits:
        fit_dirs.append(f"fits/{cell_key(seed, fraction, method)}")
        fit_run(tasks[0], method, fraction, seed, output / fit_dirs[-1], task_options=task_options,
                flow_options=flow_options, progress=progress)
    paths = save_sweep(table, output)
    first = loaded[seeds[0]]
    write_json(output / RUN_FILE, {
        "format": RUN_FORMAT, "version": RUN_VERSION, "kind": "sweep", "task": tasks[0], "task_options": task_options,
        "metric": task_object.metric, "flow_options": flow_options,
        "methods": pd.unique(table["method"]).tolist(), "fractions": [float(f) for f in pd.unique(table["fraction"])],
        "seeds": seeds, "fits": fit_dirs, "command": list(command),
        "modalities": {"source": modality_record(first.source), "target": modality_record(first.target)},
    })
    written = [RUN_FILE, *(p.name for p in (paths["csv"], paths["netcdf"], *paths["figures"])), *fit_dirs]
    written += [name for name in ("sweep.json", "cells", "images") if (output / name).exists()]
    representations = {k: v for seed, data in loaded.items() for k, v in data_representations(data, f"seed{seed}/").items()}
    write_provenance(output, inputs=inputs, representations=describe_representations(representations),
                     device=resolve_device(flow_options.get("device")), started=started, command=shlex.join(command),
                     seeds={"splits": seeds, "source_labels": seeds, "target_labels": [s + TARGET_LABEL_SEED_OFFSET for s in seeds], "flow": seeds},
                     include=written)
    return output
